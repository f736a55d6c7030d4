"""Browser tests: Playwright for Python driving Debian's /usr/bin/chromium (never a downloaded
browser) against pytest-django's live server. Screenshots go to test-output/screenshots/."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User

# Imported, not importorskip'd: a missing Playwright must fail the run, not skip the browser tests.
from playwright import sync_api as playwright_sync

from accounts.models import Membership, Project, Role
from accounts.services.robots import create_robot
from tests.conftest import PASSWORD, PushedImage, PushImage
from tests.registry_ui.conftest import CONFIG

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator["playwright_sync.Browser"]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous calls, so Django's guard is lifted here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def registry(transactional_db: None, admin_user: User, push_image: PushImage) -> PushedImage:
    """alice administers the private project `team`, which holds `team/app:1.0` and a second repository."""
    team = Project.objects.create(name="team")
    Project.objects.create(name="public-tools", public=True)
    alice = User.objects.create_user("alice", password=PASSWORD, email="alice@example.lan")
    bob = User.objects.create_user("bob", password=PASSWORD)
    Membership.objects.create(project=team, user=alice, role=Role.ADMIN)
    Membership.objects.create(project=team, user=bob, role=Role.DEVELOPER)
    create_robot(team, "ci", description="builds on main", can_push=True)
    push_image("team/web", "stable")
    return push_image("team/app", "1.0", layers=(b"base layer bytes" * 1000, b"app layer"), config=CONFIG)

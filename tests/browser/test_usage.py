"""Quotas and usage over time in a real browser: an administrator sets a quota on the Projects
page, the home and project pages show the bar, and the Usage tab charts 90 days of snapshots."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Membership, Project, Role
from tests.browser.test_dashboard import LAPTOP, PHONE, log_in
from tests.conftest import PASSWORD, PushImage
from v2api.models import ProjectUsageSnapshot
from v2api.services.usage import project_usage

pytestmark = pytest.mark.django_db(transaction=True)
MIB = 1024**2


@pytest.fixture
def projects(transactional_db: None, admin_user: User, push_image: PushImage) -> None:
    """`team` (alice administers it) holds two images and 60 days of growing snapshots; `ops` has no quota."""
    team = Project.objects.create(name="team")
    Project.objects.create(name="ops", public=True)
    alice = User.objects.create_user("alice", password=PASSWORD)
    Membership.objects.create(project=team, user=alice, role=Role.ADMIN)
    push_image("team/app", "1.0", layers=(b"a" * 700_000, b"app layer"))
    push_image("team/web", "stable", layers=(b"w" * 200_000,))
    push_image("ops/tools", "1", layers=(b"t" * 50_000,))
    today = timezone.localdate()
    current = project_usage("team").total_bytes
    for days_ago in range(60, -1, -1):
        if days_ago in (20, 21, 35):
            continue  # days the beat scheduler was down leave gaps, not fake points
        ProjectUsageSnapshot.objects.create(
            project=team,
            date=today - timedelta(days=days_ago),
            total_bytes=max(current - days_ago * 12_000 - (90_000 if days_ago > 30 else 0), 0),
            repository_count=1 if days_ago > 30 else 2,
            tag_count=3 if days_ago > 30 else 5,
        )


def test_an_administrator_sets_a_quota_and_the_usage_tab_charts_the_history(
    browser: Any, live_server: Any, projects: None, screenshot_dir: Path
) -> None:
    base = live_server.url
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        log_in(page, base, "root")
        page.goto(base + "/admin/projects/")
        page.get_by_label("Quota of team").fill("1 MiB")
        page.get_by_label("Quota of team").press("Enter")
        page.wait_for_url(base + "/admin/projects/")
        assert page.get_by_text("Project team is now limited to 1.0\xa0MiB.").is_visible()
        assert Project.objects.get(name="team").quota_bytes == MIB
        page.screenshot(path=screenshot_dir / "30-admin-projects-quota.png", full_page=True)

        page.goto(base + "/")
        meter = page.get_by_role("meter", name="Quota used")
        assert meter.count() == 1
        assert str(meter.get_attribute("aria-valuetext")).endswith(" of 1.0\xa0MiB")
        page.screenshot(path=screenshot_dir / "31-home-quota.png", full_page=True)

        page.goto(base + "/projects/team/")
        assert page.get_by_role("meter", name="Quota used").is_visible()
        page.screenshot(path=screenshot_dir / "32-project-quota.png", full_page=True)

        page.get_by_role("link", name="Usage", exact=True).click()
        page.wait_for_url(base + "/projects/team/usage/")
        chart = page.get_by_role("img", name="Disk used by team each day over the last 90 days")
        assert chart.is_visible()
        assert page.locator("svg.usage-chart circle.dot").count() == 58
        assert page.locator("svg.usage-chart .quota-line").count() == 1
        assert page.locator("table tbody tr").count() == 58
        page.screenshot(path=screenshot_dir / "33-project-usage.png", full_page=True)
    finally:
        context.close()


def test_on_a_phone_the_usage_tab_fits(browser: Any, live_server: Any, projects: None, screenshot_dir: Path) -> None:
    Project.objects.filter(name="team").update(quota_bytes=MIB)
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        page.goto(live_server.url + "/projects/team/usage/")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=screenshot_dir / "34-phone-project-usage.png", full_page=True)
    finally:
        context.close()

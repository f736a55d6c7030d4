"""The tag table in Chromium: every Copy button and the Pull column stay in view, at 1400 px and on
a phone, with names as long as real ones."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from accounts.models import Membership, Project, Role
from tests.browser.test_dashboard import PHONE, log_in
from tests.conftest import PASSWORD, PushImage

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1400, "height": 900}
REPOSITORY = "team/platform/payments-gateway-service"
TAGS = ("release-2024.05.01-hotfix-2", "1.24.3-alpine3.19-amd64")


@pytest.fixture
def long_names(transactional_db: None, admin_user: User, push_image: PushImage, settings: Any) -> None:
    settings.REGISTRY_PUBLIC_URL = "https://registry.build-farm.example.lan:5000"
    team = Project.objects.create(name="team")
    maya = User.objects.create_user("maya", password=PASSWORD)
    Membership.objects.create(project=team, user=maya, role=Role.MAINTAINER)
    for number, tag in enumerate(TAGS):
        push_image(REPOSITORY, tag, layers=(f"layer {number}".encode(),))


def overflowing_controls(page: Any) -> list[str]:
    """The copy buttons and pull cells that end outside the table's visible box."""
    return page.evaluate(
        """() => {
            const box = document.querySelector('.table-wrap').getBoundingClientRect();
            const right = Math.min(box.right, document.documentElement.clientWidth);
            return [...document.querySelectorAll('.table-wrap td.pull-cell, .table-wrap td.pull-cell .copy-button')]
              .filter(element => element.offsetParent !== null)
              .filter(element => element.getBoundingClientRect().right > right + 0.5)
              .map(element => `${element.textContent.trim().slice(0, 40)}
                                  ends at ${element.getBoundingClientRect().right} > ${right}`);
        }"""
    )


@pytest.mark.parametrize("viewport, javascript", [(DESKTOP, True), (PHONE, False)], ids=["desktop", "phone"])
def test_every_copy_button_and_the_pull_column_stay_in_view(
    browser: Any, live_server: Any, long_names: None, screenshot_dir: Path, viewport: dict[str, int], javascript: bool
) -> None:
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript, is_mobile=viewport == PHONE)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "maya")
        page.goto(f"{live_server.url}/repositories/{REPOSITORY}/")
        name = "desktop" if viewport == DESKTOP else "phone"
        page.screenshot(path=screenshot_dir / f"40-tag-table-{name}.png", full_page=True)

        assert overflowing_controls(page) == []
        command = page.get_by_text(f"docker pull registry.build-farm.example.lan:5000/{REPOSITORY}:{TAGS[1]}")
        assert command.is_visible() and command.bounding_box()["width"] > 120
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    finally:
        context.close()

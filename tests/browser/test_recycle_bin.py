"""The recycle bin tab in Chromium, with screenshots at desktop and phone widths: what a project
deleted, restored with one click, and deleted permanently after the browser's confirmation."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import LAPTOP, PHONE, log_in
from tests.conftest import PushedImage
from v2api.models import Tag
from v2api.services.deletion import execute_deletion

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deleted(registry: PushedImage, settings: Any) -> PushedImage:
    """team/app:1.0 untagged and the whole of team/web deleted, both in the bin."""
    settings.REGISTRY_RECYCLE_SECONDS = 24 * 3600
    execute_deletion("team/app", tags=["1.0"])
    execute_deletion("team/web", whole_repository=True)
    return registry


def test_a_project_admin_restores_a_tag_from_the_recycle_bin(
    browser: Any, live_server: Any, deleted: PushedImage, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        page.goto(live_server.url + "/projects/team/")
        page.get_by_role("link", name="Recycle bin").click()
        rows = page.locator("table.recycle-bin tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("team/web")
        expect(page.get_by_text("In the recycle bin:")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
        page.screenshot(path=screenshot_dir / "60-recycle-bin.png", full_page=True)

        rows.filter(has_text="team/app").get_by_role("button", name="Restore").click()

        expect(page.get_by_text("Restored in team/app: 1.0.")).to_be_visible()
        expect(page.locator("table.recycle-bin tbody tr")).to_have_count(1)
        assert Tag.objects.get(repository__name="team/app", name="1.0").manifest.digest == deleted.digest
        page.screenshot(path=screenshot_dir / "61-recycle-bin-restored.png", full_page=True)
    finally:
        context.close()


def test_on_a_phone_the_bin_fits_and_deletes_permanently_after_confirming(
    browser: Any, live_server: Any, deleted: PushedImage, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        page.goto(live_server.url + "/projects/team/recycle-bin/")
        expect(page.get_by_role("button", name="Delete permanently")).to_have_count(2)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=screenshot_dir / "62-recycle-bin-phone.png", full_page=True)

        messages: list[str] = []
        page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
        page.locator("table.recycle-bin tbody tr").filter(has_text="team/web").get_by_role(
            "button", name="Delete permanently"
        ).click()

        expect(page.get_by_text("Deleted permanently: the next garbage collection frees")).to_be_visible()
        assert messages and messages[0].startswith("Delete permanently? It can no longer be restored")
        expect(page.locator("table.recycle-bin tbody tr")).to_have_count(1)
        page.screenshot(path=screenshot_dir / "63-recycle-bin-phone-deleted.png", full_page=True)
    finally:
        context.close()

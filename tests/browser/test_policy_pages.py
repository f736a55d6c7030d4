"""The policy pages in Chromium, with screenshots: a public project browsed without logging in,
the immutable tags tab, personal access tokens, and the garbage collection page."""

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import LAPTOP, log_in
from tests.conftest import PushedImage, PushImage

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_anonymous_visitor_browses_a_public_project_read_only(
    browser: Any, live_server: Any, registry: PushedImage, push_image: PushImage, screenshot_dir: Path
) -> None:
    push_image("public-tools/lint", "2.1", layers=(b"linter",))
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        expect(page.get_by_role("link", name="team", exact=True)).to_have_count(0)
        page.get_by_role("link", name="public-tools", exact=True).click()
        page.get_by_role("link", name="public-tools/lint").click()
        expect(page.get_by_text("docker pull", exact=False).first).to_be_visible()
        expect(page.get_by_role("button", name="Untag selected")).to_have_count(0)
        page.screenshot(path=screenshot_dir / "45-anonymous-public-repository.png", full_page=True)
        page.goto(live_server.url + "/repositories/team/app/")
        expect(page).to_have_url(re.compile(r"/login/\?next="))
    finally:
        context.close()


def test_an_admin_makes_tags_immutable_makes_a_token_and_reads_the_collection_page(
    browser: Any, live_server: Any, registry: PushedImage, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        page.goto(live_server.url + "/projects/team/")
        page.get_by_role("link", name="Immutable tags").click()
        page.get_by_text("Add a rule").click()
        page.get_by_label("Tags").fill("v*.*.*, release-*")
        page.get_by_role("button", name="Add rule").click()
        expect(page.get_by_text("Tags v*.*.*,release-* are immutable from now on.")).to_be_visible()
        page.screenshot(path=screenshot_dir / "46-immutable-tags.png", full_page=True)

        page.get_by_role("link", name="Access tokens").click()
        page.get_by_label("Name", exact=True).fill("laptop")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_text("Store the secret now")).to_be_visible()
        assert page.locator(".secret code").text_content().startswith("hl_pat_")
        page.screenshot(path=screenshot_dir / "47-token-created.png", full_page=True)
        page.get_by_role("link", name="Back to your tokens").click()
        page.screenshot(path=screenshot_dir / "48-tokens.png", full_page=True)
        page.get_by_role("button", name="Log out").click()

        log_in(page, live_server.url, "root")
        page.get_by_role("link", name="Garbage collection").click()
        expect(page.get_by_text("Waiting for the grace window")).to_be_visible()
        page.get_by_label("Shorter grace window (minutes)").fill("0")
        page.get_by_role("button", name="Start garbage collection").click()
        expect(page.get_by_text("confirm to go on")).to_be_visible()
        page.screenshot(path=screenshot_dir / "49-garbage-collection.png", full_page=True)
    finally:
        context.close()

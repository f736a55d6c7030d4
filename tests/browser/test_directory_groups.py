"""The company directory in a real browser: people log in with their directory passwords, and an
administrator (by directory group) gives a directory group a role on a project's Members page."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import Project
from tests.directory import PASSWORD, Directory

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(base_url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/")


def test_an_admin_by_group_gives_a_directory_group_a_role_and_its_people_see_the_project(
    browser: Any, live_server: Any, with_directory: Directory, screenshot_dir: Path
) -> None:
    Project.objects.create(name="team")
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        log_in(page, base, "dora")
        expect(page.get_by_role("link", name="team", exact=True)).to_have_count(0)
        page.get_by_role("button", name="Log out").click()

        log_in(page, base, "erin")
        page.goto(base + "/projects/team/members/")
        page.get_by_label("Group").fill("developers")
        page.get_by_label("Role", exact=True).last.select_option("developer")
        page.get_by_role("button", name="Add group").click()
        expect(
            page.get_by_text("Everyone in group developers is now a Developer (pull, push) of team.")
        ).to_be_visible()
        page.screenshot(path=screenshot_dir / "20-directory-groups.png", full_page=True)
        page.get_by_role("button", name="Log out").click()

        log_in(page, base, "dora")
        expect(page.get_by_role("link", name="team", exact=True)).to_be_visible()
    finally:
        context.close()


def test_with_the_directory_down_the_login_page_says_so(
    browser: Any, live_server: Any, with_directory: Directory, screenshot_dir: Path
) -> None:
    page = browser.new_page()
    try:
        with with_directory.stopped():
            page.goto(live_server.url + "/login/")
            page.get_by_label("Username").fill("dora")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_text("The company directory is not answering")).to_be_visible()
            page.screenshot(path=screenshot_dir / "21-directory-down.png", full_page=True)
    finally:
        page.close()

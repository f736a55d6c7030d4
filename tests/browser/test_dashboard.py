"""The dashboard in a real browser: log in, find an image, open it, copy its pull command."""

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, PushedImage

pytestmark = pytest.mark.django_db(transaction=True)

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def log_in(page: Any, base_url: str, username: str) -> None:
    # Anyone sees the public projects; logging in is a link away.
    page.goto(base_url + "/")
    expect(page.get_by_text("Public projects, which anyone may browse")).to_be_visible()
    page.locator(".user-menu").get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/")


def test_a_user_finds_an_image_opens_it_and_copies_its_pull_command(
    browser: Any, live_server: Any, registry: PushedImage, screenshot_dir: Path
) -> None:
    base = live_server.url
    host = base.split("://", 1)[1]
    context = browser.new_context(viewport=LAPTOP, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        page.goto(base + "/login/")
        page.screenshot(path=screenshot_dir / "01-login.png")
        log_in(page, base, "alice")
        assert page.get_by_role("link", name="team", exact=True).is_visible()
        page.screenshot(path=screenshot_dir / "02-home.png", full_page=True)

        page.get_by_label("Search repositories").fill("app")
        page.keyboard.press("Enter")
        page.get_by_role("link", name="team/app").click()
        page.wait_for_url(base + "/repositories/team/app/")
        assert page.get_by_text("linux/arm64/v8").is_visible()
        page.screenshot(path=screenshot_dir / "04-repository.png", full_page=True)

        command = f"docker pull {host}/team/app:1.0"
        page.get_by_role("button", name="Copy docker pull command for 1.0").click()
        assert page.evaluate("navigator.clipboard.readText()") == command
        assert page.locator("#copy-status").text_content() == f"Copied: {command}"

        page.get_by_role("link", name="1.0").click()
        page.wait_for_url(f"{base}/repositories/team/app/-/manifests/{registry.digest}/")
        assert page.get_by_text("RUN apk add --no-cache curl").is_visible()
        page.get_by_role("button", name="Copy pull by digest command").click()
        assert page.evaluate("navigator.clipboard.readText()") == f"docker pull {host}/team/app@{registry.digest}"
        page.get_by_text("Show the manifest JSON").click()
        page.screenshot(path=screenshot_dir / "05-image.png", full_page=True)

        page.goto(base + "/projects/team/")
        page.screenshot(path=screenshot_dir / "03-project.png", full_page=True)
        page.get_by_role("link", name="Members").click()
        page.screenshot(path=screenshot_dir / "06-members.png", full_page=True)
        page.get_by_role("link", name="Robot accounts").click()
        page.get_by_label("Name", exact=True).fill("deploy")
        page.get_by_role("button", name="Create robot account").click()
        assert page.get_by_text("Store the secret now").is_visible()
        assert page.locator(".secret code").text_content().startswith("hl_robot_")
        page.screenshot(path=screenshot_dir / "07-robot-created.png", full_page=True)
        page.goto(base + "/projects/team/robots/")
        page.screenshot(path=screenshot_dir / "08-robots.png", full_page=True)

        page.goto(base + "/setup/")
        assert page.get_by_text(f'"insecure-registries": ["{host}"]').is_visible()
        page.screenshot(path=screenshot_dir / "09-setup.png", full_page=True)
    finally:
        context.close()


def test_an_administrator_manages_users_and_projects(
    browser: Any, live_server: Any, registry: PushedImage, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "root")
        page.get_by_role("link", name="Users").click()
        page.get_by_label("Username").fill("dave")
        page.get_by_label("Password").fill("a long passphrase for dave")
        page.get_by_role("button", name="Create user").click()
        assert page.get_by_text("User dave created.").is_visible()
        page.screenshot(path=screenshot_dir / "10-admin-users.png", full_page=True)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").nth(1).click()
        page.get_by_label("Name", exact=True).fill("empty")
        page.get_by_role("button", name="Create project").click()
        assert page.get_by_text("Project empty created.").is_visible()
        page.screenshot(path=screenshot_dir / "11-admin-projects.png", full_page=True)
    finally:
        context.close()


def test_on_a_phone_the_repository_page_fits_and_works_without_javascript(
    browser: Any, live_server: Any, registry: PushedImage, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "bob")
        page.goto(live_server.url + "/repositories/team/app/")
        host = live_server.url.split("://", 1)[1]
        assert page.get_by_text(f"docker pull {host}/team/app:1.0", exact=True).is_visible()
        # Without JavaScript there is no copy button that would do nothing.
        assert page.locator("[data-copy]").first.is_hidden()
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=screenshot_dir / "12-phone-repository.png", full_page=True)
    finally:
        context.close()


def test_the_keyboard_reaches_the_content_first(browser: Any, live_server: Any, registry: PushedImage) -> None:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        # The jump is a navigation of its own, which may land a moment after the key press.
        expect(page).to_have_url(re.compile(r"#content$"))
    finally:
        context.close()

"""How the dashboard looks in Chromium: a dark scheme for `prefers-color-scheme: dark`, a favicon
(no 404 on any page), and section labels in the phone's navigation."""

from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_dashboard import LAPTOP, PHONE, log_in
from tests.conftest import PushedImage

pytestmark = pytest.mark.django_db(transaction=True)


def luminance(css_colour: str) -> float:
    """The relative luminance (0 black, 1 white) of an `rgb(r, g, b)` computed colour."""
    channels = [int(part) / 255 for part in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def colours(page: Any, selector: str) -> tuple[float, float]:
    """The luminance of an element's background and of its text."""
    background, text = page.eval_on_selector(
        selector, "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"
    )
    return luminance(background), luminance(text)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["desktop", "phone"])
def test_a_dark_system_gets_dark_pages_with_light_readable_text(
    browser: Any,
    live_server: Any,
    registry: PushedImage,
    screenshot_dir: Path,
    viewport: dict[str, int],
) -> None:
    context = browser.new_context(viewport=viewport, color_scheme="dark", is_mobile=viewport == PHONE)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        page.goto(live_server.url + "/repositories/team/app/")
        name = "desktop" if viewport == LAPTOP else "phone"
        page.screenshot(path=screenshot_dir / f"41-dark-repository-{name}.png", full_page=True)

        for selector in ("body", ".table-wrap", ".copy-line code", "th"):
            background, text = colours(page, selector)
            assert background < 0.05, selector
            # WCAG AA for body text: a contrast ratio of at least 4.5.
            assert (text + 0.05) / (background + 0.05) >= 4.5, selector
    finally:
        context.close()


def test_a_light_system_keeps_the_light_pages(browser: Any, live_server: Any, registry: PushedImage) -> None:
    context = browser.new_context(viewport=LAPTOP, color_scheme="light")
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        assert colours(page, ".table-wrap")[0] > 0.9
    finally:
        context.close()


def test_every_page_has_a_favicon_and_nothing_it_loads_is_missing(
    browser: Any,
    live_server: Any,
    registry: PushedImage,
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    failures: list[str] = []
    page.on("response", lambda response: failures.append(response.url) if response.status >= 400 else None)
    try:
        log_in(page, live_server.url, "alice")
        for path in ("/", "/projects/team/", "/repositories/team/app/", "/jobs/"):
            page.goto(live_server.url + path)
            icon = page.get_attribute("link[rel=icon]", "href")
            assert icon is not None
            fetched = page.request.get(live_server.url + icon)
            assert fetched.status == 200 and fetched.headers["content-type"].startswith("image/svg+xml")
        assert failures == []
    finally:
        context.close()


def test_on_a_phone_the_navigation_names_its_sections(
    browser: Any,
    live_server: Any,
    registry: PushedImage,
    screenshot_dir: Path,
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "root")
        navigation = page.get_by_role("navigation", name="Main")
        for section in ("Registry", "Administration"):
            assert navigation.get_by_role("heading", name=section).is_visible()
        page.screenshot(path=screenshot_dir / "42-phone-navigation.png")
    finally:
        context.close()

"""Single sign-on end to end: a real OpenID Connect provider (tests/oidc.py, oidc-provider on
Node), a live registry configured for it, Chromium through the whole authorization-code flow with
PKCE, a groups claim giving project roles and system administrator, and the personal access
token a single sign-on person makes in the dashboard used by skopeo, then revoked."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.directory import free_port
from tests.e2e.conftest import LiveRegistry, serving_registry
from tests.e2e.images import OciLayout, build_image
from tests.oidc import running_provider

GROUPS = {"olga": ["developers"], "owen": ["registry-admins", "developers"]}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    """A registry whose private project `team` gives the group `developers` the developer role."""
    folder = tmp_path_factory.mktemp("single-sign-on")
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/oidc/callback/"
    with running_provider(redirect_uri, GROUPS, folder / "provider.log") as provider:
        (folder / "registry").mkdir()
        database = f"harbor_lite_e2e_sso_{os.getpid()}"
        with serving_registry(folder / "registry", database, port=port, **provider.environment()) as live:
            for path, body in (
                ("projects/", {"name": "team", "public": False}),
                ("projects/team/groups/", {"group": "developers", "role": "developer"}),
            ):
                response = requests.post(
                    f"{live.url}/api/v1/{path}", json=body, auth=live.admin_credentials, timeout=30
                )
                assert response.status_code == 201, response.text
            yield live


def sign_on(page: Any, registry: LiveRegistry, login: str) -> None:
    """The dashboard's single sign-on button, then the provider's own login and consent pages."""
    page.goto(registry.url + "/login/")
    page.get_by_role("link", name="Log in with Example SSO").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password: the test provider takes it")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(registry.url + "/")


def skopeo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *arguments], capture_output=True, text=True, timeout=120)


def test_a_person_signs_on_gets_the_role_of_their_group_and_pushes_with_a_token_from_the_dashboard(
    browser: Any, registry: LiveRegistry, tmp_path: Path, screenshot_dir: Path
) -> None:
    image: OciLayout = build_image(tmp_path / "layout", tag="v1")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        page.goto(registry.url + "/login/")
        page.screenshot(path=screenshot_dir / "30-login-with-sso.png")
        sign_on(page, registry, "olga")
        expect(page.get_by_role("link", name="team", exact=True)).to_be_visible()
        expect(page.locator("header")).not_to_contain_text("admin")

        page.get_by_role("link", name="Access tokens").click()
        page.get_by_label("Name", exact=True).fill("laptop")
        page.get_by_role("button", name="Create token").click()
        secret = page.locator(".secret code").text_content()
        assert secret is not None and secret.startswith("hl_pat_")
        page.screenshot(path=screenshot_dir / "31-access-token-created.png", full_page=True)

        auth_file = str(tmp_path / "auth.json")
        login = ["login", "--tls-verify=false", "--authfile", auth_file, "-u", "olga", "--password-stdin"]
        logged_in = subprocess.run(
            ["skopeo", *login, registry.host], input=secret, capture_output=True, text=True, timeout=60
        )
        assert logged_in.returncode == 0, logged_in.stderr
        destination = f"docker://{registry.host}/team/app:v1"
        pushed = skopeo("copy", "--dest-tls-verify=false", "--authfile", auth_file, image.reference, destination)
        assert pushed.returncode == 0, pushed.stderr

        page.goto(registry.url + "/account/tokens/")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke").click()
        expect(page.get_by_text("Token laptop is revoked")).to_be_visible()
        refused = subprocess.run(
            ["skopeo", *login, registry.host], input=secret, capture_output=True, text=True, timeout=60
        )
        assert refused.returncode != 0
        assert "invalid username/password" in refused.stderr
    finally:
        context.close()


def test_the_admin_group_of_the_provider_makes_a_system_administrator(browser: Any, registry: LiveRegistry) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_on(page, registry, "owen")
        expect(page.locator("header")).to_contain_text("admin")
        expect(page.get_by_role("link", name="Users")).to_be_visible()
    finally:
        context.close()


def test_a_provider_login_named_like_a_local_account_is_refused(browser: Any, registry: LiveRegistry) -> None:
    """The administrator is a local account: a provider's person of the same name cannot take it over."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(registry.url + "/login/")
        page.get_by_role("link", name="Log in with Example SSO").click()
        page.locator("input[name=login]").fill(registry.admin_credentials[0])
        page.locator("input[name=password]").fill("anything")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_text("Single sign-on did not log you in")).to_be_visible()
        assert "/login/" in page.url
    finally:
        context.close()

"""A real OpenID Connect provider for the single sign-on tests: oidc-provider (the npm package,
installed by scripts/test into tests/oidc_provider/) run by Node on a free loopback port."""

import html
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.directory import free_port

PROVIDER = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "harbor-lite"


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_secret: str

    def environment(self) -> dict[str, str]:
        """The registry's configuration for this provider, as an operator would write it."""
        return {
            "REGISTRY_OIDC_CLIENT_ID": CLIENT_ID,
            "REGISTRY_OIDC_CLIENT_SECRET": self.client_secret,
            "REGISTRY_OIDC_AUTHORIZATION_ENDPOINT": f"{self.issuer}/auth",
            "REGISTRY_OIDC_TOKEN_ENDPOINT": f"{self.issuer}/token",
            "REGISTRY_OIDC_USERINFO_ENDPOINT": f"{self.issuer}/me",
            "REGISTRY_OIDC_JWKS_ENDPOINT": f"{self.issuer}/jwks",
            "REGISTRY_OIDC_PROVIDER_NAME": "Example SSO",
            "REGISTRY_OIDC_ADMIN_GROUP": "registry-admins",
        }

    def discovery_environment(self) -> dict[str, str]:
        """The same configuration by the issuer alone: the endpoints come from its discovery document."""
        return {
            "REGISTRY_OIDC_CLIENT_ID": CLIENT_ID,
            "REGISTRY_OIDC_CLIENT_SECRET": self.client_secret,
            "REGISTRY_OIDC_ISSUER": self.issuer,
            "REGISTRY_OIDC_PROVIDER_NAME": "Example SSO",
            "REGISTRY_OIDC_ADMIN_GROUP": "registry-admins",
        }


@contextmanager
def running_provider(
    redirect_uri: str,
    groups: dict[str, list[str]],
    log: Path,
    clock_offset_seconds: int = 0,
    id_token_seconds: int = 3600,
    usernames: dict[str, str] | None = None,
    pkce_required: bool = True,
) -> Iterator[OidcProvider]:
    """People log in with any name and password; their sub is that login name, and so is their
    preferred_username unless `usernames` gives another. clock_offset_seconds puts the provider's
    clock ahead of the registry's (behind if negative)."""
    node = shutil.which("node")
    if node is None or not (PROVIDER / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("node and tests/oidc_provider/node_modules are needed: scripts/test installs them")
    port = free_port()
    provider = OidcProvider(issuer=f"http://127.0.0.1:{port}", client_secret=secrets.token_urlsafe(24))
    environment = {
        "PATH": "/usr/bin:/bin",
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_POST_LOGOUT_REDIRECT_URI": urljoin(redirect_uri, "/login/"),
        "OIDC_GROUPS": json.dumps(groups),
        "OIDC_USERNAMES": json.dumps(usernames or {}),
        "OIDC_PKCE_REQUIRED": str(pkce_required).lower(),
        "OIDC_CLOCK_OFFSET_SECONDS": str(clock_offset_seconds),
        "OIDC_ID_TOKEN_TTL_SECONDS": str(id_token_seconds),
    }
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [node, "provider.mjs"], cwd=PROVIDER, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the OIDC provider exited; see {log}")
            try:
                if requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the OIDC provider did not answer within 20 s")
            time.sleep(0.1)
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)


def authorization_code(
    authorization_url: str, login: str, redirect_uri: str, browser: requests.Session | None = None
) -> str:
    """What a browser does between the registry's redirect to the provider (authorization_url)
    and the redirect back to redirect_uri: the provider's development login and consent pages.
    The code the provider sends back; the registry's state is the caller's to send with it.
    `browser` keeps the provider's cookies (its session) from one sign-on to the next."""
    browser = browser or requests.Session()
    response = browser.get(authorization_url, allow_redirects=False, timeout=10)
    # A provider session already there skips the login page; consent given once is remembered.
    for _ in range(10):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(redirect_uri):
                return parse_qs(urlsplit(location).query)["code"][0]
            response = browser.get(location, allow_redirects=False, timeout=10)
            continue
        action = re.search(r'<form[^>]* action="([^"]+)"', response.text)
        assert action is not None, response.text
        form = (
            {"prompt": "login", "login": login, "password": "any"}
            if 'name="login"' in response.text
            else {"prompt": "consent"}
        )
        submit_url = urljoin(response.url, html.unescape(action.group(1)))
        response = browser.post(submit_url, data=form, allow_redirects=False, timeout=10)
    raise AssertionError(f"the provider did not send the browser back: {response.text}")

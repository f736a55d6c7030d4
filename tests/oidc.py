"""A real OpenID Connect provider for the single sign-on tests: oidc-provider (the npm package,
installed by scripts/test into tests/oidc_provider/) run by Node on a free loopback port."""

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


@contextmanager
def running_provider(redirect_uri: str, groups: dict[str, list[str]], log: Path) -> Iterator[OidcProvider]:
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
        "OIDC_GROUPS": json.dumps(groups),
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

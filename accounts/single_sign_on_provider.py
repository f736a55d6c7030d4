"""Where the OpenID Connect provider's endpoints are: each one set explicitly
(REGISTRY_OIDC_*_ENDPOINT, which always wins), or else read from the provider's discovery document
(OpenID Connect Discovery 1.0: REGISTRY_OIDC_ISSUER + /.well-known/openid-configuration).

The document is fetched when a sign-on or a logout first needs it, never at start (a provider that
is down must not stop the registry or its password logins), and kept for an hour in each process:
providers rotate signing keys behind a fixed jwks_uri, not their endpoints. A failed fetch is not
kept: the next sign-on asks again.
"""

import logging
import threading
import time
from typing import Any

import requests
from django.conf import settings

logger = logging.getLogger("accounts.login")

# mozilla-django-oidc's setting (and ours for the logout) -> the discovery document's key.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "REGISTRY_OIDC_END_SESSION_ENDPOINT": "end_session_endpoint",
}
OPTIONAL = {"REGISTRY_OIDC_END_SESSION_ENDPOINT"}
KEEP_SECONDS = 3600


class ProviderUnavailable(Exception):
    """The discovery document could not be had: the provider is down or slow, or answers with
    something that is not its document."""


class _Documents:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._documents: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, issuer: str) -> dict[str, Any]:
        with self._lock:
            kept = self._documents.get(issuer)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        document = _fetch(issuer)
        with self._lock:
            self._documents[issuer] = (time.monotonic() + KEEP_SECONDS, document)
        return document

    def forget(self) -> None:
        with self._lock:
            self._documents.clear()


_documents = _Documents()


def _fetch(issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(
            url, timeout=getattr(settings, "OIDC_TIMEOUT", 5), verify=getattr(settings, "OIDC_VERIFY_SSL", True)
        )
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        logger.error("the OpenID Connect discovery document at %s could not be had: %r", url, error)
        raise ProviderUnavailable(f"{url}: {error}") from error
    # Discovery 1.0, section 4.3: the document's issuer is exactly the one asked, or it is not
    # this provider's (a proxy's, a mistyped URL's) and its endpoints are not to be trusted.
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        found = document.get("issuer") if isinstance(document, dict) else None
        logger.error("the discovery document at %s names the issuer %r, not %r", url, found, issuer)
        raise ProviderUnavailable(f"{url} names another issuer: {found!r}")
    return document


def endpoint(name: str) -> str:
    """The endpoint a setting names: the explicit setting, or the discovered one. "" for the
    optional end-session endpoint the provider does not have. Raises ProviderUnavailable."""
    explicit: str = getattr(settings, name, "")
    issuer: str = getattr(settings, "REGISTRY_OIDC_ISSUER", "")
    if explicit or not issuer:
        return explicit
    value = _documents.get(issuer).get(DISCOVERED[name])
    if isinstance(value, str) and value:
        return value
    if name in OPTIONAL:
        return ""
    raise ProviderUnavailable(f"the discovery document of {issuer} names no {DISCOVERED[name]}")


def forget_discovered() -> None:
    """Fetch the discovery document again at the next need (tests; a provider moved)."""
    _documents.forget()

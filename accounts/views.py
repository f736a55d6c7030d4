"""The token service of the Docker token auth flow (`/auth/token`, GET and the OAuth2 POST) and
the public keys that verify its tokens (`/auth/jwks.json`)."""

import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.directory import DirectoryUnavailable
from accounts.permissions import ANONYMOUS, Principal
from accounts.services.credentials import (
    authenticate_login,
    credential_version,
    may_refresh,
    principal_for_credential,
)
from accounts.services.last_seen import record_seen
from accounts.services.login_throttle import LoginThrottled
from accounts.services.token_grants import TooManyScopes, grant, parse_requested_scopes
from accounts.tokens import (
    InvalidToken,
    TokenTooLarge,
    issue_access_token,
    issue_refresh_token,
    keyring,
    verify_refresh_token,
)
from oci.request_edge import client_address, credentials_of

logger = logging.getLogger("accounts.tokens")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def token(request: HttpRequest) -> HttpResponse:
    """`GET /auth/token?service=&scope=` with optional Basic credentials, or the OAuth2 `POST`."""
    service = (request.GET if request.method == "GET" else request.POST).get("service")
    if service and service != settings.REGISTRY_TOKEN_SERVICE:
        return _oauth_error(400, "invalid_request", f"this token service serves {settings.REGISTRY_TOKEN_SERVICE!r}")
    try:
        if request.method == "POST":
            return _oauth_token(request)
        return _basic_token(request)
    except LoginThrottled as throttled:
        response = _oauth_error(429, "too_many_requests", str(throttled))
        response["Retry-After"] = str(throttled.retry_after)
        return response
    except DirectoryUnavailable as unavailable:
        response = _oauth_error(503, "temporarily_unavailable", str(unavailable))
        response["Retry-After"] = str(unavailable.retry_after)
        return response
    except (TooManyScopes, TokenTooLarge) as error:
        return _oauth_error(400, "invalid_scope", f"{error}; ask for fewer scopes in each request")


def jwks(request: HttpRequest) -> JsonResponse:
    """`GET /auth/jwks.json`: every public key that verifies live tokens."""
    return JsonResponse({"keys": [key.public_jwk() for key in keyring.all_keys()]})


def _basic_token(request: HttpRequest) -> HttpResponse:
    principal: Principal = ANONYMOUS
    credentials = credentials_of(request.META)
    if credentials.scheme == "basic":
        found = authenticate_login(
            credentials.username, credentials.secret, address=client_address(request.META), channel="token"
        )
        if found is None:
            response = _oauth_error(401, "invalid_grant", "incorrect username or password")
            response["WWW-Authenticate"] = 'Basic realm="Harbor-lite"'
            return response
        principal = found[0]
    return _token_response(principal, request.GET.getlist("scope"), refresh_token=None)


def _oauth_token(request: HttpRequest) -> HttpResponse:
    grant_type = request.POST.get("grant_type")
    if grant_type == "password":
        found = authenticate_login(
            request.POST.get("username", ""),
            request.POST.get("password", ""),
            address=client_address(request.META),
            channel="token",
        )
        if found is None:
            return _oauth_error(401, "invalid_grant", "incorrect username or password")
        principal, credential = found
    elif grant_type == "refresh_token":
        try:
            claims = verify_refresh_token(request.POST.get("refresh_token", ""))
        except InvalidToken as error:
            return _oauth_error(400, "invalid_grant", f"refresh token rejected: {error}")
        credential = str(claims.get("credential", "user"))
        # A token without a version predates versions: refused, as one from before a reset would be.
        refreshed = principal_for_credential(str(claims["sub"]), credential, str(claims.get("version", "")))
        if refreshed is None:
            return _oauth_error(
                400,
                "invalid_grant",
                "the account behind this refresh token is no longer active, or its password or secret changed",
            )
        principal = refreshed
        # A client refreshing its tokens for days without a password login is being seen too.
        record_seen(principal)
    else:
        return _oauth_error(400, "unsupported_grant_type", "use grant_type=password or refresh_token")
    wants_refresh = request.POST.get("access_type") == "offline" or grant_type == "refresh_token"
    wants_refresh = wants_refresh and may_refresh(principal, credential)
    refresh = (
        issue_refresh_token(principal.subject, credential, credential_version(principal.subject, credential))
        if wants_refresh
        else None
    )
    return _token_response(principal, request.POST.getlist("scope"), refresh_token=refresh)


def _token_response(principal: Principal, scope_values: list[str], refresh_token: str | None) -> JsonResponse:
    requested = parse_requested_scopes(scope_values)
    granted = grant(principal, requested)
    issued = issue_access_token(principal.subject, granted)
    logger.info(
        "token for %r: asked %s, granted %s",
        principal.subject or "anonymous",
        [str(scope) for scope in requested],
        [str(scope) for scope in granted],
    )
    body: dict[str, Any] = {
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in,
        "issued_at": datetime.fromtimestamp(issued.issued_at, tz=UTC).isoformat(),
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return JsonResponse(body)


_REGISTRY_CODES = {401: "UNAUTHORIZED", 429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}


def _oauth_error(status: int, error: str, description: str) -> JsonResponse:
    body: dict[str, Any] = {"error": error, "error_description": description}
    if status in _REGISTRY_CODES:
        # The registry-style body too: docker prints its message to the user.
        body["errors"] = [{"code": _REGISTRY_CODES[status], "message": description, "detail": None}]
    return JsonResponse(body, status=status)

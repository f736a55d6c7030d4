"""The registry's access log: one line per request on a repository, saying who pulled, pushed or
deleted what, and how many bytes moved. Logger `registry.access`; with LOG_FORMAT=json each
field is a key of the line, so `jq 'select(.action=="push")'` answers "who pushed this?"."""

import logging

from django.http import HttpRequest, HttpResponseBase

from accounts.tokens import InvalidToken, verify_access_token
from accounts.views import basic_credentials, client_address

access_logger = logging.getLogger("registry.access")

_ACTION_BY_METHOD = {"GET": "pull", "HEAD": "pull", "POST": "push", "PATCH": "push", "PUT": "push", "DELETE": "delete"}
# Routes that name a repository; /v2/, the catalog and unknown paths say nothing about an image.
_REPOSITORY_ROUTES = frozenset({"v2:manifest", "v2:blob", "v2:upload-start", "v2:upload", "v2:tags", "v2:referrers"})


def caller_subject(request: HttpRequest, status: int) -> str:
    """Who made the request: the token's subject, the Basic username, or "" for anonymous.

    A 401 means the credentials did not check out, so nothing they claim is logged as the caller.
    The subject of a token the view verified is reused; when the answer came before the view
    looked at the token (a bad name, 400), it is verified here rather than decoded blindly, so a
    forged `sub` never reaches the log.
    """
    if status == 401:
        return ""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer":
        verified = getattr(request, "registry_token_subject", None)
        if verified is not None:
            return str(verified)
        try:
            return str(verify_access_token(value.strip()).get("sub", ""))
        except InvalidToken:
            return ""
    credentials = basic_credentials(request)
    return credentials[0] if credentials is not None and status < 400 else ""


def log_registry_access(
    request: HttpRequest, response: HttpResponseBase, route: str, bytes_in: int, bytes_out: int, served_by: str
) -> None:
    """Write the access line for a request on a repository; other requests are left to gunicorn's log."""
    match = request.resolver_match
    if match is None or route not in _REPOSITORY_ROUTES or not access_logger.isEnabledFor(logging.INFO):
        return
    write_access_line(
        subject=caller_subject(request, response.status_code),
        method=str(request.method),
        route=route,
        repository=str(match.kwargs.get("name", "")),
        reference=str(match.kwargs.get("reference") or match.kwargs.get("digest") or ""),
        digest=response.get("Docker-Content-Digest") or request.GET.get("digest", ""),
        status=response.status_code,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        served_by=served_by,
        remote_addr=client_address(request),
        user_agent=request.headers.get("User-Agent", ""),
    )


def write_access_line(
    *,
    subject: str,
    method: str,
    route: str,
    repository: str,
    reference: str,
    digest: str,
    status: int,
    bytes_in: int,
    bytes_out: int,
    served_by: str,
    remote_addr: str,
    user_agent: str,
) -> None:
    """The line itself, also written by the hot path (registry_ui/hot_reads.py), which has no
    Django request."""
    action = _ACTION_BY_METHOD.get(method, method.lower())
    access_logger.info(
        "%s %s %s %s%s",
        subject or "anonymous",
        action,
        repository,
        reference or route,
        f" ({bytes_out or bytes_in} bytes)" if bytes_out or bytes_in else "",
        extra={
            "subject": subject,
            "action": action,
            "method": method,
            "route": route,
            "repository": repository,
            "reference": reference,
            "digest": digest,
            "status": status,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "served_by": served_by,
            "remote_addr": remote_addr,
            "user_agent": user_agent,
        },
    )

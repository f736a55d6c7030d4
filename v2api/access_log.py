"""The registry's access log: one line per request on a repository, saying who pulled, pushed or
deleted what, and how many bytes moved. Logger `registry.access`; with LOG_FORMAT=json each
field is a key of the line, so `jq 'select(.action=="push")'` answers "who pushed this?"."""

import logging

from django.http import HttpRequest, HttpResponseBase

from accounts.tokens import InvalidToken, verify_access_token
from oci.request_edge import REPOSITORY_ROUTES, client_address, credentials_of
from v2api.auth import identified_caller

access_logger = logging.getLogger("registry.access")

_ACTION_BY_METHOD = {"GET": "pull", "HEAD": "pull", "POST": "push", "PATCH": "push", "PUT": "push", "DELETE": "delete"}


def caller_subject(request: HttpRequest, status: int) -> str:
    """Who made the request: the caller the gate identified, or "" for anonymous.

    A 401 means the credentials did not check out, so nothing they claim is logged as the caller.
    When the answer came before the gate looked at the credentials (a bad name, 400), a token is
    verified here rather than decoded blindly, so a forged `sub` never reaches the log, and an
    unchecked password names nobody.
    """
    if status == 401:
        return ""
    caller = identified_caller(request.META)
    if caller is not None:
        return caller.subject
    credentials = credentials_of(request.META)
    if credentials.scheme != "bearer":
        return ""
    try:
        return str(verify_access_token(credentials.token).get("sub", ""))
    except InvalidToken:
        return ""


def log_registry_access(
    request: HttpRequest, response: HttpResponseBase, route: str, bytes_in: int, bytes_out: int, served_by: str
) -> None:
    """Write the access line for a request on a repository; other requests are left to gunicorn's log."""
    match = request.resolver_match
    if match is None or route not in REPOSITORY_ROUTES or not access_logger.isEnabledFor(logging.INFO):
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
        remote_addr=client_address(request.META),
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
    """The line itself, also written by the fast path (v2api/fast_reads.py), which has no Django
    request."""
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

"""Request ids: one per request, taken from the proxy's X-Request-ID or made here, put on every
log line the request writes and echoed in the response, so nginx's line, gunicorn's line and the
application's lines of one request can be found together."""

import re
import secrets
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponseBase

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from outside: nginx's $request_id is 32 hex digits; tracing systems send UUIDs.
# Anything else (too long, or characters that would spoil a log line) is replaced by our own.
_ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

# gunicorn's gthread worker runs each request in one thread, and each thread has its own context.
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")


def new_request_id() -> str:
    return secrets.token_hex(16)


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is a sane token, else a new one."""
    if header and _ACCEPTED_REQUEST_ID.match(header):
        return header
    return new_request_id()


class RequestIdMiddleware:
    """Outermost middleware: sets the request id for the whole request, response header included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

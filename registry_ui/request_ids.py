"""The request id (oci/request_edge.py `request_id_from`) set for the whole of each request,
put on every log line it writes and echoed in the response."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from oci.request_edge import REQUEST_ID_HEADER, current_request_id, request_id_from


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

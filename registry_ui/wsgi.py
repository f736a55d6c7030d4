"""The WSGI entry point: the registry API and the dashboard, each with the middleware it needs.

`/v2/` requests skip what only the dashboard uses (sessions, CSRF, auth, messages, static
files, frame options): a pull is a stream of small GETs and HEADs, and that middleware cost
more than the query that answers them. Both stacks run the same settings and URLs. The
plainest of those GETs and HEADs are served by the registry's fast path (v2api/fast_reads.py),
a provider behind the same gate as the full stack.
"""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_ui.settings")
dashboard_application = get_wsgi_application()


class RegistryApiHandler(WSGIHandler):
    """A WSGIHandler whose middleware is REGISTRY_API_MIDDLEWARE instead of MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        full_stack = settings.MIDDLEWARE
        # Middleware is loaded once, at start, before any request: swapping the setting for the
        # duration of the load is not seen by anything else.
        settings.MIDDLEWARE = settings.REGISTRY_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full_stack


registry_application = RegistryApiHandler()
# The URL conf imports every view. Django would import it inside the first request that needs it,
# which took 200 ms holding the GIL: a stall for every other request of that process.
get_resolver().url_patterns  # noqa: B018
# After the handlers: it imports models, which needs the apps loaded.
from v2api import fast_reads  # noqa: E402


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/v2" or path.startswith("/v2/"):
        return fast_reads.answer(environ, start_response) or registry_application(environ, start_response)
    return dashboard_application(environ, start_response)

"""What every dashboard page needs to know besides the user: the registry's host name."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest


def registry_host(request: HttpRequest) -> str:
    """The `host[:port]` clients put in front of image names: from REGISTRY_PUBLIC_URL when set
    (behind a proxy the request's host may be an internal one), else the host this page came to."""
    if settings.REGISTRY_PUBLIC_URL:
        return urlsplit(settings.REGISTRY_PUBLIC_URL).netloc
    return request.get_host()


def registry(request: HttpRequest) -> dict[str, str]:
    return {"registry_host": registry_host(request)}

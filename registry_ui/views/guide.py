"""How to use this registry from docker, podman and skopeo, with its own host name filled in."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry_ui.context_processors import registry_host


@login_required
def setup_guide(request: HttpRequest) -> HttpResponse:
    """`/setup/`: docker login, daemon.json insecure-registries and TLS trust for this host."""
    host = registry_host(request)
    uses_tls = settings.REGISTRY_PUBLIC_URL.startswith("https://") or (
        not settings.REGISTRY_PUBLIC_URL and request.is_secure()
    )
    return render(
        request,
        "registry_ui/setup.html",
        {
            "host": host,
            "host_without_port": host.rsplit(":", 1)[0] if not host.startswith("[") else host,
            "uses_tls": uses_tls,
            "username": request.user.get_username(),
        },
    )

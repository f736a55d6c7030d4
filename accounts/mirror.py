"""Transparent mirror mode (issue 16): docker's `registry-mirrors` and containerd's `hosts.toml`
send `/v2/library/nginx/…` (or `/v2/nginx/…`) with no project in the path; with
REGISTRY_MIRROR_PROJECT set, a read of a repository whose first path component names no project
is served by that proxy-cache project, as `<mirror>/library/nginx`.

The token service and the registry's gate (v2api/auth.py) both map names here, so a token asked
for `repository:library/nginx:pull` grants the mirror's repository and the request that presents
it is served from there. Only pulls are mapped: a push into a missing project still creates it
(personal projects, administrators), as it does without a mirror.
"""

from django.conf import settings

from accounts.models import Project
from oci.names import project_name_of


def mirrored_name(repository_name: str) -> str | None:
    """`<mirror>/library/nginx` for `library/nginx` when the mirror mode is on, the mirror is a
    proxy-cache project and no project is named `library`; None when the name is served as it is."""
    mirror = settings.REGISTRY_MIRROR_PROJECT
    if not mirror:
        return None
    project = project_name_of(repository_name)
    if project == mirror:
        return None
    proxy_urls = dict(Project.objects.filter(name__in=(project, mirror)).values_list("name", "proxy_url"))
    # Only a proxy cache answers for Docker Hub's names: an ordinary project of the mirror's name
    # (a mistaken setting, or one created on push while the mirror's was missing) holds what its
    # developers pushed, which nodes asking for `library/nginx` would take for Docker Hub's.
    if project in proxy_urls or not proxy_urls.get(mirror):
        return None
    return f"{mirror}/{repository_name}"

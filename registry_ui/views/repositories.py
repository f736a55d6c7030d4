"""A repository's tags, and one image (manifest) in it."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from oci.names import name_in_project
from registry_ui.views.access import get_manifest_in, get_repository_for_user, may_delete, readable_without_login
from v2api.services.images import image_details
from v2api.services.listings import tag_page
from v2api.services.usage import image_sizes, repository_usage


@readable_without_login
def repository_detail(request: HttpRequest, name: str) -> HttpResponse:
    """`/repositories/<name>/`: tags with digest, platforms, size and push time, paged by tag name;
    those who may delete select tags to untag or images to delete (deletion.py confirms)."""
    repository = get_repository_for_user(request, name)
    after = request.GET.get("after", "")[:128]
    page = tag_page(repository, after or None)
    return render(
        request,
        "registry_ui/repository.html",
        {
            "repository": repository,
            "project_name": repository.project.name,
            "name_in_project": name_in_project(repository.name),
            "page": page,
            "is_first_page": not after,
            "usage": repository_usage(repository.name),
            "can_delete": may_delete(request, repository.name),
        },
    )


@readable_without_login
def image_detail(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """`/repositories/<name>/-/manifests/<digest>/`: layers, config, platforms, referrers, raw JSON."""
    repository = get_repository_for_user(request, name)
    manifest = get_manifest_in(repository, digest)
    return render(
        request,
        "registry_ui/image.html",
        {
            "repository": repository,
            "project_name": repository.project.name,
            "name_in_project": name_in_project(repository.name),
            "image": image_details(repository, manifest),
            "image_size": image_sizes([manifest.pk])[manifest.pk],
            "can_delete": may_delete(request, repository.name),
        },
    )


@readable_without_login
def raw_manifest(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """`/repositories/<name>/-/manifests/<digest>/raw`: the exact bytes the digest covers."""
    repository = get_repository_for_user(request, name)
    manifest = get_manifest_in(repository, digest)
    response = HttpResponse(bytes(manifest.content), content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response

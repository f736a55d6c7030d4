"""Repositories and the catalog."""

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from v2api.models import Repository
from v2api.services.pagination import Page, keyset_page


def get_or_create_repository(name: str) -> Repository:
    """A repository comes into being with its first upload, mount or manifest."""
    repository = Repository.objects.filter(name=name).first()
    if repository is not None:
        return repository
    try:
        with transaction.atomic():
            return Repository.objects.create(name=name)
    except IntegrityError:
        # Another request created it between our read and our insert.
        return Repository.objects.get(name=name)


def list_repositories(last: str | None, limit: int | None, readable_namespaces: QuerySet | None) -> Page:
    """`GET /v2/_catalog` (Docker Registry API v2): repository names in lexical order after `last`,
    only in `readable_namespaces` (None: all)."""
    repositories = Repository.objects.all()
    if readable_namespaces is not None:
        repositories = repositories.filter(namespace__in=readable_namespaces)
    return keyset_page(repositories, "name", last, limit)

"""Repositories and the catalog."""

from django.db import IntegrityError, transaction

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


def list_repositories(last: str | None, limit: int | None) -> Page:
    """`GET /v2/_catalog` (Docker Registry API v2): repository names in lexical order after `last`."""
    return keyset_page(Repository.objects.all(), "name", last, limit)

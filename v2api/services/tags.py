"""Tags of a repository."""

from v2api.errors import NameUnknown
from v2api.models import Repository, Tag
from v2api.services.pagination import Page, keyset_page


def list_tags(repository_name: str, last: str | None, limit: int | None) -> Page:
    """end-8a/8b: `GET /v2/<name>/tags/list`, tags in lexical order after `last`. Raises NameUnknown."""
    repository = Repository.objects.filter(name=repository_name).only("id").first()
    if repository is None:
        raise NameUnknown(detail={"name": repository_name})
    return keyset_page(Tag.objects.filter(repository=repository), "name", last, limit)

"""Keyset pagination for the tag list and the catalog.

`WHERE name > last ORDER BY name LIMIT n+1` over a unique index costs the same on page one
and page ten thousand, unlike OFFSET. The limit is capped by REGISTRY_MAX_PAGE_SIZE, so a
huge `n` cannot make the registry build a huge response.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet


@dataclass(frozen=True)
class Page:
    names: list[str]
    has_more: bool


def keyset_page(queryset: QuerySet, field: str, last: str | None, limit: int | None) -> Page:
    page_size = settings.REGISTRY_MAX_PAGE_SIZE if limit is None else min(limit, settings.REGISTRY_MAX_PAGE_SIZE)
    if page_size <= 0:
        return Page([], False)
    if last:
        queryset = queryset.filter(**{f"{field}__gt": last})
    names = list(queryset.order_by(field).values_list(field, flat=True)[: page_size + 1])
    return Page(names[:page_size], len(names) > page_size)

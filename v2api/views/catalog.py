from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request

from accounts.permissions import pullable_projects
from accounts.scopes import CATALOG, Scope
from v2api.services.repositories import list_repositories
from v2api.views.base import RegistryView, json_response, next_page_link, page_parameters


class CatalogView(RegistryView):
    def required_scope(self, request: Request, kwargs: dict[str, Any]) -> Scope | None:
        return CATALOG

    def get(self, request: Request) -> HttpResponse:
        """`GET /v2/_catalog[?n=&last=]` (Docker Registry API v2), with a Link to the next page;
        it lists only the repositories the caller may pull."""
        last, limit = page_parameters(request)
        page = list_repositories(last, limit, pullable_projects(self.caller.live_principal()))
        response = json_response({"repositories": page.names})
        if page.has_more:
            response["Link"] = next_page_link(request.path, page.names[-1], limit)
        return response

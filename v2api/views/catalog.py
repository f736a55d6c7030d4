from django.http import HttpResponse
from rest_framework.request import Request

from v2api.services.repositories import list_repositories
from v2api.views.base import RegistryView, json_response, next_page_link, page_parameters


class CatalogView(RegistryView):
    def get(self, request: Request) -> HttpResponse:
        """`GET /v2/_catalog[?n=&last=]` (Docker Registry API v2), with a Link to the next page."""
        last, limit = page_parameters(request)
        page = list_repositories(last, limit)
        response = json_response({"repositories": page.names})
        if page.has_more:
            response["Link"] = next_page_link(request.path, page.names[-1], limit)
        return response

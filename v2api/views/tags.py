from django.http import HttpResponse
from rest_framework.request import Request

from v2api.services.tags import list_tags
from v2api.views.base import RegistryView, json_response, next_page_link, page_parameters


class TagListView(RegistryView):
    def get(self, request: Request, name: str) -> HttpResponse:
        """end-8a/8b: `GET /v2/<name>/tags/list[?n=&last=]`, with a Link to the next page."""
        last, limit = page_parameters(request)
        page = list_tags(name, last, limit)
        response = json_response({"name": name, "tags": page.names})
        if page.has_more:
            response["Link"] = next_page_link(request.path, page.names[-1], limit)
        return response

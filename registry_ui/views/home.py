"""The home page (projects the user can see) and the search across repositories."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry_ui.forms import SearchForm
from registry_ui.views.access import principal_of, readable_without_login
from v2api.services.listings import (
    SEARCH_LIMIT,
    project_summaries,
    search_digests,
    search_repositories,
    search_tags,
    with_project_usage,
)


@readable_without_login
def home(request: HttpRequest) -> HttpResponse:
    """`/`: the projects the user may pull from, with repository counts, visibility and disk used."""
    principal = principal_of(request)
    return render(request, "registry_ui/home.html", {"projects": with_project_usage(project_summaries(principal))})


@readable_without_login
def search(request: HttpRequest) -> HttpResponse:
    """`/search/?q=`: repositories and tags whose name contains `q`, and images whose digest starts
    with it, in projects the user may pull from."""
    principal = principal_of(request)
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    results = search_repositories(principal, query) if query else []
    return render(
        request,
        "registry_ui/search.html",
        {
            "form": form,
            "query": query,
            "results": results,
            "tags": search_tags(principal, query) if query else [],
            "images": search_digests(principal, query) if query else [],
            "limit": SEARCH_LIMIT,
        },
    )

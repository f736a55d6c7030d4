"""Deleting tags, images or a whole repository from the dashboard: a confirmation page that says
exactly what goes and what it frees (v2api's plan_deletion), then a deletion job."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from oci.names import name_in_project
from registry_ui.forms import DeletionForm
from registry_ui.views.access import get_repository_for_user, may_delete
from v2api.models import Repository, Tag
from v2api.services.deletion import plan_deletion
from v2api.services.immutability import immutable_tag_message
from v2api.services.job_requests import DeletionRequest
from v2api.tasks import JobNotSent, request_job

ALREADY_DELETED = "Nothing to delete: what you selected was already deleted."
CONFIRM_PAGE_SIZE = 50


def _selection(repository: Repository, form: DeletionForm) -> DeletionRequest | None:
    """The deletion the form's selection asks for; None when the images selected are gone already.
    Raises ValidationError (a name outside the grammar)."""
    mode, tags, digests = form.cleaned_data["mode"], form.cleaned_data["tag"], form.cleaned_data["digest"]
    if mode == DeletionForm.UNTAG:
        return DeletionRequest(repository.name, tags=tuple(tags))
    if mode == DeletionForm.IMAGES:
        # Rows on the repository page are tags; an image is what a tag points at now. The
        # confirmation carries digests from here on, so what was confirmed is what goes even
        # if a tag moves meanwhile.
        tagged = Tag.objects.filter(repository=repository, name__in=tags).values_list("manifest__digest", flat=True)
        selected = tuple(sorted(set(digests) | set(tagged)))
        return DeletionRequest(repository.name, digests=selected) if selected else None
    return DeletionRequest(repository.name, whole_repository=True)


@login_required
@require_http_methods(["GET", "POST"])
def delete_in_repository(request: HttpRequest, name: str) -> HttpResponse:
    """`/repositories/<name>/-/delete/`: GET confirms what the selection removes, POST requests the job."""
    repository = get_repository_for_user(request, name)
    back = redirect("ui:repository-detail", name=repository.name)
    if not may_delete(request, repository.name):
        messages.error(
            request,
            f"You may not delete in {repository.name}: that takes a maintainer or admin of project "
            f"{repository.project.name}, or a system administrator.",
        )
        return back
    form = DeletionForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.non_field_errors()) or "Choose what to delete.")
        return back
    try:
        selection = _selection(repository, form)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return back
    if selection is None:
        messages.error(request, ALREADY_DELETED)
        return back
    plan = plan_deletion(
        repository.name, tags=selection.tags, digests=selection.digests, whole_repository=selection.whole_repository
    )
    if not plan.tags and not plan.manifests and not selection.whole_repository:
        messages.error(request, ALREADY_DELETED)
        return back
    if plan.immutable_tags:
        refusals = "; ".join(immutable_tag_message(tag, rule) for tag, rule in sorted(plan.immutable_tags.items()))
        messages.error(request, f"Nothing was deleted: {refusals}.")
        return back
    if request.method == "POST":
        try:
            job = request_job(selection, requested_by=request.user)  # type: ignore[arg-type]
        except JobNotSent as unsent:
            # Kept pending: beat sends it once the queue is back; the job page shows it waiting.
            messages.warning(request, str(unsent))
            return redirect("ui:job-detail", job_id=unsent.job.pk)
        messages.success(request, f"Deletion requested as job #{job.pk}.")
        return redirect("ui:job-detail", job_id=job.pk)
    # A repository of 300 tags is summarised by its counts and listed a page at a time.
    paginator = Paginator(range(max(len(plan.tags), len(plan.manifests), 1)), CONFIRM_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    shown = slice(page.start_index() - 1, page.end_index())
    without_page = request.GET.copy()
    without_page.pop("page", None)
    return render(
        request,
        "registry_ui/delete_confirm.html",
        {
            "repository": repository,
            "project_name": repository.project.name,
            "name_in_project": name_in_project(repository.name),
            "mode": form.cleaned_data["mode"],
            "selection": selection,
            "plan": plan,
            "page": page,
            "tags_shown": plan.tags[shown],
            "manifests_shown": plan.manifests[shown],
            "page_query": without_page.urlencode(),
        },
    )

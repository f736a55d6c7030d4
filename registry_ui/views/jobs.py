"""Background jobs: the list, one job with its progress and result, and starting a garbage
collection (system administrators)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import Project
from oci.names import project_name_of
from registry_ui.forms import GarbageCollectionForm
from registry_ui.job_summaries import (
    FINISHED_STATES,
    collection_note,
    duration,
    job_status,
    job_title,
    result_facts,
    result_lists,
)
from registry_ui.views.access import get_job_for_user, principal_of, require_system_admin, visible_jobs
from v2api.models import Repository
from v2api.services.gc_outlook import collection_outlook
from v2api.services.job_requests import DeletionRequest, GarbageCollectionRequest, RetentionRequest, job_request_of
from v2api.tasks import JobNotSent, request_job

JOB_PAGE_SIZE = 50


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    """`/jobs/`: newest first, paged by id; system admins see every job and may start a collection."""
    jobs = visible_jobs(request).order_by("-id")
    before = request.GET.get("before", "")
    if before:
        # A job id: ASCII digits only (isdigit() also takes "²", which int() refuses) and few
        # enough for Postgres's bigint; anything else was a 500.
        if not (before.isascii() and before.isdigit() and len(before) <= 18):
            return HttpResponseBadRequest("before= takes the id of a job.", content_type="text/plain; charset=utf-8")
        jobs = jobs.filter(id__lt=int(before))
    page = list(jobs[: JOB_PAGE_SIZE + 1])
    shown = page[:JOB_PAGE_SIZE]
    is_admin = principal_of(request).is_system_admin
    return render(
        request,
        "registry_ui/jobs.html",
        {
            "rows": [(job, job_title(job)) for job in shown],
            "next_before": shown[-1].pk if len(page) > JOB_PAGE_SIZE else None,
            "is_first_page": not before,
            "gc_form": GarbageCollectionForm() if is_admin else None,
            "any_running": any(job.state not in FINISHED_STATES for job in shown),
        },
    )


@never_cache
@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """`/jobs/<id>/`: state, phase and progress while it runs; counts, names and errors when done."""
    job = get_job_for_user(request, job_id)
    match job_request_of(job):
        case DeletionRequest(repository=repository_name):
            project_name = project_name_of(repository_name)
        case RetentionRequest(project=project_name):
            repository_name = ""
        case _:
            repository_name = project_name = ""
    return render(
        request,
        "registry_ui/job.html",
        {
            "job": job,
            "title": job_title(job),
            "finished": job.state in FINISHED_STATES,
            "duration": duration(job),
            "facts": result_facts(job),
            "lists": result_lists(job),
            "collection_note": collection_note(job),
            # Links back only to what is still there: a deletion may have taken the repository.
            "repository_exists": bool(repository_name) and Repository.objects.filter(name=repository_name).exists(),
            "project_exists": bool(project_name) and Project.objects.filter(name=project_name).exists(),
            "repository_name": repository_name,
            "project_name": project_name,
        },
    )


@never_cache
@login_required
def job_status_json(request: HttpRequest, job_id: int) -> JsonResponse:
    """`/jobs/<id>/status`: the job's state and progress as JSON, polled by the job page's script."""
    return JsonResponse(job_status(get_job_for_user(request, job_id)))


@login_required
def garbage_collection(request: HttpRequest) -> HttpResponse:
    """`/admin/garbage-collection/`: the schedule, the grace window, what a collection now frees
    and what waits for the window, the last collections, and starting one."""
    require_system_admin(request)
    return _render_garbage_collection(request, GarbageCollectionForm())


def _render_garbage_collection(request: HttpRequest, form: GarbageCollectionForm, status: int = 200) -> HttpResponse:
    outlook = collection_outlook()
    return render(
        request,
        "registry_ui/garbage_collection.html",
        {"outlook": outlook, "recent": [(job, collection_note(job)) for job in outlook.recent], "form": form},
        status=status,
    )


@login_required
@require_POST
def start_garbage_collection(request: HttpRequest) -> HttpResponse:
    """POST `/jobs/garbage-collection/`: a collection now, with the configured grace window or,
    once the administrator confirmed the risk to pushes in flight, a shorter one."""
    require_system_admin(request)
    form = GarbageCollectionForm(request.POST)
    if not form.is_valid():
        return _render_garbage_collection(request, form, status=400)
    dry_run = form.cleaned_data["dry_run"]
    collection = GarbageCollectionRequest(grace_seconds=form.grace_seconds())
    try:
        job = request_job(collection, dry_run=dry_run, requested_by=request.user)  # type: ignore[arg-type]
    except JobNotSent as unsent:
        # Kept pending: beat sends it once the queue is back; the job page shows it waiting.
        messages.warning(request, str(unsent))
        return redirect("ui:job-detail", job_id=unsent.job.pk)
    messages.success(request, f"Garbage collection{' (dry run)' if dry_run else ''} requested as job #{job.pk}.")
    return redirect("ui:job-detail", job_id=job.pk)

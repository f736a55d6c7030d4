"""How the dashboard describes a job: a title naming what it works on, and its result as labelled
facts. Results are each job kind's `as_dict()` (v2api/services), read generically so a new
counter shows up without a template change."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from registry_ui.templatetags.sizes import binary_size
from registry_ui.templatetags.sizes import duration as window
from v2api.models import Job, ReplicationRule
from v2api.services.job_requests import DeletionRequest, ReplicationRequest, RetentionRequest, job_request_of

# Result keys holding byte counts; the page shows them human-readable and exact.
BYTE_KEYS = frozenset({"bytes_freed", "bytes_to_free", "bytes_waiting_for_grace", "bytes_in_recycle_bin"})
LABELS = {
    "bytes_to_free": "Bytes the next garbage collection frees",
    "bytes_freed": "Bytes freed",
    "bytes_waiting_for_grace": "Bytes waiting for the grace window",
    "bytes_in_recycle_bin": "Bytes kept by deletions still in a recycle bin",
    "recycled_deletions_expired": "Deletions whose recycle-bin window ended",
    "links_deleted": "Repository links deleted",
    "files_without_row_deleted": "Blob files without a database row deleted",
    "dry_run": "Dry run",
}
# Shown in the title instead of among the facts.
TITLE_KEYS = frozenset({"repository", "project", "dry_run"})
FINISHED_STATES = frozenset({Job.State.SUCCEEDED, Job.State.FAILED})


@dataclass(frozen=True)
class Fact:
    label: str
    value: Any
    is_bytes: bool = False


@dataclass(frozen=True)
class ResultList:
    label: str
    items: list[str]


def job_title(job: Job) -> str:
    """`Deletion in team/app`, `Garbage collection (dry run)`, `Retention in project team`."""
    match job_request_of(job):
        case DeletionRequest(repository=repository, whole_repository=whole_repository):
            title = f"Deletion {'repository' if whole_repository else 'in'} {repository}"
        case RetentionRequest(project=project):
            title = f"Retention in project {project}"
        case ReplicationRequest(rule=rule_id, only=only):
            name = ReplicationRule.objects.filter(id=rule_id).values_list("name", flat=True).first()
            title = f"Replication {name or f'rule #{rule_id} (deleted)'}" + (f" of {', '.join(only)}" if only else "")
        case _:
            title = str(job.get_kind_display()).capitalize()  # type: ignore[attr-defined]
    return f"{title} (dry run)" if job.dry_run else title


def result_facts(job: Job) -> list[Fact]:
    """The result's counters by name, bytes last. Postgres' jsonb keeps keys in its own order
    (shortest first), not the order the service wrote them."""
    counters = [
        (key, value)
        for key, value in (job.result or {}).items()
        if key not in TITLE_KEYS and isinstance(value, int | float)
    ]
    counters.sort(key=lambda item: (item[0] in BYTE_KEYS, item[0]))
    return [
        Fact(LABELS.get(key, key.replace("_", " ").capitalize()), value, key in BYTE_KEYS) for key, value in counters
    ]


def duration(job: Job) -> str:
    """How long the job ran: `0.4 s`, `12 s`, `3 min 5 s`; empty until it has finished."""
    if job.started_at is None or job.finished_at is None:
        return ""
    seconds = (job.finished_at - job.started_at).total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def result_lists(job: Job) -> list[ResultList]:
    """What the job named one by one: tags and manifests deleted, tags per repository for retention."""
    lists = []
    for key, value in (job.result or {}).items():
        if isinstance(value, list) and value:
            lists.append(ResultList(key.replace("_", " ").capitalize(), [_list_item(item) for item in value]))
        elif isinstance(value, dict):
            for repository, items in sorted(value.items()):
                if isinstance(items, list) and items:
                    lists.append(ResultList(f"{key.capitalize()} in {repository}", [str(item) for item in items]))
    return lists


def _list_item(item: Any) -> str:
    # A replication's failures: the image and why it was not copied.
    if isinstance(item, dict) and "item" in item and "error" in item:
        return f"{item['item']}: {item['error']}"
    return str(item)


def job_status(job: Job) -> dict[str, Any]:
    """What the job page's script polls for."""
    return {
        "id": job.pk,
        "state": job.state,
        "phase": job.phase,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "finished": job.state in FINISHED_STATES,
        "error": job.error,
    }


def collection_note(job: Job) -> str:
    """Why a finished collection freed what it freed, when the figure alone would puzzle: nothing
    freed right after a deletion that promised bytes, because they are younger than the window."""
    if job.kind != Job.Kind.GARBAGE_COLLECTION or job.state != Job.State.SUCCEEDED:
        return ""
    result = job.result or {}
    freed, waiting = int(result.get("bytes_freed", 0)), int(result.get("bytes_waiting_for_grace", 0))
    grace = timedelta(seconds=int(job.parameters.get("grace_seconds", 0)))
    freed_text = f"{'would free' if job.dry_run else 'freed'} {binary_size(freed) if freed else 'nothing'}"
    if waiting:
        later = timezone.localtime(job.created_at + grace)
        return (
            f"It {freed_text}: {binary_size(waiting)} more is garbage but younger than its {window(grace)} grace "
            f"window, which keeps the layers of pushes in flight; a collection after {later:%Y-%m-%d %H:%M} frees it."
        )
    if not freed:
        return f"It {freed_text}: every layer and image is still in use, and nothing waits for the grace window."
    return ""

"""Project storage quotas: the one rule for new bytes entering a project, and how full it is.

A project's usage is usage.py's project_stored_bytes (a layer its repositories share counts once).
Bytes enter a project as chunks arrive in an open upload, when a whole blob is uploaded in one
request, and when a blob is mounted into one of its repositories; uploads.py and blobs.py ask
`check_quota` right then, so every way of pushing meets it, and an upload left open cannot hold
more than the quota leaves.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Sum
from redis.exceptions import RedisError

from accounts.models import Project
from audit import actions
from audit.models import Outcome
from audit.recorder import record
from oci.digests import Digest
from v2api.errors import Denied
from v2api.models import ManifestReference, Repository, Upload
from v2api.parsing import Descriptor
from v2api.services.usage import project_stored_bytes

logger = logging.getLogger(__name__)

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")
# From here a project is nearly full: its bar turns amber, and crossing it is a `quota.near` event.
WARNING_PERCENT = 80
# A project's quota.near and quota.exceeded are each recorded (and sent to its webhooks) once in
# this many seconds: a client retrying a refused layer, several layers at once, and each layer of
# a push crossing the warning level would otherwise make an event and a delivery apiece.
QUOTA_EVENT_SECONDS = 300


@dataclass(frozen=True)
class QuotaUse:
    """A project's usage against its quota, for the dashboard's bars."""

    used_bytes: int
    quota_bytes: int | None

    @property
    def percent(self) -> float:
        """How full, 0 to 100 (more when over); 0 without a quota."""
        if not self.quota_bytes:
            return 0.0
        return 100.0 * self.used_bytes / self.quota_bytes

    @property
    def level(self) -> str:
        """ "ok", "warn" from WARNING_PERCENT, "full" from 100 %: the bar's colour."""
        if self.percent >= 100:
            return "full"
        return "warn" if self.percent >= WARNING_PERCENT else "ok"


class QuotaExceeded(Denied):
    """A quota refusal, and the `quota.exceeded` event it owes the audit log and the webhooks:
    check_quota records it at once, unless the caller checked inside a transaction that the
    refusal rolls back (a manifest push), which records it after."""

    def __init__(self, message: str, detail: dict[str, Any], project: Project, resource: str, event: dict[str, Any]):
        super().__init__(message, detail=detail)
        self.project, self.resource, self.event = project, resource, event

    def record(self) -> None:
        _record_once_a_while(
            actions.QUOTA_EXCEEDED, self.project, resource=self.resource, outcome=Outcome.FAILURE, detail=self.event
        )


def check_quota(
    repository: Repository,
    digest: Digest | None,
    size: int,
    finishing: Upload | None = None,
    needs: str | None = None,
    record_refusal: bool = True,
) -> None:
    """Refuse `size` bytes entering `repository` if they take the project past its quota.

    The rule (Harbor's, with open uploads counted): what the project's manifests reference, plus
    the bytes its open uploads hold, plus `size`, must stay within the quota. A blob (`digest`)
    some manifest of the project already references adds nothing, as it is counted once already;
    without a digest, `size` is a chunk arriving in an open upload (or, as `needs` words it, the
    layers a proxy project is about to fetch for an image). `finishing` is the upload that
    becomes the blob, whose bytes are the blob's and count once. A project without a quota is
    unlimited and costs one query at most. Raises Denied (403 `DENIED`), whose message docker,
    podman and skopeo print.

    Under concurrent pushes into one project each request checks the usage it sees, so the quota
    may be overshot by one chunk or blob per request in flight; the next one then meets it.
    """
    project = repository.project
    if project.quota_bytes is None:
        return
    if digest is not None:
        already_used = ManifestReference.objects.filter(
            blob__digest=str(digest), manifest__repository__project_id=project.id
        ).exists()
        if already_used:
            return
    open_uploads = Upload.objects.filter(repository__project_id=project.id)
    if finishing is not None:
        open_uploads = open_uploads.exclude(id=finishing.id)
    uploading = int(open_uploads.aggregate(total=Sum("size"))["total"] or 0)
    used_bytes = project_stored_bytes(project.name) + uploading
    if used_bytes + size <= project.quota_bytes:
        # As the bytes that cross the line arrive, not on every chunk after (blobs no manifest
        # references yet do not count, so each layer of a push that crosses it says so).
        warning_bytes = project.quota_bytes * WARNING_PERCENT // 100
        if used_bytes < warning_bytes <= used_bytes + size:
            _record_once_a_while(
                actions.QUOTA_NEAR,
                project,
                resource=repository.name,
                detail={
                    "project": project.name,
                    "quota_bytes": project.quota_bytes,
                    "used_bytes": used_bytes + size,
                    "warning_percent": WARNING_PERCENT,
                },
            )
        return
    if needs is None:
        needs = "this layer needs" if digest is not None else "this chunk of an upload needs"
    detail = {
        "project": project.name,
        "quota_bytes": project.quota_bytes,
        "used_bytes": used_bytes,
        "needed_bytes": size,
    }
    refusal = QuotaExceeded(
        f"quota exceeded: project {project.name} uses {human_size(used_bytes)} of"
        f" {human_size(project.quota_bytes)}; {needs} {human_size(size)}",
        detail,
        project,
        repository.name,
        {**detail, **({"digest": str(digest)} if digest is not None else {})},
    )
    if record_refusal:
        # Outside any transaction (uploads check before the bytes are installed): the refusal is
        # recorded, and its webhooks told, although the request fails.
        refusal.record()
    raise refusal


def check_image_quota(repository: Repository, descriptors: list[Descriptor]) -> None:
    """Refuse an image whose blobs would take the project past its quota (QuotaExceeded, not
    recorded: the caller is inside the push's transaction). What no manifest of the project
    references yet counts, stored or not: a layer uploaded, mounted or fetched on its own counted
    nothing while no manifest referenced it, and passed its own check alone, so without this an
    image of many layers, each under the quota, would take the project far past it."""
    if repository.project.quota_bytes is None:
        return
    referenced = set(
        ManifestReference.objects.filter(
            manifest__repository__project_id=repository.project.id,
            blob__digest__in=[str(descriptor.digest) for descriptor in descriptors],
        ).values_list("blob__digest", flat=True)
    )
    new_bytes = sum({str(d.digest): d.size for d in descriptors if str(d.digest) not in referenced}.values())
    if new_bytes:
        check_quota(repository, None, new_bytes, needs="this image needs", record_refusal=False)


def _record_once_a_while(action: str, project: Project, **event: Any) -> None:
    try:
        first = cache.add(f"quota-event:{action}:{project.pk}", 1, timeout=QUOTA_EVENT_SECONDS)
    except (RedisError, OSError) as error:
        logger.warning("%s recorded without the cache, which is unreachable: %s", action, error)
        first = True
    if first:
        record(action, project=project.name, **event)


def human_size(value: int) -> str:
    """`300 MiB`, `9.8 GiB`, `512 bytes`: sizes in a message a terminal prints.

    The dashboard's `binary_size` filter writes a no-break space and always one decimal, for
    table cells; a client's error line reads better with a plain space and without a trailing `.0`.
    """
    if value < 1024:
        return f"{value} byte{'' if value == 1 else 's'}"
    size = float(value)
    for unit in _UNITS:
        size /= 1024
        if size < 1024 or unit == _UNITS[-1]:
            break
    text = f"{size:.1f}".removesuffix(".0")
    return f"{text} {unit}"

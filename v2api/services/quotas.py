"""Project storage quotas: the one rule for new bytes entering a project, and how full it is.

A project's usage is usage.py's project_stored_bytes (a layer its repositories share counts once).
Bytes enter a project when an upload finishes or a blob is mounted into one of its repositories;
uploads.py and blobs.py ask `check_quota` right before that, so every way of pushing meets it.
"""

from dataclasses import dataclass

from accounts.models import Project
from oci.digests import Digest
from v2api.errors import Denied
from v2api.models import ManifestReference, Repository
from v2api.services.usage import project_stored_bytes

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


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
        """ "ok", "warn" from 80 %, "full" from 100 %: the bar's colour."""
        if self.percent >= 100:
            return "full"
        return "warn" if self.percent >= 80 else "ok"


def check_quota(repository: Repository, digest: Digest, size: int) -> None:
    """Refuse a blob of `size` bytes entering `repository` if it takes the project past its quota.

    The rule (Harbor's): usage plus the blob's size must stay within the quota, where a blob some
    manifest of the project already references adds nothing, as it is counted once already. A
    project without a quota is unlimited and costs one
    query. Raises Denied (403 `DENIED`), whose message docker, podman and skopeo print.

    Under concurrent pushes into one project each request checks the usage it sees, so the quota
    may be overshot by blobs in flight, and layers of a push count only once its manifest names
    them (project_stored_bytes counts what manifests reference); the next push then meets the quota.
    """
    project_name, quota_bytes = (
        Project.objects.filter(id=repository.project_id).values_list("name", "quota_bytes").get()
    )
    if quota_bytes is None:
        return
    already_used = ManifestReference.objects.filter(
        blob__digest=str(digest), manifest__repository__project_id=repository.project_id
    ).exists()
    if already_used:
        return
    used_bytes = project_stored_bytes(project_name)
    if used_bytes + size <= quota_bytes:
        return
    raise Denied(
        f"quota exceeded: project {project_name} uses {human_size(used_bytes)} of {human_size(quota_bytes)};"
        f" this layer needs {human_size(size)}",
        detail={"project": project_name, "quota_bytes": quota_bytes, "used_bytes": used_bytes, "needed_bytes": size},
    )


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

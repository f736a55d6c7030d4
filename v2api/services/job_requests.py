"""What a job is asked to do: one frozen dataclass per kind of job, checked when it is built.

The dashboard, the management API, the schedule and the maintenance commands build these, request_job
records one as the job's parameters, and the runner reads the same type back: the parameter names
and the rules on them are written here only. `as_parameters()` keeps the JSON keys jobs have always
been stored with, and `from_parameters()` gives keys an older row may lack the defaults the runner
always gave them, so queued and finished jobs from before these types still read.

A value that breaks a rule raises Django's ValidationError keyed by parameter name (the API's field
names), with the messages the API answers with; serializers and forms report it on that field.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from django.conf import settings
from django.core.exceptions import ValidationError

from oci.digests import Digest, InvalidDigest
from oci.names import InvalidName, check_repository_name, is_tag
from v2api.models import Job


def check_repository(name: str) -> None:
    """A repository name by the distribution spec's grammar."""
    try:
        check_repository_name(name)
    except InvalidName as error:
        raise ValidationError(f"Not a repository name: {error.detail['reason']}.") from None


def check_tags(tags: Iterable[str]) -> None:
    """Tags by the distribution spec's grammar; names every tag that is not one."""
    invalid = [tag for tag in tags if not is_tag(tag)]
    if invalid:
        raise ValidationError(f"Not a tag: {', '.join(invalid)}.")


def check_digests(digests: Iterable[str]) -> None:
    """Digests the registry can address: the first one that is not says why."""
    for digest in digests:
        try:
            Digest.parse(digest)
        except InvalidDigest as error:
            raise ValidationError(f"{digest} is not a digest: {error.detail['reason']}.") from None


def check_deletion_target(tags: Sequence[str], digests: Sequence[str], whole_repository: bool) -> None:
    """Tags or digests, or else the whole repository: one of them, and never both."""
    names_something = bool(tags or digests)
    if whole_repository and names_something:
        raise ValidationError({"whole_repository": "A whole repository is deleted without naming tags or digests."})
    if not (whole_repository or names_something):
        raise ValidationError({"tags": "Name tags or digests to delete, or set whole_repository."})


def _check_not_negative(name: str, seconds: int) -> None:
    if seconds < 0:
        raise ValidationError({name: "Ensure this value is greater than or equal to 0."})


@dataclass(frozen=True)
class DeletionRequest:
    """Delete tags (their images stay), images by manifest digest (with every tag on them), or the
    whole repository, in one repository."""

    kind: ClassVar[str] = Job.Kind.DELETION
    repository: str
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()
    whole_repository: bool = False

    def __post_init__(self) -> None:
        # Every field's problem at once, as a form or a serializer reports them; then the combination.
        checks: dict[str, Callable[[], None]] = {
            "repository": lambda: check_repository(self.repository),
            "tags": lambda: check_tags(self.tags),
            "digests": lambda: check_digests(self.digests),
        }
        errors: dict[str, list[str]] = {}
        for name, check in checks.items():
            try:
                check()
            except ValidationError as error:
                errors[name] = error.messages
        if errors:
            raise ValidationError(errors)
        check_deletion_target(self.tags, self.digests, self.whole_repository)

    def as_parameters(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tags": list(self.tags),
            "digests": list(self.digests),
            "whole_repository": self.whole_repository,
        }

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> Self:
        return cls(
            repository=parameters["repository"],
            tags=tuple(parameters.get("tags", ())),
            digests=tuple(parameters.get("digests", ())),
            whole_repository=parameters.get("whole_repository", False),
        )


@dataclass(frozen=True)
class GarbageCollectionRequest:
    """Collect garbage, keeping anything uploaded, mounted or linked within the grace window."""

    kind: ClassVar[str] = Job.Kind.GARBAGE_COLLECTION
    # The effective value is recorded, so the job says what it ran with.
    grace_seconds: int = field(default_factory=lambda: settings.REGISTRY_GC_GRACE_SECONDS)

    def __post_init__(self) -> None:
        _check_not_negative("grace_seconds", self.grace_seconds)

    def as_parameters(self) -> dict[str, Any]:
        return {"grace_seconds": self.grace_seconds}

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> Self:
        return cls(parameters["grace_seconds"]) if parameters.get("grace_seconds") is not None else cls()


@dataclass(frozen=True)
class UploadPurgeRequest:
    """Purge uploads untouched for `max_age_seconds`."""

    kind: ClassVar[str] = Job.Kind.PURGE_UPLOADS
    max_age_seconds: int = field(default_factory=lambda: settings.REGISTRY_STALE_UPLOAD_SECONDS)

    def __post_init__(self) -> None:
        _check_not_negative("max_age_seconds", self.max_age_seconds)

    def as_parameters(self) -> dict[str, Any]:
        return {"max_age_seconds": self.max_age_seconds}

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> Self:
        return cls(parameters["max_age_seconds"]) if parameters.get("max_age_seconds") is not None else cls()


@dataclass(frozen=True)
class RetentionRequest:
    """Apply a project's retention rules now. Any name is accepted: whether the project exists and
    who may run its rules is the caller's question, asked before the job is requested."""

    kind: ClassVar[str] = Job.Kind.RETENTION
    project: str

    def as_parameters(self) -> dict[str, Any]:
        return {"project": self.project}

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> Self:
        return cls(parameters["project"])


@dataclass(frozen=True)
class ReplicationRequest:
    """Run a replication rule now; with `only`, just those images (`repository:tag` on the source
    side), as a retry of a run's failed ones or after a push does."""

    kind: ClassVar[str] = Job.Kind.REPLICATION
    rule: int
    only: tuple[str, ...] | None = None

    def as_parameters(self) -> dict[str, Any]:
        return {"rule": self.rule, "only": None if self.only is None else list(self.only)}

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> Self:
        only = parameters.get("only")
        return cls(parameters["rule"], None if only is None else tuple(only))


JobRequest = DeletionRequest | GarbageCollectionRequest | UploadPurgeRequest | RetentionRequest | ReplicationRequest

REQUEST_TYPES: dict[str, type[JobRequest]] = {
    Job.Kind.DELETION: DeletionRequest,
    Job.Kind.GARBAGE_COLLECTION: GarbageCollectionRequest,
    Job.Kind.PURGE_UPLOADS: UploadPurgeRequest,
    Job.Kind.RETENTION: RetentionRequest,
    Job.Kind.REPLICATION: ReplicationRequest,
}


def job_request_of(job: Job) -> JobRequest:
    """What `job` was asked to do, read back from its stored parameters."""
    return REQUEST_TYPES[job.kind].from_parameters(job.parameters or {})

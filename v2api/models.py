"""Registry metadata. Postgres is the truth for what a repository can see; blob bytes live on
disk under v2api/storage/paths.py and a row never points at a file that is not there."""

import uuid

from django.conf import settings
from django.db import models


class Repository(models.Model):
    name = models.CharField(max_length=255, unique=True)
    # The project named by the name's first component (oci.names.project_name_of), set when the
    # repository is created (services/repositories.py). PROTECT: a project goes only once empty.
    project = models.ForeignKey("accounts.Project", on_delete=models.PROTECT, related_name="repositories")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "repositories"

    def __str__(self) -> str:
        return self.name


class Blob(models.Model):
    """Content-addressed bytes on disk, shared by every repository that links them."""

    digest = models.CharField(max_length=200, unique=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.digest


class RepositoryBlob(models.Model):
    """A repository may serve this blob: it was pushed or mounted there."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="blob_links")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="repository_links")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "blob"], name="unique_repository_blob")]


class Manifest(models.Model):
    """A manifest exactly as a client pushed it, in one repository.

    Unlike blobs, manifests are kept per repository: deleting one, its tags and its referrers
    are all questions asked of one repository, and the bytes are small enough to keep twice.
    """

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="manifests")
    digest = models.CharField(max_length=200)
    media_type = models.CharField(max_length=255)
    content = models.BinaryField()
    size = models.IntegerField()
    artifact_type = models.CharField(max_length=255, blank=True)
    subject_digest = models.CharField(max_length=200, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    pushed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "digest"], name="unique_repository_manifest")]
        indexes = [models.Index(fields=["repository", "subject_digest"], name="manifest_referrers")]

    def __str__(self) -> str:
        return f"{self.repository.name}@{self.digest}"


class ManifestReference(models.Model):
    """An edge from a manifest to what it needs: a blob (config, layer) or a child manifest (index)."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="references")
    blob = models.ForeignKey(Blob, null=True, on_delete=models.PROTECT, related_name="manifest_references")
    child = models.ForeignKey(Manifest, null=True, on_delete=models.CASCADE, related_name="parent_references")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(blob__isnull=False, child__isnull=True)
                | models.Q(blob__isnull=True, child__isnull=False),
                name="manifest_reference_one_target",
            )
        ]


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=128)
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="tags")
    updated_at = models.DateTimeField(auto_now=True)
    # Kept from the audit log's pull batches (services/pull_times.py), so as late as their flush.
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    # In a proxy-cache project: when the upstream last confirmed what this tag names
    # (REGISTRY_PROXY_MANIFEST_TTL); None elsewhere.
    upstream_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="unique_repository_tag")]

    def __str__(self) -> str:
        return f"{self.repository.name}:{self.name}"


class RecycledDeletion(models.Model):
    """What one deletion removed from a repository, kept restorable until `expires_at`
    (services/recycle_bin.py). It holds copies of the manifests its tags named or it deleted, and
    keeps their blobs from the collector until it expires or is deleted permanently."""

    # The repository row may be gone (a whole repository deleted): the bin keeps its name.
    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="recycled_deletions")
    repository_name = models.CharField(max_length=255)
    # The audit action of the deletion (tag.delete, image.delete, repository.delete).
    action = models.CharField(max_length=64)
    # Each deleted tag and the digest it was on.
    tags = models.JSONField(default=dict, blank=True)
    deleted_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"deletion {self.pk} in {self.repository_name}"


class RecycledManifest(models.Model):
    """A manifest as it was pushed, kept by a recycled deletion to be stored again on restore."""

    deletion = models.ForeignKey(RecycledDeletion, on_delete=models.CASCADE, related_name="manifests")
    digest = models.CharField(max_length=200)
    media_type = models.CharField(max_length=255)
    content = models.BinaryField()
    # False: kept only because a deleted tag named it (the manifest itself stayed).
    deleted = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deletion", "digest"], name="unique_recycled_manifest")]


class RecycledBlob(models.Model):
    """A blob a recycled deletion's manifests reference: the collector keeps it while this row exists."""

    deletion = models.ForeignKey(RecycledDeletion, on_delete=models.CASCADE, related_name="blobs")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="recycled_by")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deletion", "blob"], name="unique_recycled_blob")]


class Upload(models.Model):
    """A blob upload in progress. Its bytes are in uploads/<id>/data, so any process can go on with it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="uploads")
    # Who opened it (the caller's subject), for the cap on open uploads per caller.
    # A robot's subject (robot$<project>+<name>) runs longer than a user name.
    started_by = models.CharField(max_length=512, blank=True, db_index=True)
    # Bytes received so far, kept with each chunk: they count against the project's quota while
    # the upload is open (quotas.py).
    size = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class RetentionPolicy(models.Model):
    """How a project cleans itself: retention rules on tags, and whether untagged manifests go."""

    project = models.OneToOneField("accounts.Project", on_delete=models.CASCADE, related_name="retention_policy")
    # Rules run on beat's schedule only when enabled; a simulation works either way.
    enabled = models.BooleanField(default=False)
    # The garbage collector removes untagged manifests that nothing tagged needs (never an index's
    # child or a referrer of something kept).
    delete_untagged = models.BooleanField(default=False)
    # Tags matching this glob (e.g. "v*,release-*") are never removed by a rule.
    always_keep_tags = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"retention of {self.project}"


class RetentionRule(models.Model):
    """Among the tags this rule selects, keep the N most recently pushed, or those pushed within N days.

    A tag that some rule selects but no rule keeps is removed; a tag no rule selects is left alone.
    """

    policy = models.ForeignKey(RetentionPolicy, on_delete=models.CASCADE, related_name="rules")
    # Globs on the repository path inside the project ("**" is every one) and on the tag.
    repositories = models.CharField(max_length=255, default="**")
    tags = models.CharField(max_length=255, default="*")
    keep_most_recent = models.PositiveIntegerField(null=True, blank=True)
    keep_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(keep_most_recent__isnull=False, keep_days__isnull=True)
                | models.Q(keep_most_recent__isnull=True, keep_days__isnull=False),
                name="retention_rule_one_criterion",
            )
        ]


class ImmutableTagRule(models.Model):
    """Tags matching both globs cannot be moved to another digest or deleted (services/immutability.py)."""

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="immutable_tag_rules")
    # Globs as retention's (retention.matches): on the repository path inside the project, and on the tag.
    repositories = models.CharField(max_length=255, default="**")
    tags = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"rule {self.pk}: repositories {self.repositories}, tags {self.tags}"


class Job(models.Model):
    """A background job and its record: deletion, garbage collection, upload purge, retention or replication."""

    class Kind(models.TextChoices):
        DELETION = "deletion"
        GARBAGE_COLLECTION = "garbage_collection"
        PURGE_UPLOADS = "purge_uploads"
        RETENTION = "retention"
        REPLICATION = "replication"

    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    dry_run = models.BooleanField(default=False)
    parameters = models.JSONField(default=dict, blank=True)
    # Counts and bytes when done (e.g. blobs_deleted, bytes_freed); errors met on the way.
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    phase = models.CharField(max_length=64, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="registry_jobs"
    )
    # Run from a shell (manage.py collectgarbage, …) rather than by beat's schedule: neither has a user.
    from_command_line = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="job_newest_first")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


class ProjectUsageSnapshot(models.Model):
    """What a project held on one day, recorded by the `record_usage_snapshots` beat task.

    One row per project and day: a second run on the same day updates it, so the task is safe to repeat.
    """

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="usage_snapshots")
    date = models.DateField()
    # project_usage's total: each blob its manifests reference, once.
    total_bytes = models.BigIntegerField()
    repository_count = models.PositiveIntegerField()
    tag_count = models.PositiveIntegerField()
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "date"], name="unique_project_usage_day")]

    def __str__(self) -> str:
        return f"usage of {self.project} on {self.date}"


class ReplicationRule(models.Model):
    """Copy a project's images to another registry (push) or another registry's into the project
    (pull), with their index children and referrers (services/replication.py)."""

    class Direction(models.TextChoices):
        PUSH = "push"
        PULL = "pull"

    class Trigger(models.TextChoices):
        MANUAL = "manual"
        SCHEDULE = "schedule"
        ON_PUSH = "on_push"

    name = models.CharField(max_length=100, unique=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    # Any v2 registry, as http(s)://host[:port]; the password is sealed (accounts/sealing.py).
    remote_url = models.CharField(max_length=255)
    remote_username = models.CharField(max_length=255, blank=True)
    remote_password_sealed = models.TextField(blank=True)
    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="replication_rules")
    # Globs as retention's (services/globs.py): on the repository path inside the project, and on the tag.
    repositories = models.CharField(max_length=255, default="**")
    tags = models.CharField(max_length=255, default="*")
    # Where the repositories live on the remote: `<remote_namespace>/<path in the project>`;
    # blank is the remote's top level.
    remote_namespace = models.CharField(max_length=255, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    # With the schedule trigger: beat starts a run when the last one started this long ago.
    schedule_seconds = models.PositiveIntegerField(null=True, blank=True)
    last_scheduled_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"replication rule {self.name} ({self.direction} {self.remote_url})"

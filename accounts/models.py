"""Who may do what: projects (the first component of a repository name), members with roles,
robot accounts for CI and personal access tokens. Users are Django's own."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    GUEST = "guest", "Guest (pull)"
    DEVELOPER = "developer", "Developer (pull, push)"
    MAINTAINER = "maintainer", "Maintainer (pull, push, delete)"
    ADMIN = "admin", "Project admin (all, and manage members and robots)"


class Project(models.Model):
    """`team-a/api/server` lives in project `team-a`."""

    name = models.CharField(max_length=255, unique=True)
    public = models.BooleanField(default=False, help_text="Anyone, even anonymous, may pull.")
    # Bytes its repositories may hold (v2api/services/quotas.py enforces it on push); None: unlimited.
    quota_bytes = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Storage quota in bytes, a layer shared inside the project counted once; empty: unlimited.",
    )
    # A proxy-cache project (v2api/services/proxy.py): its repositories are pulled through from
    # this upstream v2 registry and never pushed to. Empty: an ordinary project.
    proxy_url = models.URLField(
        blank=True, default="", help_text="Upstream registry, e.g. https://registry-1.docker.io."
    )
    proxy_username = models.CharField(max_length=255, blank=True, default="")
    # Encrypted with a key derived from SECRET_KEY (accounts/sealing.py), never shown.
    proxy_password_sealed = models.TextField(blank=True, default="")
    # How long deleted tags and images stay in its recycle bin (v2api/services/recycle_bin.py);
    # None: REGISTRY_RECYCLE_SECONDS, 0: no bin.
    recycle_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Seconds deleted tags and images stay restorable; 0: none; empty: the registry's default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quota_bytes__isnull=True) | models.Q(quota_bytes__gt=0),
                name="project_quota_positive",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_proxy(self) -> bool:
        return bool(self.proxy_url)


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_project_member")]


class GroupMembership(models.Model):
    """A group of the company directory given a role in a project: each person in the group holds
    it, next to any role of their own (the higher one counts). The group is Django's, kept in
    step with the directory's by each login (AUTH_LDAP_MIRROR_GROUPS), named by its cn."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="group_memberships")
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="project_memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "group"], name="unique_project_group")]


class Credential(models.Model):
    """What robot accounts and personal tokens share: a hashed secret that can expire or be revoked."""

    name = models.CharField(max_length=64)
    secret_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class RobotAccount(Credential):
    """A project's machine user for CI. It logs in as `robot$<project>+<name>`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="robots")
    description = models.CharField(max_length=255, blank=True)
    can_pull = models.BooleanField(default=True)
    can_push = models.BooleanField(default=False)
    can_delete = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_project_robot")]

    @property
    def username(self) -> str:
        return f"robot${self.project.name}+{self.name}"

    def __str__(self) -> str:
        return self.username


class PersonalAccessToken(Credential):
    """A password substitute for scripts and `docker login`, revocable on its own."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="unique_user_token_name")]

    def __str__(self) -> str:
        return f"{self.user}/{self.name}"


class CredentialVersion(models.Model):
    """How often a user was deactivated: part of their credential version (with the password
    hash), which refresh tokens carry, so one issued before a deactivation stays refused even
    once the account is active again. A user without a row was never deactivated."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True)
    deactivations = models.PositiveIntegerField(default=0)


class DirectoryDeactivation(models.Model):
    """A directory person the re-check deactivated (accounts/services/directory_recheck.py), and
    why: the directory's word, which it takes back when it has them again (their next directory
    login, or the next re-check that finds them enabled). An administrator's (de)activation deletes
    the row: theirs is the word that holds then. Kept here, not read from the audit log, which
    names people by a username that can be reused and is no place for a rule to depend on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="directory_deactivation"
    )
    reason = models.CharField(max_length=64)
    deactivated_at = models.DateTimeField(default=timezone.now)


class SingleSignOnIdentity(models.Model):
    """The person an OpenID Connect provider signs on, by the provider's own stable name for them:
    its issuer and the ID token's `sub`. A username claim (preferred_username) may change, or be
    chosen by the person; matching on it would let a provider account take over another user."""

    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="single_sign_on_identity"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="unique_single_sign_on_identity")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class LastSeen(models.Model):
    """When a person last used the registry through any door: the dashboard, `docker login` and
    every token a client fetches, Basic on /v2/ and the API, a refresh token. Written at most once
    per REGISTRY_LAST_SEEN_SECONDS per person (accounts/services/last_seen.py), never per request;
    robots keep theirs in RobotAccount.last_used_at, written the same way."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="last_seen"
    )
    seen_at = models.DateTimeField()

"""The audit log: who did what, from where, to which resource, and how it ended.

Actors and projects are kept by name, not by foreign key: the record outlives the user, robot or
project it names, and a deleted project's history stays readable by the system administrators.
"""

from django.db import models
from django.utils import timezone


class ActorKind(models.TextChoices):
    USER = "user"
    ROBOT = "robot"
    ANONYMOUS = "anonymous"
    SYSTEM = "system"


class Outcome(models.TextChoices):
    SUCCESS = "success"
    FAILURE = "failure"


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    # A robot's name (robot$<project>+<name>) runs longer than a user name.
    actor_name = models.CharField(max_length=512, blank=True)
    client_address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=64)
    # The project the resource belongs to; empty for registry-wide events (users, logins, GC).
    project = models.CharField(max_length=255, blank=True)
    resource = models.CharField(max_length=1024, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(default=dict, blank=True)
    # Set on events that travel through the pull buffer: a batch written twice (a flush that
    # crashed between its commit and trimming the buffer) inserts each event once.
    event_id = models.UUIDField(null=True, blank=True, unique=True)

    class Meta:
        indexes = [
            models.Index(fields=["-occurred_at", "-id"], name="audit_newest_first"),
            models.Index(fields=["project", "-occurred_at", "-id"], name="audit_project_newest_first"),
            models.Index(fields=["actor_name", "-occurred_at"], name="audit_actor_newest_first"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_name or self.actor_kind} {self.action} {self.resource}"
        )

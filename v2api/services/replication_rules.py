"""Replication rules as system administrators save them, from the API or the dashboard: one
write path, so both refuse the same rules with the same messages (ValidationError keyed by field)."""

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Project
from accounts.sealing import seal
from accounts.services.projects import normalized_proxy_url
from audit import actions
from audit.recorder import record
from oci.names import InvalidName, check_repository_name
from v2api.models import ReplicationRule
from v2api.services.globs import normalised

# A schedule more often than this would start runs faster than most finish.
MINIMUM_SCHEDULE_SECONDS = 60


@dataclass
class RuleSettings:
    """What a rule is made of; the password is given in clear and sealed here ("" keeps the one
    saved, None removes it)."""

    name: str
    direction: str
    remote_url: str
    project: Project
    remote_username: str = ""
    remote_password: str | None = ""
    repositories: str = "**"
    tags: str = "*"
    remote_namespace: str = ""
    trigger: str = ReplicationRule.Trigger.MANUAL
    schedule_seconds: int | None = None
    enabled: bool = True


def settings_of(rule: ReplicationRule) -> RuleSettings:
    """The settings a rule has, to change some of them (a PATCH, the edit form)."""
    values = {
        field.name: getattr(rule, field.name) for field in fields(RuleSettings) if field.name != "remote_password"
    }
    return RuleSettings(**values)


def save_replication_rule(rule: ReplicationRule | None, wanted: RuleSettings) -> ReplicationRule:
    """Create a rule (`rule` None) or change one to `wanted`; raises ValidationError."""
    errors: dict[str, str] = {}
    try:
        parts = urlsplit(wanted.remote_url.strip())
        # A ValueError for a port that is no number or out of range, as for "https://[::1".
        if parts.port == 0:
            raise ValueError("port 0")
        credentials_in_url = "@" in parts.netloc
        remote_url = "" if credentials_in_url else normalized_proxy_url(wanted.remote_url)
    except (ValidationError, ValueError):
        credentials_in_url, remote_url = False, ""
        errors["remote_url"] = "Give the remote registry as http(s)://host[:port], e.g. https://registry.example.com."
    if credentials_in_url:
        # Kept in the URL, the password would be shown wherever the URL is: this API, the
        # dashboard, the audit log, every error naming the remote.
        errors["remote_url"] = "Give the username and password in their own fields, not in the URL."
    elif not remote_url and "remote_url" not in errors:
        errors["remote_url"] = "Name the remote registry."
    if wanted.direction not in ReplicationRule.Direction.values:
        errors["direction"] = "Either push (to the remote) or pull (from it)."
    if wanted.trigger not in ReplicationRule.Trigger.values:
        errors["trigger"] = "One of manual, schedule, on_push."
    elif wanted.trigger == ReplicationRule.Trigger.SCHEDULE:
        if wanted.schedule_seconds is None or wanted.schedule_seconds < MINIMUM_SCHEDULE_SECONDS:
            errors["schedule_seconds"] = f"A schedule runs at most every {MINIMUM_SCHEDULE_SECONDS} seconds."
    elif wanted.trigger == ReplicationRule.Trigger.ON_PUSH and wanted.direction != ReplicationRule.Direction.PUSH:
        errors["trigger"] = "Only a push rule runs on push: a pull has nothing pushed here to follow."
    if wanted.direction == ReplicationRule.Direction.PULL and wanted.project.proxy_url:
        errors["project"] = f"Project {wanted.project.name} is a proxy cache; it takes no images but its upstream's."
    if (
        rule is not None
        and rule.remote_password_sealed
        and wanted.remote_password == ""
        and remote_url != rule.remote_url
    ):
        # The saved password is write-only: moved along, it would be sent to whatever host the
        # rule now names, for anyone who may edit the rule to read there.
        errors["remote_password"] = (
            "The remote registry changed: give its password again; the saved one goes to no other host."
        )
    namespace = wanted.remote_namespace.strip().strip("/")
    if namespace:
        try:
            check_repository_name(namespace)
        except InvalidName:
            errors["remote_namespace"] = "Not a repository path on the remote, e.g. `mirror` or `team/images`."
    repositories, tags = normalised(wanted.repositories), normalised(wanted.tags)
    for field, value in (("repositories", repositories), ("tags", tags)):
        if not value:
            errors[field] = "Give at least one glob, e.g. `*`."
    if not wanted.name.strip():
        errors["name"] = "Give the rule a name."
    if errors:
        raise ValidationError(errors)
    values: dict[str, Any] = {
        "name": wanted.name.strip(),
        "direction": wanted.direction,
        "remote_url": remote_url,
        "remote_username": wanted.remote_username,
        "project": wanted.project,
        "repositories": repositories,
        "tags": tags,
        "remote_namespace": namespace,
        "trigger": wanted.trigger,
        "schedule_seconds": wanted.schedule_seconds if wanted.trigger == ReplicationRule.Trigger.SCHEDULE else None,
        "enabled": wanted.enabled,
    }
    if wanted.remote_password is None:
        values["remote_password_sealed"] = ""
    elif wanted.remote_password:
        values["remote_password_sealed"] = seal(wanted.remote_password)
    action = actions.REPLICATION_RULE_CHANGE if rule else actions.REPLICATION_RULE_ADD
    rule = rule or ReplicationRule()
    for name, value in values.items():
        setattr(rule, name, value)
    try:
        with transaction.atomic():
            rule.save()
            record(action, project=rule.project.name, resource=rule.name, detail=_audited(rule, wanted))
    except IntegrityError:
        raise ValidationError({"name": "A replication rule with this name already exists."}) from None
    return rule


def delete_replication_rule(rule: ReplicationRule) -> None:
    """The rule goes; its runs stay in the job history."""
    with transaction.atomic():
        record(
            actions.REPLICATION_RULE_REMOVE,
            project=rule.project.name,
            resource=rule.name,
            detail={"rule": rule.pk, "remote_url": rule.remote_url},
        )
        rule.delete()


def _audited(rule: ReplicationRule, wanted: RuleSettings) -> dict[str, Any]:
    """What the audit log keeps of a saved rule: where it sends what, as whom; of the password only
    whether it was set or removed."""
    return {
        "rule": rule.pk,
        "direction": rule.direction,
        "remote_url": rule.remote_url,
        "remote_username": rule.remote_username,
        "remote_namespace": rule.remote_namespace,
        "repositories": rule.repositories,
        "tags": rule.tags,
        "trigger": rule.trigger,
        "enabled": rule.enabled,
        "password_changed": wanted.remote_password != "",
    }

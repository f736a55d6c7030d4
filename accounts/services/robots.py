"""Robot accounts and personal access tokens: made with a secret shown once, revoked for good.

The management API and the dashboard both create and revoke through these functions, so a
robot made in either place has the same name rules, the same secret format and the same hash.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import PersonalAccessToken, Project, RobotAccount
from accounts.services.credentials import TOKEN_SECRET_PREFIX, new_secret
from audit import actions
from audit.recorder import record

ROBOT_SECRET_PREFIX = "hl_robot_"
# Robot names end up in `robot$<project>+<name>`: no `+`, `$` or `/`, so the login name parses back.
ROBOT_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass(frozen=True)
class NewRobot:
    robot: RobotAccount
    secret: str


@dataclass(frozen=True)
class NewToken:
    token: PersonalAccessToken
    secret: str


def check_robot_name(project: Project, name: str) -> None:
    """Raise ValidationError({"name": …}) if `name` is malformed or taken in `project`."""
    if not ROBOT_NAME.match(name):
        raise ValidationError({"name": "Use lowercase letters and digits, separated by single '.', '_' or '-'."})
    if project.robots.filter(name=name).exists():
        raise ValidationError({"name": f"Project {project.name} already has a robot named {name}."})


def check_token_name(user: User, name: str) -> None:
    if user.access_tokens.filter(name=name).exists():
        raise ValidationError({"name": f"You already have a token named {name}."})


def check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must lie in the future."})


def create_robot(
    project: Project,
    name: str,
    *,
    description: str = "",
    can_pull: bool = True,
    can_push: bool = False,
    can_delete: bool = False,
    expires_at: datetime | None = None,
) -> NewRobot:
    """Make a robot account of `project`; its secret is returned this once, only its hash is kept.

    Raises ValidationError naming the field (malformed or taken name, past expiry), also when a
    concurrent request took the name between the check and the insert.
    """
    check_robot_name(project, name)
    check_expiry(expires_at)
    secret, secret_hash = new_secret(ROBOT_SECRET_PREFIX)
    try:
        with transaction.atomic():
            robot = RobotAccount.objects.create(
                project=project,
                name=name,
                description=description,
                can_pull=can_pull,
                can_push=can_push,
                can_delete=can_delete,
                expires_at=expires_at,
                secret_hash=secret_hash,
            )
            record(
                actions.ROBOT_CREATE,
                project=project.name,
                resource=robot.username,
                detail={"pull": can_pull, "push": can_push, "delete": can_delete},
            )
    except IntegrityError:
        raise ValidationError({"name": f"Project {project.name} already has a robot named {name}."}) from None
    return NewRobot(robot=robot, secret=secret)


def create_personal_token(user: User, name: str, *, expires_at: datetime | None = None) -> NewToken:
    """Make a personal access token for `user`; its secret is returned this once. Raises ValidationError."""
    check_token_name(user, name)
    check_expiry(expires_at)
    secret, secret_hash = new_secret(TOKEN_SECRET_PREFIX)
    try:
        with transaction.atomic():
            token = PersonalAccessToken.objects.create(
                user=user, name=name, expires_at=expires_at, secret_hash=secret_hash
            )
            record(actions.TOKEN_CREATE, resource=str(token))
    except IntegrityError:
        raise ValidationError({"name": f"You already have a token named {name}."}) from None
    return NewToken(token=token, secret=secret)


def revoke(credential: RobotAccount | PersonalAccessToken) -> bool:
    """Revoke a robot account or token: it can no longer log in. Revoking twice keeps the first
    time; returns whether this call revoked it."""
    with transaction.atomic():
        updated = (
            type(credential).objects.filter(id=credential.id, revoked_at__isnull=True).update(revoked_at=timezone.now())
        )
        if updated and isinstance(credential, RobotAccount):
            record(actions.ROBOT_REVOKE, project=credential.project.name, resource=credential.username)
        elif updated:
            record(actions.TOKEN_REVOKE, resource=str(credential))
    return updated > 0

"""Checking who logs in: a user's password, a robot account's secret or a personal access token.

Robot secrets and personal tokens are random and long, so a plain SHA-256 of them is a safe,
indexable hash (the slow hashes are for passwords people choose). The plain secret is shown
once, when it is made, and never stored.
"""

import hashlib
import logging
import secrets

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import PersonalAccessToken, RobotAccount
from accounts.permissions import ANONYMOUS, Principal
from accounts.services import login_throttle
from oci.request_edge import is_storable_text

logger = logging.getLogger("accounts.login")
ROBOT_PREFIX = "robot$"


def new_secret(prefix: str) -> tuple[str, str]:
    """A fresh secret and its hash; the prefix (hl_robot_, hl_pat_) makes leaked ones easy to spot."""
    secret = prefix + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate_login(username: str, secret: str, address: str) -> tuple[Principal, str] | None:
    """The principal a username and secret stand for, and what credential it was
    (`user`, `robot:<id>`, `token:<id>`), or None. Raises LoginThrottled after too many failures."""
    login_throttle.check(username, address)
    if not (is_storable_text(username) and is_storable_text(secret)):
        # No account has such a name or secret, and the lookup would fail in Postgres: a failed
        # login like any other, counted, so NUL bytes do not buy unlimited attempts.
        found = None
    elif username.startswith(ROBOT_PREFIX):
        found = _robot(username, secret)
    else:
        found = _user(username, secret)
    if found is None:
        login_throttle.record_failure(username, address)
        logger.warning("failed login for %r from %s", username, address)
        return None
    return found


def principal_for_credential(subject: str, credential: str) -> Principal | None:
    """Re-check a credential named in a refresh token: still there, still active."""
    kind, _, identifier = credential.partition(":")
    if kind == "robot":
        robot = RobotAccount.objects.select_related("project").filter(id=identifier).first()
        if robot is not None and robot.is_active and robot.username == subject:
            return Principal(subject=subject, robot=robot)
        return None
    user: User | None
    if kind == "token":
        token = PersonalAccessToken.objects.select_related("user").filter(id=identifier).first()
        if token is None or not token.is_active:
            return None
        user = token.user
    else:
        user = User.objects.filter(username=subject).first()
    if user is None or not user.is_active or user.get_username() != subject:
        return None
    return Principal(subject=subject, user=user)


def _user(username: str, secret: str) -> tuple[Principal, str] | None:
    user = authenticate(username=username, password=secret)
    if user is not None:
        return Principal(subject=user.get_username(), user=user), "user"
    token = (
        PersonalAccessToken.objects.select_related("user")
        .filter(secret_hash=hash_secret(secret), user__username=username, user__is_active=True)
        .first()
    )
    if token is None or not token.is_active:
        return None
    PersonalAccessToken.objects.filter(id=token.id).update(last_used_at=timezone.now())
    return Principal(subject=token.user.get_username(), user=token.user), f"token:{token.id}"


def _robot(username: str, secret: str) -> tuple[Principal, str] | None:
    project_name, _, robot_name = username[len(ROBOT_PREFIX) :].partition("+")
    robot = (
        RobotAccount.objects.select_related("project")
        .filter(project__name=project_name, name=robot_name, secret_hash=hash_secret(secret))
        .first()
    )
    if robot is None or not robot.is_active:
        return None
    RobotAccount.objects.filter(id=robot.id).update(last_used_at=timezone.now())
    return Principal(subject=robot.username, robot=robot), f"robot:{robot.id}"


def principal_for_subject(subject: str) -> Principal:
    """The principal a token's `sub` names, as it stands now; anonymous if it is gone or inactive."""
    if not subject:
        return ANONYMOUS
    if subject.startswith(ROBOT_PREFIX):
        project_name, _, robot_name = subject[len(ROBOT_PREFIX) :].partition("+")
        robot = (
            RobotAccount.objects.select_related("project").filter(project__name=project_name, name=robot_name).first()
        )
        return Principal(subject=subject, robot=robot) if robot is not None and robot.is_active else ANONYMOUS
    user = User.objects.filter(username=subject, is_active=True).first()
    return Principal(subject=subject, user=user) if user is not None else ANONYMOUS

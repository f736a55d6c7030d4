"""Checking who logs in: a user's password, a robot account's secret or a personal access token.

Robot secrets and personal tokens are random and long, so a plain SHA-256 of them is a safe,
indexable hash (the slow hashes are for passwords people choose). The plain secret is shown
once, when it is made, and never stored.
"""

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.directory import is_directory_account
from accounts.models import CredentialVersion, PersonalAccessToken, RobotAccount
from accounts.permissions import ANONYMOUS, Principal
from accounts.services import login_throttle
from accounts.services.last_seen import record_seen
from audit import actions
from audit.context import actor_for_subject
from audit.models import Outcome
from audit.recorder import record
from oci.request_edge import is_storable_text

logger = logging.getLogger("accounts.login")
ROBOT_PREFIX = "robot$"
TOKEN_SECRET_PREFIX = "hl_pat_"


def new_secret(prefix: str) -> tuple[str, str]:
    """A fresh secret and its hash; the prefix (hl_robot_, hl_pat_) makes leaked ones easy to spot."""
    secret = prefix + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _RememberedLogins:
    """Logins this process verified lately, by a keyed digest of username and secret (never the
    secret itself): a script with `curl -u` or a CI tool sends Basic with every request, and a
    password hash costs 0.2-0.3 s. An entry names the credential and its version, which is checked
    against the database on every use, so a password change, a new secret, a revocation or a
    deactivation ends it at once, in every process."""

    SECONDS = 60
    LIMIT = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logins: OrderedDict[str, tuple[float, str, str, str]] = OrderedDict()

    def principal(self, username: str, secret: str) -> tuple[Principal, str] | None:
        key = self._key(username, secret)
        with self._lock:
            entry = self._logins.get(key)
        if entry is None:
            return None
        expires_at, subject, credential, version = entry
        principal = principal_for_credential(subject, credential, version) if expires_at > time.monotonic() else None
        if principal is None:
            with self._lock:
                self._logins.pop(key, None)
            return None
        return principal, credential

    def remember(self, username: str, secret: str, subject: str, credential: str, version: str) -> None:
        entry = (time.monotonic() + self.SECONDS, subject, credential, version)
        with self._lock:
            self._logins[self._key(username, secret)] = entry
            while len(self._logins) > self.LIMIT:
                self._logins.popitem(last=False)

    @staticmethod
    def _key(username: str, secret: str) -> str:
        return salted_hmac("accounts.remembered_login", f"{username}\0{secret}").hexdigest()


_remembered = _RememberedLogins()


def authenticate_login(
    username: str, secret: str, address: str, channel: str = "basic"
) -> tuple[Principal, str] | None:
    """The principal a username and secret stand for, and what credential it was
    (`user`, `robot:<id>`, `token:<id>`), or None. Raises LoginThrottled after too many failures,
    and DirectoryUnavailable when a password needed the company directory and it did not answer
    (not counted as a failure: the password may well be right).

    Every failure goes to the audit log. A success does too when `channel` is a login ("token":
    `docker login` and every token a client fetches with a password), not for "basic", the
    credentials a script sends with each API or /v2/ request; and only when the secret was
    checked, not remembered from the last minute, so a client fetching tokens in a loop does
    not fill the log."""
    login_throttle.check(username, address)
    remembered = _remembered.principal(username, secret)
    if remembered is not None:
        record_seen(remembered[0])
        return remembered
    if not (is_storable_text(username) and is_storable_text(secret)):
        # No account has such a name or secret, and the lookup would fail in Postgres: a failed
        # login like any other, counted, so NUL bytes do not buy unlimited attempts.
        found = None
    elif username.startswith(ROBOT_PREFIX):
        found = _robot(username, secret)
    else:
        found = _user(username, secret)
    if found is None:
        record_failed_login(username, address, channel)
        return None
    principal, credential = found
    if channel != "basic":
        record(
            actions.LOGIN,
            resource=principal.subject,
            actor=actor_for_subject(principal.subject),
            address=address,
            detail={"channel": channel},
        )
    if principal.robot is not None:
        version = _version_of(credential, principal.robot.secret_hash, None)
    else:
        assert principal.user is not None
        secret_hash = hash_secret(secret) if credential.startswith("token:") else principal.user.password
        version = _version_of(credential, secret_hash, principal.user)
    _remembered.remember(username, secret, principal.subject, credential, version)
    record_seen(principal)
    return found


def may_refresh(principal: Principal, credential: str) -> bool:
    """Whether a login may be given a refresh token. Not a directory person's password: the
    directory alone knows when it is changed or the person disabled, and a refresh token would
    outlive that for weeks; their clients log in again with the password instead."""
    return not (credential == "user" and principal.user is not None and is_directory_account(principal.user))


def record_failed_login(username: str, address: str, channel: str) -> None:
    """Count a failed login toward the throttle, and log and audit it (and the throttle closing,
    after which the attempts it refuses are not checked, so not recorded one by one)."""
    closed = login_throttle.record_failure(username, address)
    logger.warning("failed login for %r from %s", username, address)
    record(
        actions.LOGIN_FAILED,
        resource=username,
        outcome=Outcome.FAILURE,
        actor=actor_for_subject(username),
        address=address,
        detail={"channel": channel},
    )
    for scope in closed:
        record(
            actions.LOGIN_THROTTLED,
            resource=username if scope == "account" else address,
            outcome=Outcome.FAILURE,
            actor=actor_for_subject(username),
            address=address,
            detail={
                "refused": "this account" if scope == "account" else "every account",
                "seconds": settings.REGISTRY_LOGIN_FAILURE_WINDOW,
            },
        )


def record_login(username: str, channel: str) -> None:
    """Audit a login that Django checked itself (the dashboard's session login)."""
    record(actions.LOGIN, resource=username, actor=actor_for_subject(username), detail={"channel": channel})


def credential_version(subject: str, credential: str) -> str:
    """The current version of a credential, for a refresh token to carry. Raises LookupError if
    the credential is gone or no longer active."""
    current = _current_credential(subject, credential)
    if current is None:
        raise LookupError(f"{credential} of {subject!r} is not active")
    return current[1]


def principal_for_credential(subject: str, credential: str, version: str) -> Principal | None:
    """Re-check a credential named in a refresh token: still there, still active, and of the
    version the token was issued for (so not since a password change or a deactivation)."""
    current = _current_credential(subject, credential)
    if current is None or not hmac.compare_digest(current[1], version):
        return None
    return current[0]


def _current_credential(subject: str, credential: str) -> tuple[Principal, str] | None:
    """The principal of an active credential and its version: a digest of what ends it, the
    secret's hash (a robot or token rotated) and, for people, the deactivation count (a password
    change changes the password hash itself)."""
    kind, _, identifier = credential.partition(":")
    if kind == "robot":
        robot = RobotAccount.objects.select_related("project").filter(id=identifier).first()
        if robot is None or not robot.is_active or robot.username != subject:
            return None
        return Principal(subject=subject, robot=robot), _version_of(credential, robot.secret_hash, None)
    user: User | None
    if kind == "token":
        token = PersonalAccessToken.objects.select_related("user").filter(id=identifier).first()
        if token is None or not token.is_active:
            return None
        user, secret_hash = token.user, token.secret_hash
    else:
        user = User.objects.filter(username=subject).first()
        secret_hash = user.password if user is not None else ""
    if user is None or not user.is_active or user.get_username() != subject:
        return None
    return Principal(subject=subject, user=user), _version_of(credential, secret_hash, user)


def _version_of(credential: str, secret_hash: str, user: User | None) -> str:
    """The version of a credential given its secret's hash and, for people, their user."""
    parts = [credential, secret_hash]
    if user is not None:
        deactivations = CredentialVersion.objects.filter(user=user).values_list("deactivations", flat=True).first()
        parts.append(str(deactivations or 0))
    # Keyed with SECRET_KEY: the version travels in a readable JWT and must say nothing of the hash.
    return salted_hmac("accounts.credential_version", "\0".join(parts)).hexdigest()[:32]


def end_credential_versions(user: User) -> None:
    """A deactivation ends the refresh tokens of the user and of their personal tokens, issued
    before it, for good: activating the account again does not bring them back."""
    CredentialVersion.objects.get_or_create(user=user)
    CredentialVersion.objects.filter(user=user).update(deactivations=F("deactivations") + 1)


def _user(username: str, secret: str) -> tuple[Principal, str] | None:
    # What looks like a personal token is only ever tried as one, even a revoked or mistyped one:
    # it never reaches the directory, where a failed bind would count toward locking the person
    # out (ppolicy, Active Directory), and a token keeps working while the directory is down.
    if secret.startswith(TOKEN_SECRET_PREFIX):
        return _personal_token(username, secret)
    user = authenticate(username=username, password=secret)
    if user is not None:
        # A login from docker, skopeo or curl is a login too: "Last login" is not only the dashboard's.
        User.objects.filter(id=user.pk).update(last_login=timezone.now())
        return Principal(subject=user.get_username(), user=user), "user"
    return _personal_token(username, secret)


def _personal_token(username: str, secret: str) -> tuple[Principal, str] | None:
    token = (
        PersonalAccessToken.objects.select_related("user")
        .filter(secret_hash=hash_secret(secret), user__username=username, user__is_active=True)
        .first()
    )
    if token is None or not token.is_active:
        return None
    PersonalAccessToken.objects.filter(id=token.id).update(last_used_at=timezone.now())
    User.objects.filter(id=token.user_id).update(last_login=timezone.now())
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

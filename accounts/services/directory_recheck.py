"""The periodic re-check of the company directory's people (beat, REGISTRY_LDAP_RECHECK_SECONDS):
"deactivated in the directory means refused here" without waiting for the person's next login,
which may never come while their personal access tokens and dashboard session keep working.

With the service account (REGISTRY_LDAP_BIND_DN), each active user who came from the directory is
looked up as a login would (the user search, so an Active Directory filter that leaves disabled
accounts out finds them missing); groups and system administrator are copied again. A person
missing from the directory, or disabled there, is deactivated here: their personal access tokens
are revoked, refresh tokens end with the deactivation, their dashboard sessions too. The people it
deactivated are looked up as well, and one the directory has again, enabled, is active again
(accounts/services/directory_deactivations.py); a person an administrator deactivated is not looked
up.

A directory that does not answer, or answers anything but "found" or "not found", changes nothing
for the person being checked and ends the run: a misconfigured search base must not deactivate
everyone. Nor must a search filter changed so that it matches nobody: the people it does not find
are deactivated only once the run is over, and not at all when it found none of several people.
Running it twice in a row changes nothing the second time. Runs never overlap: beat sends one
every REGISTRY_LDAP_RECHECK_SECONDS whether the last one ended or not, and with many people a
run outlasts that interval; a run that finds another still going checks nobody.
"""

import hashlib
import logging
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from redis.exceptions import RedisError

from accounts.directory import DirectoryBackend, DirectoryUnavailable, every_error_is_an_outage
from accounts.models import DirectoryDeactivation, PersonalAccessToken
from accounts.services.credentials import end_credential_versions
from accounts.services.directory_deactivations import BACK, reactivate
from accounts.services.robots import revoke
from audit import actions
from audit.recorder import record

logger = logging.getLogger("accounts.directory")

# ppolicy's value for a lock only an administrator lifts, OpenLDAP's "disabled". Any other time
# is a lockout after failed passwords, which ends on its own: a stranger typing wrong passwords
# must not get someone deactivated here.
PERMANENT_LOCK = "000001010000Z"
# Active Directory's userAccountControl bit ACCOUNTDISABLE.
ACCOUNT_DISABLED = 0x2
LOCK_ATTRIBUTES = ["pwdAccountLockedTime", "userAccountControl", "nsAccountLock"]
REMOVED = "removed from the directory"
DISABLED = "disabled in the directory"
# The task's time limit (accounts/tasks.py): a worker killed mid-run frees the next run after it.
LONGEST_RUN_SECONDS = 1800


@dataclass
class RecheckResult:
    checked: int = 0
    deactivated: dict[str, str] = field(default_factory=dict)
    reactivated: list[str] = field(default_factory=list)
    admin_granted: list[str] = field(default_factory=list)
    admin_revoked: list[str] = field(default_factory=list)
    directory_failed: bool = False
    already_running: bool = False
    # The user search found none of these people (at least two): more likely a changed filter
    # than everyone leaving the company at once, so nobody was deactivated.
    found_nobody: bool = False


def directory_people() -> Any:
    """Users who came from the directory (no local password, no single sign-on identity), active
    or deactivated by the re-check."""
    return User.objects.filter(
        Q(is_active=True) | Q(directory_deactivation__isnull=False),
        password__startswith=UNUSABLE_PASSWORD_PREFIX,
        single_sign_on_identity__isnull=True,
    ).order_by("id")


def recheck_directory_people() -> RecheckResult:
    """Look every directory person up again and deactivate those missing or disabled there.
    Never raises for a directory that is down: it logs, and the run changes nothing more."""
    result = RecheckResult()
    if "accounts.directory.DirectoryBackend" not in settings.AUTHENTICATION_BACKENDS:
        return result
    if not _claim_the_run():
        logger.warning("directory re-check skipped: another re-check is still running")
        result.already_running = True
        return result
    try:
        return _recheck_everyone(result)
    finally:
        with suppress(RedisError, OSError):
            cache.delete(running_key())


def running_key() -> str:
    """The cache key a running re-check holds, per directory server as the breaker's keys are:
    registries (and test sessions) sharing a Redis database do not wait for each other."""
    uri = getattr(settings, "AUTH_LDAP_SERVER_URI", "")
    return "directory-recheck:" + hashlib.sha256(uri.encode()).hexdigest()[:16]


def _claim_the_run() -> bool:
    """Whether no other re-check is running, and now this one is. In the cache, shared by every
    worker through Redis; with Redis unreachable the run goes on (overlapping is harmless, only
    wasteful)."""
    try:
        return bool(cache.add(running_key(), 1, timeout=LONGEST_RUN_SECONDS))
    except (RedisError, OSError) as error:
        logger.warning("directory re-check run without its lock, the cache is unreachable: %s", error)
        return True


def _recheck_everyone(result: RecheckResult) -> RecheckResult:
    backend = DirectoryBackend()
    missing: list[User] = []
    for user in directory_people():
        try:
            with transaction.atomic(), every_error_is_an_outage():
                if not _recheck(backend, user, result):
                    missing.append(user)
        except DirectoryUnavailable:
            logger.error(
                "directory re-check stopped at %s: the directory did not answer; they and the people after "
                "them are left as they were until the next run",
                user.get_username(),
            )
            result.directory_failed = True
            return result
        result.checked += 1
    if len(missing) == result.checked >= 2:
        logger.error(
            "directory re-check: the user search found none of the %d people who came from the directory; "
            "nobody was deactivated (check REGISTRY_LDAP_USER_SEARCH_BASE and REGISTRY_LDAP_USER_FILTER)",
            result.checked,
        )
        result.found_nobody = True
        return result
    for user in missing:
        if user.is_active:
            with transaction.atomic():
                _deactivate(user, REMOVED, result)
    return result


def _recheck(backend: DirectoryBackend, user: User, result: RecheckResult) -> bool:
    """Whether the user search found the person (if not, the caller decides what that means)."""
    was_admin = user.is_superuser
    # django-auth-ldap's own lookup as the service account, groups mirrored and the admin flag set
    # as at a login; None when the user search finds no entry (every LDAPError of it raises
    # DirectoryUnavailable here, so None means "not there").
    found: User | None = backend.populate_user(user.get_username())
    if found is None:
        return False
    # django-auth-ldap's documented ldap_user: the entry's DN and its service-bound connection.
    ldap_user = found.ldap_user  # type: ignore[attr-defined]
    try:
        if _is_disabled(ldap_user):
            if found.is_active:
                _deactivate(found, DISABLED, result)
            return True
    finally:
        with suppress(ldap.LDAPError):
            ldap_user.connection.unbind_s()
    if not found.is_active and reactivate(found):
        result.reactivated.append(found.get_username())
        logger.warning("activated %s again: %s", found.get_username(), BACK)
    if found.is_superuser != was_admin:
        (result.admin_granted if found.is_superuser else result.admin_revoked).append(found.get_username())
        record(
            actions.USER_ADMIN_GRANT if found.is_superuser else actions.USER_ADMIN_REVOKE,
            resource=found.get_username(),
            detail={"reason": "admin group in the directory"},
        )
    return True


def _is_disabled(ldap_user: Any) -> bool:
    """The entry's own lock: ppolicy's administrative lock, Active Directory's disabled bit,
    389-DS's nsAccountLock. Operational attributes, so asked for by name."""
    try:
        entries = ldap_user.connection.search_s(ldap_user.dn, ldap.SCOPE_BASE, "(objectClass=*)", LOCK_ATTRIBUTES)
    except ldap.LDAPError as error:
        logger.error("the directory failed while reading the lock of %s: %r", ldap_user.dn, error)
        raise DirectoryUnavailable() from error
    attributes: dict[str, list[bytes]] = {name.lower(): values for name, values in entries[0][1].items()}
    locked = [value.decode() for value in attributes.get("pwdaccountlockedtime", [])]
    control = [int(value) for value in attributes.get("useraccountcontrol", []) if value.isdigit()]
    inactivated = [value.decode().lower() for value in attributes.get("nsaccountlock", [])]
    return PERMANENT_LOCK in locked or any(value & ACCOUNT_DISABLED for value in control) or "true" in inactivated


def _deactivate(user: User, reason: str, result: RecheckResult) -> None:
    """As an administrator's deactivation (accounts/services/users.py), and a new unusable
    password, which changes the session hash and so ends the person's dashboard sessions. Their
    personal access tokens are revoked (each audited, as a revoke from the dashboard): the directory
    may have the person back, and a token copied to a CI job of the team they left must not work
    again with them."""
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])
    DirectoryDeactivation.objects.update_or_create(user=user, defaults={"reason": reason})
    end_credential_versions(user)
    for token in PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True):
        revoke(token)
    record(actions.USER_DEACTIVATE, resource=user.get_username(), detail={"reason": reason})
    result.deactivated[user.get_username()] = reason
    logger.warning("deactivated %s: %s", user.get_username(), reason)

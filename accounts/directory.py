"""Logins checked by the company directory (LDAP or Active Directory), through django-auth-ldap;
registry_ui/directory_settings.py reads its configuration from the environment.

The directory's people become users here on their first login (unusable local password, names and
email copied) and their groups are copied on every login. A local account, one with a password
here such as the administrator, is never logged into through the directory: an entry of the same
name there cannot take it over.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import User
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend, ldap_error, populate_user

from accounts import directory_breaker
from accounts.services.directory_deactivations import reactivate

logger = logging.getLogger("accounts.login")


class DirectoryUnavailable(Exception):
    """The directory could not be asked: down, unreachable, slower than REGISTRY_LDAP_TIMEOUT, or
    refusing the registry's own bind. The login neither succeeds nor counts as a failed one."""

    def __init__(self, retry_after: int = 30) -> None:
        super().__init__("the company directory (LDAP) is not answering; try again later")
        self.retry_after = retry_after


class _Call:
    """One libldap call in a thread of its own, and its outcome once it returns."""

    def __init__(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.returned = threading.Event()
        self.abandoned = False
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class _DirectoryCalls:
    """The threads that talk to the directory. libldap's timeouts do not bound everything (the TLS
    handshake of ldaps:// with a directory that accepts and never answers waits for good, whatever
    OPT_NETWORK_TIMEOUT says), so a request thread never waits on libldap itself: each call runs
    in a thread of its own, which the login gives up on at its deadline. An abandoned call goes on
    (libldap cannot be interrupted) until the directory drops the connection, or TCP gives up on
    one that drops packets, but holds up no later call: a fixed pool of threads would fill with
    such calls, and every later login would wait for a thread, whatever the directory does since.

    Abandoned calls still running are counted: at REGISTRY_LDAP_STUCK_CALLS no new call is made
    (logins that need the directory fail at once with the 503) until some end, so a directory that
    stalls every call cannot pile up threads. Daemon threads: a stuck one never holds up the
    process's exit either. Calls of a login are made one after the other, so the threads running
    calls that are not abandoned are at most the request threads waiting for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = 0

    def call(self, call: _Call, name: str, deadline: float, seconds_in_all: float) -> Any:
        """The call's outcome; ldap.TIMEOUT if it did not return by `deadline` (monotonic), the end
        of the login's `seconds_in_all`, or if too many calls are stuck to make it."""
        with self._lock:
            stuck = self._abandoned
        if stuck >= settings.REGISTRY_LDAP_STUCK_CALLS:
            raise ldap.TIMEOUT(
                {"desc": f"{stuck} calls to the directory never returned; no more are made until some end ({name})"}
            )
        seconds_left = deadline - time.monotonic()
        # A call after the deadline would wait for a connection a stuck call may hold (python-ldap
        # locks each connection around a call), only to be abandoned at once.
        if seconds_left > 0:
            threading.Thread(target=self._run, args=(call,), name=f"directory-{name}", daemon=True).start()
            if call.returned.wait(seconds_left) or not self._abandon(call):
                return call.outcome()
        raise ldap.TIMEOUT({"desc": f"no answer within {seconds_in_all} s ({name})"})

    def _run(self, call: _Call) -> None:
        try:
            call.result = call.function(*call.args, **call.kwargs)
        except BaseException as error:  # raised again in the login's thread
            call.error = error
        finally:
            with self._lock:
                if call.abandoned:
                    self._abandoned -= 1
                call.returned.set()

    def _abandon(self, call: _Call) -> bool:
        """Whether the call was still running and is now abandoned (not if it just returned)."""
        with self._lock:
            if call.returned.is_set():
                return False
            call.abandoned = True
            self._abandoned += 1
            return True


_directory_calls = _DirectoryCalls()


class _ConnectionWithDeadline:
    """A python-ldap connection whose every call is given up at the deadline of the login it
    serves, with ldap.TIMEOUT: an LDAPError, which _refuse_the_login turns into a 503."""

    def __init__(self, connection: Any, seconds: float) -> None:
        self._connection = connection
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._connection, name)
        if not callable(attribute):
            return attribute

        def call_within_the_deadline(*args: Any, **kwargs: Any) -> Any:
            return _directory_calls.call(_Call(attribute, args, kwargs), name, self._deadline, self._seconds)

        return call_within_the_deadline


class _LdapWithDeadlines:
    """The ldap module as django-auth-ldap uses it, whose connections each answer a login within
    `seconds` (REGISTRY_LDAP_TIMEOUT) in all."""

    def __init__(self, module: Any, seconds: float) -> None:
        self._module = module
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def initialize(self, uri: str, **kwargs: Any) -> _ConnectionWithDeadline:
        return _ConnectionWithDeadline(self._module.initialize(uri, **kwargs), self._seconds)


class DirectoryBackend(LDAPBackend):
    @property
    def ldap(self) -> Any:
        # REGISTRY_LDAP_TIMEOUT, which registry_ui/directory_settings.py gives libldap as OPT_TIMEOUT.
        seconds = self.settings.CONNECTION_OPTIONS.get(ldap.OPT_TIMEOUT, 5)
        return _LdapWithDeadlines(super().ldap, seconds)

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if username is None or is_local_account(username):
            return None
        seconds_open = directory_breaker.seconds_open()
        if seconds_open:
            raise DirectoryUnavailable(retry_after=seconds_open)
        # Raises DirectoryUnavailable, and counts toward the breaker, if the directory did not answer.
        user: User | None = super().authenticate(request, username, password, **kwargs)
        directory_breaker.record_answer()
        # django-auth-ldap does not look at is_active (Django's ModelBackend does): a person an
        # administrator deactivated is refused even though the directory still accepts the
        # password; one the re-check deactivated is back, the directory accepting them again.
        if user is None or not (user.is_active or reactivate(user)):
            return None
        return user

    def get_user(self, user_id: int) -> User | None:
        """The user of a dashboard session. django-auth-ldap does not look at is_active here
        either (Django's ModelBackend does): a person deactivated since, by an administrator or
        the directory re-check, would stay logged in."""
        user: User | None = super().get_user(user_id)
        return user if user is not None and user.is_active else None


def is_local_account(username: str) -> bool:
    """A user with a password of their own here (not a directory person's unusable one)."""
    return (
        User.objects.filter(username__iexact=username.strip())
        .exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .exists()
    )


def is_directory_account(user: User) -> bool:
    return not user.has_usable_password()


_every_error_is_an_outage: ContextVar[bool] = ContextVar("every_error_is_an_outage", default=False)


@contextmanager
def every_error_is_an_outage() -> Iterator[None]:
    """django-auth-ldap answers "no such user" for a failed user search, which a login may take
    for a refusal but the re-check (accounts/services/directory_recheck.py) would take for a
    person removed: inside, every LDAPError raises DirectoryUnavailable instead."""
    token = _every_error_is_an_outage.set(True)
    try:
        yield
    finally:
        _every_error_is_an_outage.reset(token)


# The directory is down, unreachable, overloaded or slower than REGISTRY_LDAP_TIMEOUT.
_NOT_ANSWERING = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.BUSY, ldap.UNAVAILABLE)


def _refuse_the_login(sender: type[LDAPBackend], context: str, exception: ldap.LDAPError, **kwargs: Any) -> None:
    """django-auth-ldap logs an LDAPError and answers "no such user or wrong password". A directory
    that does not answer, or refuses the registry's own service account (the person's wrong
    password is not an LDAPError here: django-auth-ldap turns INVALID_CREDENTIALS of their bind
    into a plain refusal), is the directory's fault: raising ends the login with a 503 and
    Retry-After. Anything else is a refused login, not an outage to retry: the person's bind
    refused otherwise (389-DS answers an inactivated account UNWILLING_TO_PERFORM), or the
    directory refusing what the registry asked (a search base it does not hold, a filter typo),
    which the log names as a configuration problem.

    Within a re-check of directory people (every_error_is_an_outage) any LDAPError is an outage:
    a search the directory refuses is no proof that the person is gone, and must not deactivate them."""
    if isinstance(exception, _NOT_ANSWERING):
        logger.error("the directory failed while %s: %r", context, exception)
        directory_breaker.record_outage()
        raise DirectoryUnavailable() from exception
    if _every_error_is_an_outage.get():
        logger.error("the directory failed while %s: %r", context, exception)
        raise DirectoryUnavailable() from exception
    if isinstance(exception, ldap.INVALID_CREDENTIALS):
        logger.error("the directory refused the registry's service account (REGISTRY_LDAP_BIND_DN): %r", exception)
        raise DirectoryUnavailable() from exception
    logger.error(
        "the directory refused the login while %s: %r; if every login fails so, check the REGISTRY_LDAP_* "
        "configuration (search bases, filters)",
        context,
        exception,
    )


ldap_error.connect(_refuse_the_login, sender=DirectoryBackend, dispatch_uid="accounts.directory")


def _fit_the_columns(sender: type[LDAPBackend], user: User, **kwargs: Any) -> None:
    """Names and mail as long as the directory allows would fail every login of the person in
    Postgres; they are cut to the columns' lengths, as single sign-on does."""
    for field, length in (("first_name", 150), ("last_name", 150), ("email", 254)):
        setattr(user, field, getattr(user, field)[:length])


populate_user.connect(_fit_the_columns, sender=DirectoryBackend, dispatch_uid="accounts.directory.columns")

"""Logins checked by the company directory (LDAP or Active Directory), through django-auth-ldap;
registry_ui/directory_settings.py reads its configuration from the environment.

The directory's people become users here on their first login (unusable local password, names and
email copied) and their groups are copied on every login. A local account, one with a password
here such as the administrator, is never logged into through the directory: an entry of the same
name there cannot take it over.
"""

import logging
from typing import Any

import ldap
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import User
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend, ldap_error

logger = logging.getLogger("accounts.login")


class DirectoryUnavailable(Exception):
    """The directory could not be asked: down, unreachable, slower than REGISTRY_LDAP_TIMEOUT, or
    refusing the registry's own bind. The login neither succeeds nor counts as a failed one."""

    retry_after = 30

    def __init__(self) -> None:
        super().__init__("the company directory (LDAP) is not answering; try again later")


class DirectoryBackend(LDAPBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if username is None or is_local_account(username):
            return None
        user: User | None = super().authenticate(request, username, password, **kwargs)
        # django-auth-ldap does not look at is_active (Django's ModelBackend does): a person the
        # registry deactivated is refused even though the directory still accepts the password.
        if user is None or not user.is_active:
            return None
        return user


def is_local_account(username: str) -> bool:
    """A user with a password of their own here (not a directory person's unusable one)."""
    return (
        User.objects.filter(username__iexact=username.strip())
        .exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .exists()
    )


def is_directory_account(user: User) -> bool:
    return not user.has_usable_password()


def _refuse_the_login(sender: type[LDAPBackend], context: str, exception: ldap.LDAPError, **kwargs: Any) -> None:
    """django-auth-ldap logs an LDAPError and answers "no such user or wrong password"; a person
    whose password is right would then be told it is wrong. A wrong password is not an LDAPError
    here (django-auth-ldap turns INVALID_CREDENTIALS of the person's bind into a plain refusal), so
    every error that reaches this signal is the directory's: raising ends the login with it."""
    logger.error("the directory failed while %s: %r", context, exception)
    raise DirectoryUnavailable() from exception


ldap_error.connect(_refuse_the_login, sender=DirectoryBackend, dispatch_uid="accounts.directory")

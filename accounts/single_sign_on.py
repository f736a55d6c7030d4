"""The dashboard's login through an OpenID Connect provider (authorization code with PKCE), by
mozilla-django-oidc; registry_ui/directory_settings.py reads its configuration.

A person is found by REGISTRY_OIDC_USERNAME_CLAIM and made a user on their first login, with an
unusable local password, as a directory person is; each login copies the REGISTRY_OIDC_GROUPS_CLAIM
groups onto the user (where project roles given to groups find them) and sets or clears system
administrator from REGISTRY_OIDC_ADMIN_GROUP. A local account is never logged into this way. docker
cannot follow a browser flow: these people make personal access tokens in the dashboard for it.
"""

import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group, User
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.directory import is_local_account
from oci.request_edge import is_storable_text

USERNAME_LENGTH = 150
# How far the provider's clock may be from ours when the ID token's iat, nbf and exp are checked.
CLOCK_LEEWAY_SECONDS = 60
logger = logging.getLogger("accounts.login")


class SingleSignOnBackend(OIDCAuthenticationBackend):
    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        """A provider that is down, slow (REGISTRY_OIDC_TIMEOUT) or refuses the code, or an ID token
        that does not check out (expired, not yet valid beyond the leeway, wrong nonce or
        algorithm), ends the sign-on on the login page with a message (LOGIN_REDIRECT_URL_FAILURE),
        not in a 500 or a bare 400."""
        try:
            user: User | None = super().authenticate(request, **kwargs)
        except requests.RequestException as error:
            logger.error("single sign-on failed at the provider: %r", error)
            return None
        except (jwt.InvalidTokenError, SuspiciousOperation) as error:
            logger.warning("single sign-on refused the provider's answer: %r", error)
            return None
        return user

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        """mozilla-django-oidc's check of the ID token, with a leeway for the clocks: PyJWT checks
        iat against now with none, so a registry one second behind the provider refused everyone."""
        algorithm = jwt.get_unverified_header(payload).get("alg")
        if algorithm != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"the ID token is signed with {algorithm!r}, not {self.OIDC_RP_SIGN_ALGO!r}")
        claims: dict[str, Any] = jwt.decode(
            payload, key, algorithms=[algorithm], options={"verify_aud": False}, leeway=CLOCK_LEEWAY_SECONDS
        )
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        username = _username(claims)
        return bool(username) and not is_local_account(username)

    def filter_users_by_claims(self, claims: dict[str, Any]) -> "QuerySet[User]":
        return User.objects.filter(username=_username(claims)).filter(password__startswith=UNUSABLE_PASSWORD_PREFIX)

    def create_user(self, claims: dict[str, Any]) -> User:
        user = User(username=_username(claims))
        user.set_unusable_password()
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        groups = _groups(claims)
        user.email = str(claims.get("email") or "")[:254]
        user.first_name = str(claims.get("given_name") or "")[:150]
        user.last_name = str(claims.get("family_name") or "")[:150]
        user.is_superuser = bool(settings.REGISTRY_OIDC_ADMIN_GROUP) and settings.REGISTRY_OIDC_ADMIN_GROUP in groups
        user.save()
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in groups])
        return user


def _username(claims: dict[str, Any]) -> str:
    value = claims.get(settings.REGISTRY_OIDC_USERNAME_CLAIM)
    if not isinstance(value, str) or not is_storable_text(value) or not 0 < len(value) <= USERNAME_LENGTH:
        return ""
    return value


def _groups(claims: dict[str, Any]) -> set[str]:
    """The groups claim as names; a provider that sends one group as a string is answered too."""
    value = claims.get(settings.REGISTRY_OIDC_GROUPS_CLAIM) or []
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return {name for name in names if isinstance(name, str) and is_storable_text(name) and 0 < len(name) <= 150}

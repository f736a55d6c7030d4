"""The dashboard's login through an OpenID Connect provider (authorization code with PKCE), by
mozilla-django-oidc; registry_ui/directory_settings.py reads its configuration.

A person is found by the ID token's issuer and subject (SingleSignOnIdentity, never by a name
claim, which may change or be chosen by the person) and made a user on their first login, named
by REGISTRY_OIDC_USERNAME_CLAIM, with an unusable local password, as a directory person is; a name
already taken here (a local account, a directory person) is refused, never merged. Each login
copies the REGISTRY_OIDC_GROUPS_CLAIM groups onto the user (where project roles given to groups
find them) and sets or clears system administrator from REGISTRY_OIDC_ADMIN_GROUP. docker cannot
follow a browser flow: these people make personal access tokens in the dashboard for it.
"""

import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import Group, User
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.models import SingleSignOnIdentity
from accounts.single_sign_on_provider import ProviderUnavailable, endpoint
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
        if "username" in kwargs or "password" in kwargs or not kwargs.get("nonce"):
            # Django asks every backend with a password login's credentials too: this one answers
            # only its own callback, which checked the state and brings the nonce and PKCE verifier.
            return None
        try:
            # Here, not in __init__: Django makes every backend for each password login too, and
            # those must not wait for a provider's discovery document.
            self.OIDC_OP_TOKEN_ENDPOINT = endpoint("OIDC_OP_TOKEN_ENDPOINT")
            self.OIDC_OP_USER_ENDPOINT = endpoint("OIDC_OP_USER_ENDPOINT")
            self.OIDC_OP_JWKS_ENDPOINT = endpoint("OIDC_OP_JWKS_ENDPOINT")
            user: User | None = super().authenticate(request, **kwargs)
        except ProviderUnavailable:
            return None
        except requests.RequestException as error:
            logger.error("single sign-on failed at the provider: %r", error)
            return None
        except (jwt.InvalidTokenError, SuspiciousOperation) as error:
            logger.warning("single sign-on refused the provider's answer: %r", error)
            return None
        return user

    def get_user(self, user_id: int) -> User | None:
        """The user of a dashboard session; mozilla-django-oidc does not look at is_active here
        (Django's ModelBackend does): a person deactivated since would stay logged in."""
        user: User | None = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        """mozilla-django-oidc's check of the ID token, with the audience checked and a leeway for
        the clocks: PyJWT checks iat against now with none, so a registry one second behind the
        provider refused everyone."""
        algorithm = jwt.get_unverified_header(payload).get("alg")
        if algorithm != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"the ID token is signed with {algorithm!r}, not {self.OIDC_RP_SIGN_ALGO!r}")
        claims: dict[str, Any] = jwt.decode(
            payload,
            key,
            algorithms=[algorithm],
            # mozilla-django-oidc does not check the audience: a token the provider issued to
            # another of its clients is not a sign-on here.
            audience=self.OIDC_RP_CLIENT_ID,
            # Known with discovery: a token from another issuer is not this provider's.
            issuer=getattr(settings, "REGISTRY_OIDC_ISSUER", "") or None,
            options={"require": ["iss", "sub", "aud", "iat", "exp"]},
            leeway=CLOCK_LEEWAY_SECONDS,
        )
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User | None:
        """The user the provider signed on, found by the ID token's issuer and subject; made on the
        first sign-on, unless its username is already someone else's here (a local account, a
        directory person, another provider account): then refused with a message, never merged."""
        claims: dict[str, Any] = self.get_userinfo(access_token, id_token, payload)
        issuer, subject = payload.get("iss"), payload.get("sub")
        if not (isinstance(issuer, str) and isinstance(subject, str) and 0 < len(issuer) <= 255 >= len(subject) > 0):
            raise SuspiciousOperation("the ID token names no usable issuer and subject")
        if claims.get("sub") != subject:
            raise SuspiciousOperation("the userinfo answer is about another subject than the ID token")
        identity = SingleSignOnIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        if identity is not None:
            return self.update_user(identity.user, claims)
        username = _username(claims)
        if not username:
            raise SuspiciousOperation(f"no usable {settings.REGISTRY_OIDC_USERNAME_CLAIM} claim")
        if User.objects.filter(username__iexact=username).exists():
            self._refuse(
                f"The name {username} is already taken here by another account, which single sign-on "
                "cannot log into. Ask an administrator."
            )
            return None
        with transaction.atomic():
            user = self.create_user(claims)
            SingleSignOnIdentity.objects.create(issuer=issuer, subject=subject, user=user)
        return user

    def _refuse(self, message: str) -> None:
        logger.warning("single sign-on refused: %s", message)
        if self.request is not None:
            messages.error(self.request, message)

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

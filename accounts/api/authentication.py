"""Who calls the management API: a dashboard session (with CSRF), or HTTP Basic with a user's
password, a personal access token or a robot secret.

Every view asks `principal_of(request)`, so the permission answers of accounts/permissions.py
see the same `Principal` whichever way the caller signed in. A robot has no Django user: its
`request.user` is None (as for anonymous callers, see UNAUTHENTICATED_USER) and its
`request.auth` is its Principal.
"""

from django.contrib.auth.models import User
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed, Throttled
from rest_framework.request import Request

from accounts.directory import DirectoryUnavailable
from accounts.permissions import ANONYMOUS, Principal
from accounts.services.credentials import authenticate_login
from accounts.services.login_throttle import LoginThrottled
from oci.request_edge import client_address, credentials_of

BASIC_CHALLENGE = 'Basic realm="Harbor-lite"'


class DirectoryUnavailableError(APIException):
    status_code = 503
    default_code = "directory_unavailable"


class LoginAuthentication(BaseAuthentication):
    """HTTP Basic checked by authenticate_login, so failed attempts count toward the login throttle."""

    def authenticate(self, request: Request) -> tuple[User | None, Principal] | None:
        credentials = credentials_of(request._request.META)
        if credentials.scheme != "basic":
            return None
        try:
            found = authenticate_login(
                credentials.username, credentials.secret, address=client_address(request._request.META)
            )
        except LoginThrottled as throttled:
            raise Throttled(wait=throttled.retry_after, detail="Too many failed logins.") from None
        except DirectoryUnavailable as unavailable:
            raise DirectoryUnavailableError(str(unavailable)) from None
        if found is None:
            raise AuthenticationFailed("Incorrect username or password.")
        principal = found[0]
        return principal.user, principal

    def authenticate_header(self, request: Request) -> str:
        return BASIC_CHALLENGE


def principal_of(request: Request) -> Principal:
    """The caller as accounts/permissions.py knows callers, whichever authentication found them."""
    if isinstance(request.auth, Principal):
        return request.auth
    user = request.user
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    return Principal.for_user(user)

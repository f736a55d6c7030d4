"""Who is calling /v2/ and whether they may: bearer tokens from /auth/token, HTTP Basic for
curl and scripts, or nobody (who may still pull from public projects).

A token is trusted for what its `access` claim grants, without a database query (the hot
GETs stay one query). When it lacks the scope, the caller's live permissions decide between
`401 insufficient_scope` (ask for a new token) and `403 DENIED` (no token would help).
"""

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from accounts.models import Project
from accounts.permissions import ANONYMOUS, Principal, allowed_actions, missing_project_message
from accounts.scopes import PULL, PUSH, Scope
from accounts.services.credentials import authenticate_login, principal_for_subject
from accounts.services.login_throttle import LoginThrottled
from accounts.services.projects import ensure_project_for_push
from accounts.tokens import InvalidToken, granted_scopes, verify_access_token
from accounts.views import basic_credentials, client_address
from oci.names import project_name_of
from v2api.errors import Denied, TooManyRequests, Unauthorized


@dataclass
class Caller:
    """The authenticated side of a request. `token_scopes` is None unless a bearer token came."""

    principal: Principal | None
    subject: str
    token_scopes: list[Scope] | None

    def live_principal(self) -> Principal:
        """The principal as it stands now, loaded only when a decision needs it."""
        if self.principal is None:
            self.principal = principal_for_subject(self.subject)
        return self.principal

    @property
    def presented_credentials(self) -> bool:
        return self.token_scopes is not None or self.principal is not ANONYMOUS


def authenticate_request(request: HttpRequest) -> Caller:
    """Read the Authorization header; raise Unauthorized for a bad token or bad credentials."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        try:
            claims = verify_access_token(value.strip())
        except InvalidToken as error:
            raise Unauthorized(
                f"invalid token: {error}",
                headers={"WWW-Authenticate": challenge(request, None, error="invalid_token")},
            ) from None
        subject = str(claims["sub"])
        # The access log names the caller; it need not verify the token a second time.
        request.registry_token_subject = subject  # type: ignore[attr-defined]
        return Caller(principal=None, subject=subject, token_scopes=granted_scopes(claims))
    credentials = basic_credentials(request)
    if credentials is None:
        return Caller(principal=ANONYMOUS, subject="", token_scopes=None)
    try:
        found = authenticate_login(*credentials, address=client_address(request))
    except LoginThrottled as throttled:
        raise TooManyRequests(str(throttled), headers={"Retry-After": str(throttled.retry_after)}) from None
    if found is None:
        raise Unauthorized("incorrect username or password", headers={"WWW-Authenticate": challenge(request, None)})
    return Caller(principal=found[0], subject=found[0].subject, token_scopes=None)


def authorize(request: HttpRequest, caller: Caller, scope: Scope, may_create_project: bool = True) -> None:
    """Let the request through if `caller` holds `scope`; raise Unauthorized or Denied otherwise.

    A push allowed into a missing project creates it, where `may_create_project` says the
    request can be the first of a push.
    """
    if caller.token_scopes is not None and covers(caller.token_scopes, scope):
        if may_create_project:
            _create_project_on_push(caller, scope)
        return
    principal = caller.live_principal()
    live = _live_actions(principal, scope)
    if caller.token_scopes is None and scope.actions <= live:
        if may_create_project:
            _create_project_on_push(caller, scope)
        return
    if principal.is_anonymous or scope.actions <= live:
        error = "insufficient_scope" if caller.token_scopes is not None else None
        raise Unauthorized(
            "authentication required" if principal.is_anonymous else "the token does not grant this access",
            detail=[scope.as_claim()],
            headers={"WWW-Authenticate": challenge(request, scope, error=error)},
        )
    if scope.type == "repository" and not Project.objects.filter(name=project_name_of(scope.name)).exists():
        raise Denied(missing_project_message(principal, scope.name), detail=[scope.as_claim()])
    raise Denied(detail=[scope.as_claim()])


def may(caller: Caller, scope: Scope) -> bool:
    """Whether the caller holds `scope`, without raising (e.g. pull on a mount's source)."""
    if caller.token_scopes is not None:
        return covers(caller.token_scopes, scope)
    return scope.actions <= _live_actions(caller.live_principal(), scope)


def challenge(request: HttpRequest, scope: Scope | None, error: str | None = None) -> str:
    """The `WWW-Authenticate: Bearer …` header that sends a client to the token service."""
    base = settings.REGISTRY_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")
    parts = [f'realm="{base}/auth/token"', f'service="{settings.REGISTRY_TOKEN_SERVICE}"']
    if scope is not None:
        if PUSH in scope.actions:
            # A push also reads (HEAD before upload, GET of its own manifest): ask for both at
            # once, as distribution does, or clients fetch a second token half way.
            scope = Scope(scope.type, scope.name, scope.actions | {PULL})
        parts.append(f'scope="{scope}"')
    if error is not None:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)


def covers(granted: list[Scope], needed: Scope) -> bool:
    """Whether a token's granted scopes hold every action of `needed`."""
    held: set[str] = set()
    for scope in granted:
        if scope.type == needed.type and scope.name == needed.name:
            held |= scope.actions
    return needed.actions <= held


def _live_actions(principal: Principal, scope: Scope) -> frozenset[str]:
    if scope.type == "repository":
        return allowed_actions(principal, scope.name)
    # registry:catalog:* is open to everyone; the listing shows only what the caller may pull.
    return scope.actions


def _create_project_on_push(caller: Caller, scope: Scope) -> None:
    if scope.type != "repository" or "push" not in scope.actions:
        return
    # One indexed query on every push request; the principal is loaded only when a project is missing.
    if not Project.objects.filter(name=project_name_of(scope.name)).exists():
        ensure_project_for_push(caller.live_principal(), scope.name)

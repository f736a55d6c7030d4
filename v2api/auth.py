"""The one gate of /v2/: who is calling (`identify`) and whether they may (`authorize`).

Every /v2/ request passes here, the full stack's views and the fast path (v2api/fast_reads.py)
alike, so a rule added to `authorize` holds on every path: distribution's dispatcher is the
model, with the fast path a provider behind the gate rather than a second door.

A bearer token from /auth/token is trusted for what its `access` claim grants, without a
database query (the hot GETs stay one query); HTTP Basic is checked against the accounts; no
credentials is the anonymous caller, who may still pull from public projects. When a token lacks
the scope, the caller's live permissions decide between `401 insufficient_scope` (ask for a new
token) and `403 DENIED` (no token would help).
"""

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.directory import DirectoryUnavailable
from accounts.mirror import mirrored_name
from accounts.permissions import ANONYMOUS, NOTHING, Principal, allowed_actions
from accounts.scopes import PULL, PUSH, Scope, repository_scope
from accounts.services.credentials import authenticate_login, principal_for_subject
from accounts.services.login_throttle import LoginThrottled
from accounts.services.projects import ensure_project_for_push
from accounts.tokens import InvalidToken, granted_scopes, verify_access_token
from oci.names import project_name_of
from oci.request_edge import Credentials
from v2api.errors import Challenge, Denied, RegistryError, TooManyRequests, Unauthorized, Unavailable
from v2api.services.repositories import project_proxy_url

# Where the identified caller is kept in the environ, for the access log to name.
_CALLER_KEY = "registry.caller"


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


@dataclass(frozen=True)
class Decision:
    """The gate's answer for one scope: allowed, or refused with the error the client is to see.

    The error is worked out only when the refusal is enforced: telling a 401 from a 403, and
    wording it, costs queries that the fast path (which only declines) and `may` (which only
    asks) need not make.
    """

    scope: Scope
    refusal: Callable[[], RegistryError] | None = None
    # For a push, whether the repository's project exists, which the proxy-cache check read with
    # its row: a push allowed into a missing project creates it (`create_project_on_push`).
    # None for other scopes.
    project_exists: bool | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    def enforce(self) -> None:
        if self.refusal is not None:
            raise self.refusal()


def identify(credentials: Credentials, address: str) -> Caller:
    """Who presents `credentials`; raises Unauthorized for a bad token or password, and
    TooManyRequests while the login throttle holds the account or address, Unavailable while a
    password needs the company directory and it does not answer."""
    if credentials.scheme == "bearer":
        try:
            claims = verify_access_token(credentials.token)
        except InvalidToken as error:
            raise Unauthorized(f"invalid token: {error}", challenge=Challenge(error="invalid_token")) from None
        return Caller(principal=None, subject=str(claims["sub"]), token_scopes=granted_scopes(claims))
    if credentials.scheme == "basic":
        try:
            found = authenticate_login(credentials.username, credentials.secret, address=address)
        except LoginThrottled as throttled:
            raise TooManyRequests(str(throttled), headers={"Retry-After": str(throttled.retry_after)}) from None
        except DirectoryUnavailable as unavailable:
            raise Unavailable(str(unavailable), headers={"Retry-After": str(unavailable.retry_after)}) from None
        if found is None:
            raise Unauthorized("incorrect username or password", challenge=Challenge())
        return Caller(principal=found[0], subject=found[0].subject, token_scopes=None)
    return Caller(principal=ANONYMOUS, subject="", token_scopes=None)


def repository_name_for(caller: Caller, name: str, action: str) -> str:
    """The repository a /v2/ path's `name` is served from: itself, or in transparent mirror mode
    (accounts/mirror.py) the mirror's repository for a pull of a name in no project.

    A token that grants the name as written keeps it: a push into a project its first request
    creates asks for `push,pull`, and its first HEAD of a layer must stay in that repository.
    """
    if action != PULL or not settings.REGISTRY_MIRROR_PROJECT:
        return name
    if caller.token_scopes is not None and covers(caller.token_scopes, repository_scope(name, PULL)):
        return name
    return mirrored_name(name) or name


def authorize(caller: Caller, scope: Scope, project_public: bool | None = None) -> Decision:
    """Whether `caller` holds `scope`: the one authorisation decision of /v2/.

    A token is trusted for what its `access` claim grants and refused anything else; the caller's
    live permissions decide for Basic and anonymous callers. `project_public` is the repository's
    project flag when the caller already read it with the row it serves (the fast path), which
    spares an anonymous pull its project query. Nothing is pushed into a proxy-cache project,
    whoever asks: pulls fill it.
    """
    project_exists: bool | None = None
    if scope.type == "repository" and PUSH in scope.actions:
        upstream = _proxied_upstream(scope.name)
        if upstream:
            return Decision(scope, refusal=lambda: _proxy_refusal(scope, upstream))
        project_exists = upstream is not None
    if caller.token_scopes is not None:
        if covers(caller.token_scopes, scope):
            return Decision(scope, project_exists=project_exists)
        return Decision(scope, refusal=lambda: _refusal(caller, scope, live=None), project_exists=project_exists)
    live = _live_actions(caller.live_principal(), scope, project_public)
    if scope.actions <= live:
        return Decision(scope, project_exists=project_exists)
    return Decision(scope, refusal=lambda: _refusal(caller, scope, live), project_exists=project_exists)


def _refusal(caller: Caller, scope: Scope, live: frozenset[str] | None) -> RegistryError:
    """`401` where credentials could help (anonymous, or a token short of what the caller holds,
    `insufficient_scope`), else `403 DENIED`, worded the same for a missing and a hidden project."""
    principal = caller.live_principal()
    if live is None:
        live = _live_actions(principal, scope, None)
    if principal.is_anonymous or scope.actions <= live:
        return Unauthorized(
            "authentication required" if principal.is_anonymous else "the token does not grant this access",
            detail=[scope.as_claim()],
            challenge=Challenge(
                str(_with_pull_for_push(scope)), "insufficient_scope" if caller.token_scopes is not None else None
            ),
        )
    if scope.type != "repository":
        return Denied(detail=[scope.as_claim()])
    # One wording whether the project is missing or only hidden from this caller: telling them
    # apart would say which private projects exist, which the dashboard and the API never do.
    # The hint about the personal project depends on the caller alone, so it leaks nothing.
    actions = " or ".join(sorted(scope.actions))
    pushing = PUSH in scope.actions and principal.user is not None
    personal = f" You may push to {principal.subject}/<name>, your personal project." if pushing else ""
    return Denied(
        f"requested access to the resource is denied: project {project_name_of(scope.name)!r} does not exist"
        f" or does not let you {actions}; a system administrator can create projects.{personal}",
        detail=[scope.as_claim()],
    )


def _proxied_upstream(repository_name: str) -> str | None:
    """The upstream of the repository's project if it is a proxy cache, else empty, and None
    when there is no such project: one indexed query, made for push requests only (pulls are
    the hot path)."""
    return project_proxy_url(repository_name)


def _proxy_refusal(scope: Scope, upstream: str) -> RegistryError:
    return Denied(
        f"project {project_name_of(scope.name)!r} is a proxy cache of {upstream}: it is filled by pulls"
        " from there and takes no pushes; push to an ordinary project instead",
        detail=[scope.as_claim()],
    )


def may(caller: Caller, scope: Scope) -> bool:
    """Whether the caller holds `scope`, without raising (e.g. pull on a mount's source)."""
    return authorize(caller, scope).allowed


def create_project_on_push(caller: Caller, decision: Decision) -> None:
    """A push allowed into a missing project creates it (a personal project, or by an admin)."""
    # No query of its own: `authorize` read the project for the push. The principal is loaded
    # only when the project is missing.
    if decision.project_exists is False:
        ensure_project_for_push(caller.live_principal(), decision.scope.name)


def covers(granted: list[Scope], needed: Scope) -> bool:
    """Whether a token's granted scopes hold every action of `needed`."""
    held: set[str] = set()
    for scope in granted:
        if scope.type == needed.type and scope.name == needed.name:
            held |= scope.actions
    return needed.actions <= held


def challenge_header(request: HttpRequest, challenge: Challenge) -> str:
    """The `WWW-Authenticate: Bearer …` header that sends a client to the token service."""
    base = settings.REGISTRY_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")
    parts = [f'realm="{base}/auth/token"', f'service="{settings.REGISTRY_TOKEN_SERVICE}"']
    if challenge.scope is not None:
        parts.append(f'scope="{challenge.scope}"')
    if challenge.error is not None:
        parts.append(f'error="{challenge.error}"')
    return "Bearer " + ",".join(parts)


def remember_caller(environ: MutableMapping[str, Any], caller: Caller) -> None:
    environ[_CALLER_KEY] = caller


def identified_caller(environ: MutableMapping[str, Any]) -> Caller | None:
    """The caller the gate identified for this request, if it got that far."""
    caller = environ.get(_CALLER_KEY)
    return caller if isinstance(caller, Caller) else None


def _with_pull_for_push(scope: Scope) -> Scope:
    # A push also reads (HEAD before upload, GET of its own manifest): ask for both at once, as
    # distribution does, or clients fetch a second token half way.
    return Scope(scope.type, scope.name, scope.actions | {PULL}) if PUSH in scope.actions else scope


def _live_actions(principal: Principal, scope: Scope, project_public: bool | None) -> frozenset[str]:
    if scope.type == "repository":
        return allowed_actions(principal, scope.name, project_public)
    # registry:catalog:* is open to every caller who presents credentials, an anonymous token
    # included; the listing shows only what the caller may pull. A caller who presents none is
    # challenged, as distribution and Docker Hub do: clients that log in only when challenged
    # (crane, regclient, scripts) would otherwise never see their user's private repositories.
    return NOTHING if principal.is_anonymous else scope.actions

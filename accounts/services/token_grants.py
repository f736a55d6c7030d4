"""What a token grants: the intersection of what was asked and what the caller may do.
A partial grant is not an error; the registry refuses what the token lacks."""

from django.conf import settings

from accounts.mirror import mirrored_name
from accounts.permissions import Principal, allowed_actions
from accounts.scopes import CATALOG, PULL, Scope
from oci.names import InvalidName, check_repository_name


class TooManyScopes(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} scopes may be asked for in one token request")


def parse_requested_scopes(values: list[str]) -> list[Scope]:
    """Every `scope` parameter; OAuth2 clients put several in one, separated by spaces.

    Raises TooManyScopes past REGISTRY_TOKEN_MAX_SCOPES, before any is looked at: each costs a
    permission query, and 20,000 of them held a worker for 21 s.
    """
    texts = [text for value in values for text in value.split()]
    if len(texts) > settings.REGISTRY_TOKEN_MAX_SCOPES:
        raise TooManyScopes(settings.REGISTRY_TOKEN_MAX_SCOPES)
    scopes = []
    for text in texts:
        scope = Scope.parse(text)
        if scope is not None:
            scopes.append(scope.expanded())
    return scopes


def grant(principal: Principal, requested: list[Scope]) -> list[Scope]:
    """The scopes a token carries; a pull in transparent mirror mode (accounts/mirror.py) is
    granted on the mirror's repository, which the registry serves for the name asked."""
    granted: list[Scope] = []
    for scope in requested:
        if scope.type == "repository":
            name = scope.name
            try:
                check_repository_name(name)
                if scope.actions <= {PULL}:
                    name = check_repository_name(mirrored_name(name) or name)
            except InvalidName:
                continue
            actions = scope.actions & allowed_actions(principal, name)
            if actions:
                granted.append(Scope(scope.type, name, actions))
        elif scope == CATALOG:
            # Everyone may ask for the catalog; it lists only what the caller may pull.
            granted.append(CATALOG)
    return granted

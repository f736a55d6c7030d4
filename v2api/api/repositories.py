"""How the management API finds a repository by name for a caller: 404 for one they may not pull,
so private repositories stay unlisted."""

from rest_framework.exceptions import NotFound

from accounts.permissions import Principal, allowed_actions, can_see_repository
from v2api.models import Repository

REPOSITORY_NOT_FOUND = "There is no repository {repository_name}, or you may not see it."


def visible_repository(principal: Principal, name: str) -> tuple[Repository, frozenset[str]]:
    """The repository named `name` and the caller's actions on it, if they may pull it; 404 otherwise,
    so private repositories stay unlisted."""
    repository = Repository.objects.filter(name=name).first()
    if repository is None or not can_see_repository(principal, name):
        raise NotFound(REPOSITORY_NOT_FOUND.format(repository_name=name))
    return repository, allowed_actions(principal, name)

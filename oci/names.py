"""Repository names and tags, checked against the distribution spec's grammars."""

import re
from typing import Any

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY_NAME = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
TAG_PATTERN = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# distribution's limit; longer names break file systems and proxies before they break us.
MAX_NAME_LENGTH = 255


class InvalidName(ValueError):
    """A repository name outside the grammar; `detail` says which name and why."""

    def __init__(self, detail: dict[str, Any]) -> None:
        self.detail = detail
        super().__init__(detail["reason"])


def check_repository_name(name: str) -> str:
    """Return `name` if it is a valid repository name; raise InvalidName saying why otherwise."""
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName({"name": name[:300], "reason": f"longer than {MAX_NAME_LENGTH} characters"})
    if not _REPOSITORY_NAME.match(name):
        raise InvalidName(
            {
                "name": name,
                "reason": "use lowercase letters, digits and separators (. _ __ -) in /-separated components",
            }
        )
    return name


def is_repository_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and bool(_REPOSITORY_NAME.match(name))


def is_tag(reference: str) -> bool:
    return bool(TAG_PATTERN.match(reference))


def project_name_of(repository_name: str) -> str:
    """`team-a/api/server` lives in project `team-a`: a project holds the repositories whose
    first path component is its name."""
    return repository_name.split("/", 1)[0]


def name_in_project(repository_name: str) -> str:
    """`api/server` of `team-a/api/server`: the name below its project, as the dashboard shows it."""
    return repository_name.split("/", 1)[-1]

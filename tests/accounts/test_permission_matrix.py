"""Who may pull, push, delete and list what: every cell of the permission matrix, driven the
way docker drives it (ask /auth/token for the scope with Basic credentials, then call /v2/
with the token), for a public and a private project."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import Membership, PersonalAccessToken, Project, RobotAccount, Role
from accounts.services.credentials import new_secret
from tests.conftest import PASSWORD, PushImage, basic_auth

PULL, PUSH, DELETE, CATALOG = "pull", "push", "delete", "catalog"
ACTIONS = (PULL, PUSH, DELETE, CATALOG)
EVERYTHING = frozenset(ACTIONS)

# What each persona may do in a private project; a public one adds pull (and listing) for all
# whose credentials are accepted.
PRIVATE: dict[str, frozenset[str]] = {
    "anonymous": frozenset(),
    "guest": frozenset({PULL, CATALOG}),
    "developer": frozenset({PULL, PUSH, CATALOG}),
    "maintainer": frozenset({PULL, PUSH, DELETE, CATALOG}),
    "project admin": frozenset({PULL, PUSH, DELETE, CATALOG}),
    "member of another project": frozenset(),
    "system admin": EVERYTHING,
    "robot that pulls": frozenset({PULL, CATALOG}),
    "robot that pushes": frozenset({PULL, PUSH, CATALOG}),
    "robot that deletes": frozenset({PULL, DELETE, CATALOG}),
    "expired robot": frozenset(),
    "revoked personal token": frozenset(),
}
# Their credentials are refused outright: they get nothing, even where anonymous would.
REFUSED = {"expired robot", "revoked personal token"}


def expected(persona: str, public: bool) -> frozenset[str]:
    if public and persona not in REFUSED:
        return PRIVATE[persona] | {PULL, CATALOG}
    return PRIVATE[persona]


class World:
    """Two projects with one image each, and a login for every persona."""

    def __init__(self, push_image: PushImage) -> None:
        self.logins: dict[str, tuple[str, str] | None] = {"anonymous": None}
        open_project = Project.objects.create(name="open", public=True)
        closed_project = Project.objects.create(name="closed")
        elsewhere = Project.objects.create(name="elsewhere")
        for role, persona in [
            (Role.GUEST, "guest"),
            (Role.DEVELOPER, "developer"),
            (Role.MAINTAINER, "maintainer"),
            (Role.ADMIN, "project admin"),
        ]:
            user = User.objects.create_user(role.value, password=PASSWORD)
            for project in (open_project, closed_project):
                Membership.objects.create(project=project, user=user, role=role)
            self.logins[persona] = (user.username, PASSWORD)
        outsider = User.objects.create_user("outsider", password=PASSWORD)
        Membership.objects.create(project=elsewhere, user=outsider, role=Role.ADMIN)
        self.logins["member of another project"] = ("outsider", PASSWORD)
        User.objects.create_superuser("boss", password=PASSWORD, email="")
        self.logins["system admin"] = ("boss", PASSWORD)
        revoked_owner = User.objects.create_user("revoked", password=PASSWORD)
        Membership.objects.create(project=closed_project, user=revoked_owner, role=Role.ADMIN)
        Membership.objects.create(project=open_project, user=revoked_owner, role=Role.ADMIN)
        secret, secret_hash = new_secret("hl_pat_")
        PersonalAccessToken.objects.create(
            user=revoked_owner, name="ci", secret_hash=secret_hash, revoked_at=timezone.now()
        )
        self.logins["revoked personal token"] = ("revoked", secret)
        self.robots_by_project = {project.name: self._robots(project) for project in (open_project, closed_project)}
        self.images = {name: push_image(f"{name}/app", tag="v1") for name in ("open", "closed")}

    def _robots(self, project: Project) -> dict[str, tuple[str, str]]:
        robots = {}
        for persona, flags in [
            ("robot that pulls", {"can_pull": True}),
            ("robot that pushes", {"can_pull": True, "can_push": True}),
            ("robot that deletes", {"can_pull": True, "can_delete": True}),
            ("expired robot", {"can_pull": True, "can_push": True, "can_delete": True}),
        ]:
            secret, secret_hash = new_secret("hl_robot_")
            expires = timezone.now() - timedelta(days=1) if persona == "expired robot" else None
            robot = RobotAccount.objects.create(
                project=project, name=persona.replace(" ", "-"), secret_hash=secret_hash, expires_at=expires, **flags
            )
            robots[persona] = (robot.username, secret)
        return robots

    def login_for(self, persona: str, project: str) -> tuple[str, str] | None:
        if persona.endswith("robot") or persona.startswith("robot"):
            return self.robots_by_project[project][persona]
        return self.logins[persona]


def token_for(client: Client, login: tuple[str, str] | None, scope: str) -> str | None:
    """What docker does before the request: a token for the scope, or None if the login is refused."""
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": basic_auth(*login)} if login else {}
    response = client.get("/auth/token", {"service": "harbor-lite", "scope": scope}, **headers)
    if response.status_code == 401:
        return None
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def attempt(client: Client, world: World, persona: str, project: str, action: str) -> bool:
    """Try `action` on `<project>/app` as `persona`; True if it went through."""
    name = f"{project}/app"
    login = world.login_for(persona, project)
    scope = {
        PULL: f"repository:{name}:pull",
        PUSH: f"repository:{name}:pull,push",
        DELETE: f"repository:{name}:delete",
        CATALOG: "registry:catalog:*",
    }[action]
    token = token_for(client, login, scope)
    if login is not None and token is None:
        return False
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if action == PULL:
        response = client.get(f"/v2/{name}/manifests/v1", HTTP_ACCEPT="*/*", **auth)
        allowed = response.status_code == 200
    elif action == PUSH:
        response = client.post(f"/v2/{name}/blobs/uploads/", **auth)
        allowed = response.status_code == 202
    elif action == DELETE:
        response = client.delete(f"/v2/{name}/manifests/v1", **auth)
        allowed = response.status_code == 202
    else:
        response = client.get("/v2/_catalog", **auth)
        assert response.status_code == 200
        return name in json.loads(response.content)["repositories"]
    if not allowed:
        # Refused callers are told why: unknown ones to log in, known ones that they may not.
        code = json.loads(response.content)["errors"][0]["code"]
        assert (response.status_code, code) == ((401, "UNAUTHORIZED") if login is None else (403, "DENIED"))
    return allowed


@pytest.fixture
def world(db: None, push_image: PushImage) -> World:
    return World(push_image)


@pytest.mark.parametrize("public", [True, False], ids=["public project", "private project"])
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("persona", list(PRIVATE))
def test_the_permission_matrix(world: World, persona: str, action: str, public: bool) -> None:
    project = "open" if public else "closed"
    allowed = attempt(Client(), world, persona, project, action)
    assert allowed == (action in expected(persona, public))

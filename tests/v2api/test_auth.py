"""How /v2/ tells callers apart: challenges, tokens, Basic, and what each refusal looks like."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Membership, Project, Role
from accounts.scopes import CATALOG, PULL, PUSH, repository_scope
from tests.conftest import PASSWORD, PushBlob, PushImage, basic_auth, bearer_auth, error_codes
from v2api.models import Repository

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice() -> User:
    user = User.objects.create_user("alice", password=PASSWORD)
    Membership.objects.create(project=Project.objects.create(name="team"), user=user, role=Role.GUEST)
    return user


def test_the_base_endpoint_challenges_a_caller_without_credentials(anonymous_client: Client) -> None:
    response = anonymous_client.get("/v2/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="http://testserver/auth/token",service="harbor-lite"'
    assert error_codes(response) == ["UNAUTHORIZED"]


def test_the_challenge_names_the_scope_the_request_needs_with_pull_beside_push(anonymous_client: Client) -> None:
    response = anonymous_client.post("/v2/team/app/blobs/uploads/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="http://testserver/auth/token",service="harbor-lite",scope="repository:team/app:pull,push"'
    )


def test_the_realm_is_the_public_url_when_one_is_set(anonymous_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_PUBLIC_URL = "https://registry.lan"
    response = anonymous_client.get("/v2/")
    assert response["WWW-Authenticate"].startswith('Bearer realm="https://registry.lan/auth/token"')


def test_any_valid_token_opens_the_base_endpoint(anonymous_client: Client) -> None:
    response = anonymous_client.get("/v2/", HTTP_AUTHORIZATION=bearer_auth(None))
    assert response.status_code == 200


def test_a_token_grants_exactly_its_access(anonymous_client: Client, alice: User, push_image: PushImage) -> None:
    push_image("team/app", tag="v1")
    token = bearer_auth(alice, repository_scope("team/app", PULL))

    response = anonymous_client.get("/v2/team/app/manifests/v1", HTTP_AUTHORIZATION=token)

    assert response.status_code == 200


def test_a_token_lacking_a_scope_the_caller_holds_asks_for_a_new_token(
    anonymous_client: Client, alice: User, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    token = bearer_auth(alice, repository_scope("team/other", PULL))

    response = anonymous_client.get("/v2/team/app/manifests/v1", HTTP_AUTHORIZATION=token)

    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert 'scope="repository:team/app:pull"' in response["WWW-Authenticate"]


def test_a_known_caller_without_the_permission_is_denied_with_403(anonymous_client: Client, alice: User) -> None:
    token = bearer_auth(alice, repository_scope("team/app", PULL))

    response = anonymous_client.post("/v2/team/app/blobs/uploads/", HTTP_AUTHORIZATION=token)

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]


def test_pushing_into_a_missing_project_says_which_project_is_missing(anonymous_client: Client, alice: User) -> None:
    response = anonymous_client.post("/v2/nowhere/app/blobs/uploads/", HTTP_AUTHORIZATION=basic_auth("alice"))

    assert response.status_code == 403
    body = json.loads(response.content)["errors"][0]
    assert body["code"] == "DENIED"
    assert "project 'nowhere' does not exist or does not let you push" in body["message"]
    assert "alice/<name>" in body["message"]


@pytest.mark.parametrize("method, path", [("get", "/manifests/v1"), ("post", "/blobs/uploads/")])
@pytest.mark.parametrize("credentials", ["basic", "token"])
def test_a_hidden_project_and_a_missing_one_are_refused_alike(
    anonymous_client: Client, alice: User, push_image: PushImage, method: str, path: str, credentials: str
) -> None:
    # Issue 12: a private project answered "requested access to the resource is denied", a
    # missing one "project 'x' does not exist", so anyone could list the private project names.
    Project.objects.create(name="secret", public=False)
    push_image("secret/app", tag="v1")

    def refusal(project: str) -> tuple[int, str, str]:
        # The token /auth/token gives alice for either: it grants nothing there.
        authorization = basic_auth("alice") if credentials == "basic" else bearer_auth(alice)
        response = getattr(anonymous_client, method)(f"/v2/{project}/app{path}", HTTP_AUTHORIZATION=authorization)
        return response.status_code, response.get("WWW-Authenticate", ""), response.content.decode()

    hidden, missing = refusal("secret"), refusal("nowhere")

    assert hidden[0] == 403
    assert hidden == (missing[0], missing[1].replace("nowhere", "secret"), missing[2].replace("nowhere", "secret"))
    # The hint about one's personal project goes with a push, whatever the project.
    assert ("alice/<name>, your personal project" in hidden[2]) == (method == "post")


def test_a_token_for_a_project_deleted_since_creates_no_repository(anonymous_client: Client, alice: User) -> None:
    # The token was issued while project `gone` held alice's push rights; the project went since.
    token = bearer_auth(alice, repository_scope("gone/app", PULL, PUSH))

    response = anonymous_client.post("/v2/gone/app/blobs/uploads/", HTTP_AUTHORIZATION=token)

    assert response.status_code == 403
    body = json.loads(response.content)["errors"][0]
    assert body["code"] == "DENIED"
    assert "project 'gone' does not exist" in body["message"]
    assert not Repository.objects.filter(name="gone/app").exists()


def test_a_users_first_push_creates_their_personal_project(anonymous_client: Client, alice: User) -> None:
    response = anonymous_client.post("/v2/alice/tools/blobs/uploads/", HTTP_AUTHORIZATION=basic_auth("alice"))

    assert response.status_code == 202
    project = Project.objects.get(name="alice")
    assert not project.public
    assert Membership.objects.get(project=project, user=alice).role == Role.ADMIN


def test_a_forged_token_is_refused_as_invalid(anonymous_client: Client) -> None:
    response = anonymous_client.get("/v2/", HTTP_AUTHORIZATION="Bearer not.a.token")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_basic_credentials_work_on_v2_directly(anonymous_client: Client, alice: User, push_image: PushImage) -> None:
    push_image("team/app", tag="v1")

    response = anonymous_client.get("/v2/team/app/tags/list", HTTP_AUTHORIZATION=basic_auth("alice"))

    assert json.loads(response.content)["tags"] == ["v1"]


def test_a_wrong_basic_password_is_401(anonymous_client: Client, alice: User) -> None:
    response = anonymous_client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("alice", "wrong"))

    assert response.status_code == 401
    assert error_codes(response) == ["UNAUTHORIZED"]


def test_repeated_wrong_basic_passwords_are_throttled(anonymous_client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 2
    for _ in range(2):
        anonymous_client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("alice", "wrong"))

    response = anonymous_client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("alice"))

    assert response.status_code == 429
    assert error_codes(response) == ["TOOMANYREQUESTS"]
    assert int(response["Retry-After"]) > 0


def test_anyone_pulls_from_a_public_project_without_a_token(anonymous_client: Client, push_image: PushImage) -> None:
    Project.objects.create(name="open", public=True)
    image = push_image("open/app", tag="v1")

    response = anonymous_client.get("/v2/open/app/manifests/v1", HTTP_ACCEPT="*/*")

    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == image.digest


def test_the_catalog_lists_only_what_the_caller_may_pull(
    anonymous_client: Client, alice: User, push_image: PushImage
) -> None:
    Project.objects.create(name="open", public=True)
    Project.objects.create(name="secret")
    for name in ("open/app", "secret/app", "team/app"):
        push_image(name, tag="v1")

    as_alice = anonymous_client.get("/v2/_catalog", HTTP_AUTHORIZATION=bearer_auth(alice, CATALOG))
    as_nobody = anonymous_client.get("/v2/_catalog", HTTP_AUTHORIZATION=bearer_auth(None, CATALOG))

    assert json.loads(as_alice.content)["repositories"] == ["open/app", "team/app"]
    assert json.loads(as_nobody.content)["repositories"] == ["open/app"]


def test_the_catalog_challenges_a_caller_without_credentials(anonymous_client: Client) -> None:
    # Issue 12: it answered 200 with the public repositories, so crane and regclient, which log
    # in only when challenged, never listed their user's private ones.
    response = anonymous_client.get("/v2/_catalog")

    assert response.status_code == 401
    assert error_codes(response) == ["UNAUTHORIZED"]
    assert response["WWW-Authenticate"] == (
        'Bearer realm="http://testserver/auth/token",service="harbor-lite",scope="registry:catalog:*"'
    )


def test_a_mount_from_a_repository_the_caller_may_not_pull_starts_an_upload_instead(
    anonymous_client: Client, push_blob: PushBlob
) -> None:
    developer = User.objects.create_user("dev", password=PASSWORD)
    Membership.objects.create(project=Project.objects.create(name="mine"), user=developer, role=Role.DEVELOPER)
    Project.objects.create(name="theirs")
    digest = push_blob("theirs/app", b"their private layer")
    token = bearer_auth(developer, repository_scope("mine/app", PULL, PUSH))

    with_source = anonymous_client.post(
        f"/v2/mine/app/blobs/uploads/?mount={digest}&from=theirs/app", HTTP_AUTHORIZATION=token
    )
    without_source = anonymous_client.post(f"/v2/mine/app/blobs/uploads/?mount={digest}", HTTP_AUTHORIZATION=token)

    assert (with_source.status_code, without_source.status_code) == (202, 202)
    assert anonymous_client.head(f"/v2/mine/app/blobs/{digest}", HTTP_AUTHORIZATION=token).status_code == 404

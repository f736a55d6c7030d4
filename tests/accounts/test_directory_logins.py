"""Logging in with the company directory: a real slapd (tests/directory.py) holds dora (group
developers), erin (group registry-admins), gina (no group) and frank (disabled by ppolicy)."""

import time
from pathlib import Path

import jwt
import ldap
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_auth_ldap.config import LDAPSearch

from accounts.models import GroupMembership, Project, Role
from accounts.services import credentials, members, users
from registry_ui.directory_settings import directory_settings
from tests.conftest import PASSWORD as LOCAL_PASSWORD
from tests.conftest import basic_auth
from tests.directory import ADMIN_GROUP, BASE, GROUPS, PASSWORD, PEOPLE, Directory, make_certificate_authority

pytestmark = pytest.mark.django_db


def token_for(client: Client, username: str, *scopes: str, password: str = PASSWORD) -> tuple[int, dict[str, object]]:
    response = client.get(
        "/auth/token",
        {"service": "harbor-lite", "scope": list(scopes)},
        HTTP_AUTHORIZATION=basic_auth(username, password),
    )
    return response.status_code, response.json()


def logged_in(client: Client) -> bool:
    """Whether the dashboard session is a user's (the home page itself is public since issue 15)."""
    return "_auth_user_id" in client.session


def granted(body: dict[str, object]) -> list[list[str]]:
    claims = jwt.decode(str(body["token"]), options={"verify_signature": False})
    return [sorted(entry["actions"]) for entry in claims["access"]]


def test_a_directory_person_logs_in_to_the_dashboard_and_becomes_a_user(
    client: Client, with_directory: Directory
) -> None:
    response = client.post("/login/", {"username": "dora", "password": PASSWORD})

    assert response.status_code == 302
    assert logged_in(client)
    dora = User.objects.get(username="dora")
    assert (dora.first_name, dora.last_name, dora.email) == ("Dora", "Developer", "dora@example.lan")
    assert not dora.has_usable_password()
    assert not dora.is_superuser
    assert [group.name for group in dora.groups.all()] == ["developers"]


def test_a_wrong_directory_password_is_refused_like_any_other(client: Client, with_directory: Directory) -> None:
    response = client.post("/login/", {"username": "dora", "password": "not it"})

    assert b"Please enter a correct username and password" in response.content
    assert not logged_in(client)


def test_the_disabled_entry_is_refused_everywhere(client: Client, with_directory: Directory) -> None:
    response = client.post("/login/", {"username": "frank", "password": PASSWORD})
    assert b"Please enter a correct username and password" in response.content

    status, _ = token_for(client, "frank")
    assert status == 401
    assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("frank", PASSWORD)).status_code == 401
    assert not User.objects.filter(username="frank").exists()


def test_docker_login_and_basic_on_v2_accept_a_directory_password(client: Client, with_directory: Directory) -> None:
    status, body = token_for(client, "dora")
    assert status == 200
    assert jwt.decode(str(body["token"]), options={"verify_signature": False})["sub"] == "dora"

    assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD)).status_code == 200


def test_the_admin_group_makes_system_administrators(client: Client, with_directory: Directory) -> None:
    status, body = token_for(client, "erin", "repository:anything/new:push,pull")

    assert status == 200
    assert granted(body) == [["pull", "push"]]
    assert User.objects.get(username="erin").is_superuser


def test_leaving_the_admin_group_in_the_directory_ends_system_administrator_at_the_next_login(
    client: Client, with_directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert token_for(client, "erin")[0] == 200
    assert User.objects.get(username="erin").is_superuser
    # groupOfNames needs a member: erin's place goes to an entry that does not exist.
    replace = f"dn: {ADMIN_GROUP}\nchangetype: modify\nreplace: member\nmember: uid={{}},{PEOPLE}\n"
    with_directory.modify(replace.format("nobody"))
    try:
        monkeypatch.setattr(credentials, "_remembered", credentials._RememberedLogins())
        status, body = token_for(client, "erin", "repository:anything/new:push,pull")
    finally:
        with_directory.modify(replace.format("erin"))

    assert status == 200
    assert granted(body) == []
    assert not User.objects.get(username="erin").is_superuser


def test_a_group_role_gives_its_people_push_and_pull(client: Client, with_directory: Directory) -> None:
    team = Project.objects.create(name="team")
    members.add_group(team, "developers", Role.DEVELOPER)

    status, body = token_for(client, "dora", "repository:team/app:push,pull")
    assert status == 200
    assert granted(body) == [["pull", "push"]]

    status, body = token_for(client, "gina", "repository:team/app:push,pull")
    assert status == 200
    assert granted(body) == []


def test_leaving_a_group_in_the_directory_ends_its_role_at_the_next_login(
    client: Client, with_directory: Directory
) -> None:
    """The groups are the directory's: one the registry holds but the directory does not name is
    dropped from the user at login."""
    team = Project.objects.create(name="team")
    members.add_group(team, "auditors", Role.GUEST)
    gina = User.objects.create_user("gina")
    gina.set_unusable_password()
    gina.save()
    gina.groups.add(GroupMembership.objects.get().group)

    status, body = token_for(client, "gina", "repository:team/app:pull")

    assert status == 200
    assert granted(body) == []
    assert not gina.groups.exists()


def test_a_directory_entry_cannot_take_over_a_local_account(client: Client, with_directory: Directory) -> None:
    User.objects.create_user("gina", password=LOCAL_PASSWORD)

    assert token_for(client, "gina")[0] == 401
    assert token_for(client, "gina", password=LOCAL_PASSWORD)[0] == 200


def test_a_directory_password_gets_no_refresh_token(client: Client, with_directory: Directory) -> None:
    """Only the directory knows when the password changes or the person leaves: a refresh token
    would outlive that, so the client logs in with the password again."""
    response = client.post(
        "/auth/token",
        {"grant_type": "password", "username": "dora", "password": PASSWORD, "access_type": "offline"},
    )

    assert response.status_code == 200
    assert "refresh_token" not in response.json()


def test_with_the_directory_stopped_the_local_admin_logs_in_and_people_are_told_fast(
    client: Client, admin_user: User, with_directory: Directory
) -> None:
    with with_directory.stopped():
        started = time.monotonic()
        response = client.post("/login/", {"username": "dora", "password": PASSWORD})
        assert b"The company directory is not answering" in response.content
        status, body = token_for(client, "dora")
        assert status == 503
        assert "directory" in str(body["error_description"])
        on_v2 = client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD))
        assert on_v2.status_code == 503
        assert on_v2.json()["errors"][0]["code"] == "UNAVAILABLE"
        assert on_v2["Retry-After"]
        assert time.monotonic() - started < 5

        response = client.post("/login/", {"username": admin_user.username, "password": LOCAL_PASSWORD})
        assert response.status_code == 302


def test_a_remembered_basic_login_is_not_checked_again_while_the_directory_is_down(
    client: Client, with_directory: Directory
) -> None:
    assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD)).status_code == 200

    with with_directory.stopped():
        assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD)).status_code == 200


def test_a_personal_token_of_a_directory_person_works_while_the_directory_is_down(
    client: Client, with_directory: Directory
) -> None:
    assert token_for(client, "dora")[0] == 200
    created = client.post(
        "/api/v1/users/me/tokens/",
        {"name": "ci"},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD),
    )
    assert created.status_code == 201

    with with_directory.stopped():
        assert token_for(client, "dora", password=created.json()["secret"])[0] == 200


@pytest.mark.parametrize(
    ("scheme", "start_tls"),
    [("ldap", False), ("ldap", True), ("ldaps", False)],
    ids=["ldap", "starttls", "ldaps"],
)
def test_a_directory_that_never_answers_fails_the_login_within_the_timeout(
    client: Client, with_directory: Directory, silent_listener: int, settings: object, scheme: str, start_tls: bool
) -> None:
    """libldap's own timeouts do not bound the TLS handshake of ldaps://: the login must still end."""
    settings.AUTH_LDAP_SERVER_URI = f"{scheme}://127.0.0.1:{silent_listener}"  # type: ignore[attr-defined]
    settings.AUTH_LDAP_START_TLS = start_tls  # type: ignore[attr-defined]

    started = time.monotonic()
    status, body = token_for(client, "dora")
    elapsed = time.monotonic() - started

    assert status == 503
    assert body["errors"] == [{"code": "UNAVAILABLE", "message": body["error_description"], "detail": None}]
    # REGISTRY_LDAP_TIMEOUT is 2 s in tests/directory.py.
    assert elapsed < 3, elapsed


@pytest.mark.parametrize("start_tls", [True, False], ids=["starttls", "ldaps"])
def test_the_directory_is_reached_over_tls_checked_against_the_ca_file(
    client: Client, with_directory: Directory, settings: object, monkeypatch: pytest.MonkeyPatch, start_tls: bool
) -> None:
    monkeypatch.setenv("REGISTRY_LDAP_URI", with_directory.uri if start_tls else with_directory.ldaps_uri)
    monkeypatch.setenv("REGISTRY_LDAP_START_TLS", str(start_tls).lower())
    monkeypatch.setenv("REGISTRY_LDAP_CA_FILE", str(with_directory.ca_file))
    for name, value in directory_settings().items():
        setattr(settings, name, value)

    assert token_for(client, "dora")[0] == 200


def test_a_directory_certificate_from_another_ca_is_refused(
    client: Client, with_directory: Directory, settings: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    make_certificate_authority(tmp_path, "Someone else's CA")
    monkeypatch.setenv("REGISTRY_LDAP_URI", with_directory.ldaps_uri)
    monkeypatch.setenv("REGISTRY_LDAP_CA_FILE", str(tmp_path / "ca.pem"))
    for name, value in directory_settings().items():
        setattr(settings, name, value)

    assert token_for(client, "dora")[0] == 503
    assert not User.objects.filter(username="dora").exists()


def test_a_refused_service_account_is_the_directorys_fault_not_the_persons(
    client: Client, with_directory: Directory, settings: object
) -> None:
    settings.AUTH_LDAP_BIND_PASSWORD = "not the service password"  # type: ignore[attr-defined]

    response = client.post("/login/", {"username": "dora", "password": PASSWORD})

    assert b"The company directory is not answering" in response.content
    assert token_for(client, "dora")[0] == 503


def test_a_person_disabled_in_the_directory_is_refused_on_v2_once_the_remembered_login_ends(
    client: Client, with_directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(credentials.time, "monotonic", lambda: clock[0])
    assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD)).status_code == 200

    with with_directory.locked("dora"):
        # Remembered: the directory is not asked again within the window.
        assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD)).status_code == 200
        clock[0] += credentials._RememberedLogins.SECONDS + 1
        assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD)).status_code == 401
        assert client.post("/login/", {"username": "dora", "password": PASSWORD}).status_code == 200


def test_a_directory_person_deactivated_in_the_registry_is_refused_everywhere(
    client: Client, admin_user: User, with_directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory still accepts her password: the registry's deactivation must hold anyway."""
    assert token_for(client, "dora")[0] == 200
    dora = User.objects.get(username="dora")
    deactivated = client.patch(
        f"/api/v1/users/{dora.pk}/",
        {"is_active": False},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(admin_user.username, LOCAL_PASSWORD),
    )
    assert deactivated.status_code == 200
    monkeypatch.setattr(credentials, "_remembered", credentials._RememberedLogins())

    assert token_for(client, "dora", "repository:team/app:push,pull")[0] == 401
    assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD)).status_code == 401
    assert client.get("/api/v1/users/me/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD)).status_code == 401
    client.post("/login/", {"username": "dora", "password": PASSWORD})
    assert not logged_in(client)


def test_a_revoked_or_mistyped_personal_token_never_goes_to_the_directory(
    client: Client, with_directory: Directory
) -> None:
    """A CI job retrying with a dead token must not add failed binds to the person's account: with
    the directory down, the answer is the token's refusal (401), not the directory's 503."""
    assert token_for(client, "dora")[0] == 200

    with with_directory.stopped():
        assert token_for(client, "dora", password="hl_pat_revokedorwrong")[0] == 401
        assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", "hl_pat_revokedorwrong")).status_code == 401


def test_names_mail_and_groups_longer_than_the_registry_keeps_do_not_fail_the_login(
    client: Client, with_directory: Directory
) -> None:
    """All legal in OpenLDAP: a 200-character name and group cn, a 300-character mail."""
    person, group = f"uid=lena,{PEOPLE}", f"cn={'g' * 200},{GROUPS}"
    with_directory.modify(
        f"dn: {person}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: lena\ncn: Lena\n"
        f"givenName: {'L' * 200}\nsn: {'S' * 200}\nmail: {'m' * 290}@example.lan\nuserPassword: {PASSWORD}\n\n"
        f"dn: {group}\nchangetype: add\nobjectClass: groupOfNames\ncn: {'g' * 200}\nmember: {person}\n"
    )
    try:
        status, _ = token_for(client, "lena")
    finally:
        with_directory.modify(f"dn: {group}\nchangetype: delete\n\ndn: {person}\nchangetype: delete\n")

    assert status == 200
    lena = User.objects.get(username="lena")
    assert (lena.first_name, lena.last_name) == ("L" * 150, "S" * 150)
    assert lena.email == ("m" * 290 + "@example.lan")[:254]
    assert not lena.groups.exists()


@pytest.mark.parametrize(
    "search",
    [
        LDAPSearch(f"ou=nowhere,{BASE}", ldap.SCOPE_SUBTREE, "(uid=%(user)s)"),
        LDAPSearch(PEOPLE, ldap.SCOPE_SUBTREE, "(uid=%(user)s"),
    ],
    ids=["search-base-not-in-the-directory", "filter-typo"],
)
def test_a_misconfigured_search_is_a_refused_login_named_in_the_log_not_an_outage(
    client: Client,
    with_directory: Directory,
    settings: object,
    caplog: pytest.LogCaptureFixture,
    search: LDAPSearch,
) -> None:
    """docker would retry a 503 and the operator would look for a directory that is down."""
    settings.AUTH_LDAP_USER_SEARCH = search  # type: ignore[attr-defined]

    status, _ = token_for(client, "dora")

    assert status == 401
    assert "check the REGISTRY_LDAP_* configuration" in caplog.text


def test_the_dashboard_session_of_a_directory_person_ends_when_an_administrator_deactivates_them(
    client: Client, admin_user: User, with_directory: Directory
) -> None:
    assert client.post("/login/", {"username": "dora", "password": PASSWORD}).status_code == 302
    assert client.get("/account/tokens/").status_code == 200

    users.set_user_active(admin_user, User.objects.get(username="dora"), False)

    assert client.get("/account/tokens/").status_code == 302

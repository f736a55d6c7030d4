"""The periodic re-check of the directory's people against the real slapd (tests/directory.py):
a person disabled or removed there loses their tokens, refresh tokens and dashboard session here
without logging in again, and is active again once the directory has them back (not a person an
administrator deactivated); leaving the admin group ends system administrator."""

import ldap
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django_auth_ldap.config import LDAPSearch

from accounts.models import PersonalAccessToken
from accounts.services import credentials, directory_recheck, users
from accounts.services.directory_deactivations import BACK
from accounts.services.directory_recheck import DISABLED, REMOVED
from accounts.tasks import recheck_directory_people_task
from audit import actions
from audit.models import AuditEvent
from tests.conftest import PASSWORD as LOCAL_PASSWORD
from tests.conftest import basic_auth
from tests.directory import ADMIN_GROUP, BASE, PASSWORD, PEOPLE, Directory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def forgotten_logins(monkeypatch: pytest.MonkeyPatch) -> None:
    """No login remembered by another test of this process."""
    monkeypatch.setattr(credentials, "_remembered", credentials._RememberedLogins())


def dashboard_login(username: str) -> Client:
    browser = Client()
    assert browser.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


def logged_in(browser: Client) -> bool:
    """Whether a page for signed-in people opens, rather than sending to the login page."""
    response = browser.get("/account/tokens/")
    return response.status_code == 200


def personal_token(username: str) -> str:
    created = Client().post(
        "/api/v1/users/me/tokens/",
        {"name": "ci"},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(username, PASSWORD),
    )
    assert created.status_code == 201, created.content
    return str(created.json()["secret"])


def token_status(username: str, secret: str) -> int:
    response = Client().get("/auth/token", {"service": "harbor-lite"}, HTTP_AUTHORIZATION=basic_auth(username, secret))
    return response.status_code


def refresh_token(username: str, secret: str) -> str:
    response = Client().post(
        "/auth/token",
        {"grant_type": "password", "username": username, "password": secret, "access_type": "offline"},
    )
    assert response.status_code == 200, response.content
    return str(response.json()["refresh_token"])


def refreshed(token: str) -> int:
    return Client().post("/auth/token", {"grant_type": "refresh_token", "refresh_token": token}).status_code


def deactivations(username: str) -> list[dict[str, object]]:
    return [
        event.detail
        for event in AuditEvent.objects.filter(action=actions.USER_DEACTIVATE, resource=username, actor_kind="system")
    ]


def test_a_person_disabled_in_the_directory_loses_tokens_refresh_tokens_and_session(
    with_directory: Directory,
) -> None:
    browser = dashboard_login("dora")
    secret = personal_token("dora")
    refresh = refresh_token("dora", secret)
    assert token_status("dora", secret) == 200 and logged_in(browser)

    with with_directory.locked("dora"):
        assert recheck_directory_people_task() == 1

    dora = User.objects.get(username="dora")
    assert not dora.is_active
    assert token_status("dora", secret) == 401
    assert refreshed(refresh) == 400
    assert not logged_in(browser)
    assert deactivations("dora") == [{"reason": DISABLED}]


def test_a_person_removed_from_the_directory_is_deactivated(with_directory: Directory) -> None:
    dn = with_directory.add_person("ivan")
    try:
        secret = personal_token("ivan")
        browser = dashboard_login("ivan")
    finally:
        with_directory.remove(dn)

    assert recheck_directory_people_task() == 1

    assert not User.objects.get(username="ivan").is_active
    assert token_status("ivan", secret) == 401
    assert not logged_in(browser)
    assert deactivations("ivan") == [{"reason": REMOVED}]


def activations(username: str) -> list[dict[str, object]]:
    return [
        event.detail
        for event in AuditEvent.objects.filter(action=actions.USER_ACTIVATE, resource=username, actor_kind="system")
    ]


def test_a_person_the_recheck_deactivated_logs_in_again_once_the_directory_enables_them(
    with_directory: Directory,
) -> None:
    """IT locked dora by mistake and unlocked her: the directory's word, taken back."""
    dashboard_login("dora")
    with with_directory.locked("dora"):
        assert recheck_directory_people_task() == 1
        assert token_status("dora", PASSWORD) == 401

    assert token_status("dora", PASSWORD) == 200
    browser = dashboard_login("dora")

    assert User.objects.get(username="dora").is_active
    assert logged_in(browser)
    assert activations("dora") == [{"reason": BACK}]


def test_the_personal_tokens_of_a_person_the_recheck_deactivated_stay_revoked_once_they_are_back(
    with_directory: Directory,
) -> None:
    """A token copied to a CI job of the person's last team must not work again with them."""
    secret = personal_token("dora")
    with with_directory.locked("dora"):
        assert recheck_directory_people_task() == 1

    assert token_status("dora", PASSWORD) == 200  # dora is back
    assert token_status("dora", secret) == 401
    revoked = AuditEvent.objects.filter(action=actions.TOKEN_REVOKE, resource="dora/ci", actor_kind="system")
    assert revoked.count() == 1
    assert not PersonalAccessToken.objects.get(user__username="dora", name="ci").is_active


def test_a_person_the_recheck_removed_is_active_again_once_a_recheck_finds_them(with_directory: Directory) -> None:
    """A search filter that dropped some people for a while: the next run after its fix restores them."""
    dn = with_directory.add_person("ivan")
    dashboard_login("ivan")
    with_directory.remove(dn)
    assert recheck_directory_people_task() == 1

    with_directory.add_person("ivan")
    try:
        result = directory_recheck.recheck_directory_people()
    finally:
        with_directory.remove(dn)

    assert result.reactivated == ["ivan"] and result.deactivated == {}
    assert User.objects.get(username="ivan").is_active
    assert activations("ivan") == [{"reason": BACK}]


def test_a_person_an_administrator_deactivated_stays_deactivated_though_the_directory_has_them(
    with_directory: Directory, admin_user: User
) -> None:
    dashboard_login("dora")
    users.set_user_active(admin_user, User.objects.get(username="dora"), False)

    assert directory_recheck.recheck_directory_people().reactivated == []
    assert token_status("dora", PASSWORD) == 401

    assert not User.objects.get(username="dora").is_active
    assert activations("dora") == []


def test_an_administrators_deactivation_after_the_rechecks_is_the_one_that_holds(
    with_directory: Directory, admin_user: User
) -> None:
    dashboard_login("dora")
    with with_directory.locked("dora"):
        assert recheck_directory_people_task() == 1
    dora = User.objects.get(username="dora")
    users.set_user_active(admin_user, dora, True)
    users.set_user_active(admin_user, dora, False)

    assert directory_recheck.recheck_directory_people().reactivated == []
    assert token_status("dora", PASSWORD) == 401
    assert not User.objects.get(username="dora").is_active


def test_leaving_the_admin_group_ends_system_administrator_without_a_login(with_directory: Directory) -> None:
    browser = dashboard_login("erin")
    assert browser.get("/admin/users/").status_code == 200
    # groupOfNames needs a member: erin's place goes to an entry that does not exist.
    replace = f"dn: {ADMIN_GROUP}\nchangetype: modify\nreplace: member\nmember: uid={{}},{PEOPLE}\n"
    with_directory.modify(replace.format("nobody"))
    try:
        assert recheck_directory_people_task() == 0
    finally:
        with_directory.modify(replace.format("erin"))

    erin = User.objects.get(username="erin")
    assert erin.is_active and not erin.is_superuser
    assert browser.get("/admin/users/").status_code == 404  # what a non-administrator sees
    assert AuditEvent.objects.filter(action=actions.USER_ADMIN_REVOKE, resource="erin", actor_kind="system").exists()


def test_the_people_who_are_still_there_keep_everything(with_directory: Directory, admin_user: User) -> None:
    browser = dashboard_login("dora")
    secret = personal_token("dora")

    assert recheck_directory_people_task() == 0

    assert User.objects.get(username="dora").is_active
    assert User.objects.get(username=admin_user.username).is_active
    assert token_status("dora", secret) == 200
    assert logged_in(browser)
    assert not AuditEvent.objects.filter(action=actions.USER_DEACTIVATE).exists()


def test_a_second_run_changes_nothing(with_directory: Directory) -> None:
    dashboard_login("dora")
    with with_directory.locked("dora"):
        assert recheck_directory_people_task() == 1
        assert recheck_directory_people_task() == 0

    assert len(deactivations("dora")) == 1


def test_with_the_directory_down_nothing_changes_and_the_log_says_so(
    with_directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    browser = dashboard_login("dora")
    secret = personal_token("dora")

    with with_directory.stopped():
        assert recheck_directory_people_task() == 0

    assert User.objects.get(username="dora").is_active
    assert token_status("dora", secret) == 200
    assert logged_in(browser)
    assert "directory re-check stopped" in caplog.text


def test_a_misconfigured_search_deactivates_nobody(with_directory: Directory, settings: object) -> None:
    """A search base the directory does not hold answers NO_SUCH_OBJECT: not a proof that the
    person is gone."""
    dashboard_login("dora")
    settings.AUTH_LDAP_USER_SEARCH = LDAPSearch(f"ou=nowhere,{BASE}", ldap.SCOPE_SUBTREE, "(uid=%(user)s)")  # type: ignore[attr-defined]

    assert recheck_directory_people_task() == 0

    assert User.objects.get(username="dora").is_active


def test_a_search_filter_that_finds_none_of_the_people_deactivates_nobody(
    with_directory: Directory, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A filter changed so that it matches no entry looks like everyone leaving at once."""
    dashboard_login("dora")
    dashboard_login("erin")
    settings.AUTH_LDAP_USER_SEARCH = LDAPSearch(PEOPLE, ldap.SCOPE_SUBTREE, "(&(uid=%(user)s)(description=retired))")  # type: ignore[attr-defined]

    assert recheck_directory_people_task() == 0

    assert User.objects.filter(username__in=["dora", "erin"], is_active=True).count() == 2
    assert not AuditEvent.objects.filter(action=actions.USER_DEACTIVATE).exists()
    assert "found none of the 2 people" in caplog.text


def test_a_local_account_is_never_looked_up(with_directory: Directory) -> None:
    """The directory holds no `root`: the local administrator must not be taken for removed."""
    root = User.objects.create_superuser("root", password=LOCAL_PASSWORD)

    recheck_directory_people_task()

    root.refresh_from_db()
    assert root.is_active and root.is_superuser


def test_a_run_while_another_is_still_going_checks_nobody(
    with_directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    """Beat sends a re-check every REGISTRY_LDAP_RECHECK_SECONDS whether the last one ended or
    not: with many people a run outlasts that, and runs would pile up on the directory, each
    deactivating and auditing the same people again."""
    dashboard_login("dora")
    cache.set(directory_recheck.running_key(), 1, timeout=60)
    try:
        with with_directory.locked("dora"):
            assert recheck_directory_people_task() == 0
    finally:
        cache.delete(directory_recheck.running_key())

    assert User.objects.get(username="dora").is_active
    assert "another re-check is still running" in caplog.text


def test_a_run_lets_the_next_one_go_when_it_ends(with_directory: Directory) -> None:
    dashboard_login("dora")
    with with_directory.stopped():
        assert recheck_directory_people_task() == 0

    with with_directory.locked("dora"):
        assert recheck_directory_people_task() == 1

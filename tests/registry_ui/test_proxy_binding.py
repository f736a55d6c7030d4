"""A proxy-cache project's upstream in the dashboard: created from the projects form, shown on the
project page, and changed there by a system administrator (issue 16)."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Membership, Project, Role
from accounts.services.projects import proxy_password
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

AsUser = Callable[[User], Client]


@pytest.fixture
def hub(root: User, as_user: AsUser) -> Project:
    created = as_user(root).post(
        "/admin/projects/create/",
        {
            "name": "hub",
            "proxy_url": "https://registry-1.docker.io/",
            "proxy_username": "puller",
            "proxy_password": "dckr_pat_secret",
        },
        follow=True,
    )
    assert b"Project hub created." in created.content
    return Project.objects.get(name="hub")


def test_an_admin_creates_a_proxy_project_from_the_dashboard(hub: Project) -> None:
    assert (hub.proxy_url, hub.proxy_username, proxy_password(hub)) == (
        "https://registry-1.docker.io",
        "puller",
        "dckr_pat_secret",
    )


def test_an_upstream_that_is_no_registry_url_is_refused_on_the_form(root: User, as_user: AsUser) -> None:
    refused = as_user(root).post("/admin/projects/create/", {"name": "hub", "proxy_url": "registry.lan/v2/"})

    assert refused.status_code == 400
    assert b"Give the upstream registry as http(s)://host[:port]" in refused.content
    assert not Project.objects.filter(name="hub").exists()


def test_the_project_page_shows_the_upstream_and_an_admin_gets_its_form_without_the_password(
    hub: Project, root: User, as_user: AsUser
) -> None:
    page = as_user(root).get("/projects/hub/").content.decode()

    assert "A proxy cache of <code>https://registry-1.docker.io</code>, pulling as <code>puller</code>" in page
    assert 'action="/admin/projects/hub/upstream/"' in page
    assert 'value="https://registry-1.docker.io"' in page
    assert "dckr_pat_secret" not in page


def test_an_admin_changes_the_upstream_account_and_an_empty_password_keeps_the_stored_one(
    hub: Project, root: User, as_user: AsUser
) -> None:
    changed = as_user(root).post(
        "/admin/projects/hub/upstream/",
        {"proxy_url": "https://registry-1.docker.io", "proxy_username": "robot", "proxy_password": ""},
        follow=True,
    )

    hub.refresh_from_db()
    assert b"Project hub now proxies https://registry-1.docker.io." in changed.content
    assert (hub.proxy_url, hub.proxy_username, proxy_password(hub)) == (
        "https://registry-1.docker.io",
        "robot",
        "dckr_pat_secret",
    )
    event = AuditEvent.objects.get(action="project.upstream")
    assert event.detail["previous_proxy_url"] == "https://registry-1.docker.io"
    assert event.detail["password_changed"] is False


def test_a_new_upstream_gets_the_stored_password_only_when_it_is_given_again(
    hub: Project, root: User, as_user: AsUser
) -> None:
    # The stored password is never shown: moving the project to a host of one's own, keeping it,
    # would hand it to that host with the first pull (and a LAN mirror has no use for a Hub token).
    client = as_user(root)

    kept = client.post("/admin/projects/hub/upstream/", {"proxy_url": "http://collector.lan"}, follow=True)
    hub.refresh_from_db()
    refused = (hub.proxy_url, proxy_password(hub))
    cleared = client.post(
        "/admin/projects/hub/upstream/", {"proxy_url": "http://mirror.lan:5000", "clear_password": "on"}, follow=True
    )
    hub.refresh_from_db()

    assert b"Give the password for http://collector.lan again" in kept.content
    assert refused == ("https://registry-1.docker.io", "dckr_pat_secret")
    assert b"Project hub now proxies http://mirror.lan:5000." in cleared.content
    assert (hub.proxy_url, proxy_password(hub)) == ("http://mirror.lan:5000", "")


def test_an_admin_replaces_or_removes_the_password(hub: Project, root: User, as_user: AsUser) -> None:
    client = as_user(root)
    client.post(
        "/admin/projects/hub/upstream/",
        {"proxy_url": hub.proxy_url, "proxy_username": "puller", "proxy_password": "new-token"},
    )
    hub.refresh_from_db()
    replaced = proxy_password(hub)
    client.post(
        "/admin/projects/hub/upstream/", {"proxy_url": hub.proxy_url, "proxy_username": "", "clear_password": "on"}
    )
    hub.refresh_from_db()

    assert replaced == "new-token"
    assert (hub.proxy_username, proxy_password(hub)) == ("", "")


def test_a_bad_upstream_or_an_ordinary_project_is_refused_with_a_message(
    hub: Project, team: Project, root: User, as_user: AsUser
) -> None:
    client = as_user(root)

    bad_url = client.post("/admin/projects/hub/upstream/", {"proxy_url": "ftp://mirror.lan"}, follow=True)
    ordinary = client.post("/admin/projects/team/upstream/", {"proxy_url": "http://mirror.lan"}, follow=True)

    assert b"Give the upstream registry as http(s)://host[:port]" in bad_url.content
    assert b"Only a proxy-cache project has an upstream" in ordinary.content
    hub.refresh_from_db()
    team.refresh_from_db()
    assert (hub.proxy_url, team.proxy_url) == ("https://registry-1.docker.io", "")


def test_a_project_admin_sees_the_upstream_but_may_not_change_it(hub: Project, alice: User, as_user: AsUser) -> None:
    Membership.objects.create(project=hub, user=alice, role=Role.ADMIN)
    client = as_user(alice)

    page = client.get("/projects/hub/").content.decode()
    refused = client.post("/admin/projects/hub/upstream/", {"proxy_url": "http://evil.lan"})

    assert "A proxy cache of <code>https://registry-1.docker.io</code>" in page
    assert "/admin/projects/hub/upstream/" not in page
    assert refused.status_code == 404
    hub.refresh_from_db()
    assert hub.proxy_url == "https://registry-1.docker.io"


def test_credentials_in_the_upstream_url_are_refused_as_the_page_and_the_audit_log_would_show_them(
    hub: Project, root: User, as_user: AsUser
) -> None:
    client = as_user(root)

    created = client.post("/admin/projects/create/", {"name": "ghcr", "proxy_url": "https://puller:ghp_secret@ghcr.io"})
    changed = client.post(
        "/admin/projects/hub/upstream/",
        {"proxy_url": "https://puller:dckr_pat_other@registry-1.docker.io"},
        follow=True,
    )

    assert created.status_code == 400
    assert b"Give the upstream&#x27;s account in its own fields" in created.content
    assert b"Give the upstream&#x27;s account in its own fields" in changed.content
    assert not Project.objects.filter(name="ghcr").exists()
    hub.refresh_from_db()
    assert hub.proxy_url == "https://registry-1.docker.io"
    assert not AuditEvent.objects.filter(detail__icontains="secret").exclude(action="project.create").exists()


@pytest.mark.parametrize("url", ["http://[::1", "https://registry.lan:port", "https://registry.lan:99999"])
def test_a_malformed_upstream_url_is_a_form_message_not_a_server_error(
    url: str, hub: Project, root: User, as_user: AsUser
) -> None:
    client = as_user(root)

    created = client.post("/admin/projects/create/", {"name": "lan", "proxy_url": url})
    changed = client.post("/admin/projects/hub/upstream/", {"proxy_url": url}, follow=True)

    assert created.status_code == 400
    assert b"Give the upstream registry as http(s)://host[:port]" in created.content
    assert b"Give the upstream registry as http(s)://host[:port]" in changed.content
    hub.refresh_from_db()
    assert hub.proxy_url == "https://registry-1.docker.io"


def test_an_upstream_url_longer_than_the_project_keeps_is_a_form_message_not_a_server_error(
    hub: Project, root: User, as_user: AsUser
) -> None:
    client = as_user(root)
    url = "https://" + ".".join(["registry"] * 24) + ".lan"  # 228 characters, a valid host name

    created = client.post("/admin/projects/create/", {"name": "lan", "proxy_url": url})
    changed = client.post("/admin/projects/hub/upstream/", {"proxy_url": url}, follow=True)

    assert created.status_code == 400
    assert b"at most 200 characters" in created.content
    assert b"at most 200 characters" in changed.content
    assert not Project.objects.filter(name="lan").exists()
    hub.refresh_from_db()
    assert hub.proxy_url == "https://registry-1.docker.io"


def test_the_project_page_names_the_upstream_account_to_system_admins_only(
    hub: Project, client: Client, alice: User, as_user: AsUser
) -> None:
    Project.objects.filter(name="hub").update(public=True)
    anonymous = Client().get("/projects/hub/").content.decode()
    Membership.objects.create(project=hub, user=alice, role=Role.ADMIN)
    member = as_user(alice).get("/projects/hub/").content.decode()

    assert "A proxy cache of <code>https://registry-1.docker.io</code>" in anonymous
    assert "A proxy cache of <code>https://registry-1.docker.io</code>" in member
    assert "puller" not in anonymous
    assert "puller" not in member


def test_a_change_of_upstream_without_the_csrf_token_is_refused(hub: Project, root: User) -> None:
    # Another site's page, opened by a logged-in administrator, must not point the cache elsewhere.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(root)

    forged = browser.post("/admin/projects/hub/upstream/", {"proxy_url": "http://evil.example", "clear_password": "on"})

    assert forged.status_code == 403
    hub.refresh_from_db()
    assert (hub.proxy_url, proxy_password(hub)) == ("https://registry-1.docker.io", "dckr_pat_secret")

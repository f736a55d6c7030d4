""" "Last seen" of people and robots (accounts/services/last_seen.py): CLI use counts (the token
service, Basic on /v2/, a refresh), it shows on the users page and the robots list, and it is
written at most once per REGISTRY_LAST_SEEN_SECONDS per account, across processes through Redis."""

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import LastSeen, Membership, Project, RobotAccount, Role
from accounts.services import credentials, last_seen
from accounts.services.robots import create_robot
from tests.conftest import PASSWORD, basic_auth
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db


def on_v2(username: str, secret: str = PASSWORD) -> int:
    return Client().get("/v2/", HTTP_AUTHORIZATION=basic_auth(username, secret)).status_code


def writes_of_last_seen(captured: CaptureQueriesContext) -> int:
    return sum(
        1
        for query in captured.captured_queries
        if re.match(r'(INSERT INTO|UPDATE) "accounts_(lastseen|robotaccount)"', query["sql"])
    )


def another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a second web process knows: nothing remembered, nobody seen lately, the same Redis."""
    monkeypatch.setattr(credentials, "_remembered", credentials._RememberedLogins())
    monkeypatch.setattr(last_seen, "_seen_lately", last_seen._SeenLately())


def last_seen_cell(page: str, name: str) -> str:
    row = re.search(rf"<tr>\s*<td>(?:<code>)?{re.escape(name)}.*?</tr>", page, re.DOTALL)
    assert row is not None, page
    cell = re.search(r"<td[^>]*data-last-seen>(.*?)</td>", row.group(0), re.DOTALL)
    assert cell is not None, row.group(0)
    return re.sub(r"<[^>]+>", "", cell.group(1)).strip()


def test_someone_who_only_used_the_cli_is_seen_on_the_users_page(admin_user: User) -> None:
    User.objects.create_user("dave", password=PASSWORD)
    assert on_v2("dave") == 200
    browser = Client()
    browser.force_login(admin_user)

    page = browser.get("/admin/users/").content.decode()

    assert "Last seen" in page
    assert last_seen_cell(page, "dave") == "just now"
    User.objects.create_user("nina", password=PASSWORD)
    assert last_seen_cell(browser.get("/admin/users/").content.decode(), "nina") == "never"


def test_refreshing_tokens_without_a_password_login_counts_as_being_seen(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REGISTRY_LAST_SEEN_SECONDS = 1
    dave = User.objects.create_user("dave", password=PASSWORD)
    granted = Client().post(
        "/auth/token",
        {"grant_type": "password", "username": "dave", "password": PASSWORD, "access_type": "offline"},
    )
    long_ago = timezone.now() - timedelta(days=3)
    User.objects.filter(pk=dave.pk).update(last_login=long_ago)
    LastSeen.objects.filter(user=dave).update(seen_at=long_ago)
    time.sleep(1.1)

    refreshed = Client().post(
        "/auth/token", {"grant_type": "refresh_token", "refresh_token": granted.json()["refresh_token"]}
    )

    assert refreshed.status_code == 200
    assert LastSeen.objects.get(user=dave).seen_at > timezone.now() - timedelta(minutes=1)


def test_a_robot_is_seen_when_it_logs_in_and_shows_on_the_robots_list(alice: User) -> None:
    team = Project.objects.create(name="team")
    Membership.objects.create(project=team, user=alice, role=Role.ADMIN)
    created = create_robot(team, "ci")
    create_robot(team, "idle")
    assert on_v2(created.robot.username, created.secret) == 200
    browser = Client()
    browser.force_login(alice)

    page = browser.get("/projects/team/robots/").content.decode()

    assert RobotAccount.objects.get(name="ci").last_used_at is not None
    assert last_seen_cell(page, "robot$team+ci") == "just now"
    assert last_seen_cell(page, "robot$team+idle") == "never"


def test_it_is_written_at_most_once_per_interval_across_processes(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REGISTRY_LAST_SEEN_SECONDS = 2
    User.objects.create_user("dave", password=PASSWORD)
    with CaptureQueriesContext(connection) as first_process:
        for _ in range(5):
            assert on_v2("dave") == 200
    another_process(monkeypatch)
    with CaptureQueriesContext(connection) as second_process:
        assert on_v2("dave") == 200
    time.sleep(2.1)
    with CaptureQueriesContext(connection) as after_the_interval:
        assert on_v2("dave") == 200

    assert writes_of_last_seen(first_process) == 1
    assert writes_of_last_seen(second_process) == 0
    assert writes_of_last_seen(after_the_interval) == 1


def test_with_redis_unreachable_each_process_still_writes_once_per_interval(redis_link: TcpProxy) -> None:
    User.objects.create_user("dave", password=PASSWORD)
    redis_link.cut()

    with CaptureQueriesContext(connection) as captured:
        for _ in range(3):
            assert on_v2("dave") == 200

    assert writes_of_last_seen(captured) == 1
    assert LastSeen.objects.filter(user__username="dave").exists()


USERS_PAGE_ON_SQLITE = """
from django.contrib.auth.models import User
from django.test import Client
User.objects.create_superuser("root", password="a long passphrase")
User.objects.create_user("dora", password="a long passphrase")
assert Client().post("/login/", {"username": "dora", "password": "a long passphrase"}).status_code == 302
browser = Client()
browser.force_login(User.objects.get(username="root"))
print(browser.get("/admin/users/").content.decode())
"""


def test_a_dashboard_login_is_seen_on_sqlite_too(tmp_path: Path) -> None:
    """SQLite's max() (Greatest) is NULL when either side is: someone who only ever used the
    dashboard, and so has a last login but no CLI use, was shown as never seen on the database
    of a single machine."""
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        "REGISTRY_DATA_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "testserver",
    }
    manage = [sys.executable, str(Path(__file__).parents[2] / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=environment, check=True, timeout=300)

    page = subprocess.run(
        [*manage, "shell", "-v0", "-c", USERS_PAGE_ON_SQLITE],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert page.returncode == 0, page.stderr
    assert last_seen_cell(page.stdout, "dora") == "just now"

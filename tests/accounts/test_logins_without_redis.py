"""Redis goes away (the link cut, or a host that stops answering): every way of logging in still
works, and a wrong password is still a 401, never a 500 (issue 12, item 10)."""

import time

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD, basic_auth
from tests.tcp_proxy import TcpProxy


def logins_answer(client: Client) -> None:
    auth = basic_auth("alice")
    assert client.get("/auth/token", {"scope": "repository:alice/app:pull"}, HTTP_AUTHORIZATION=auth).status_code == 200
    assert client.get("/v2/", HTTP_AUTHORIZATION=auth).status_code == 200
    assert client.get("/api/v1/users/me/", HTTP_AUTHORIZATION=auth).status_code == 200
    password_grant = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    assert client.post("/auth/token", password_grant).status_code == 200
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("alice", "wrong")).status_code == 401
    assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("alice", "wrong")).status_code == 401


def test_logins_work_through_the_link_while_redis_is_there(client: Client, alice: User, redis_link: TcpProxy) -> None:
    logins_answer(client)


def test_logins_work_when_the_link_to_redis_is_cut(client: Client, alice: User, redis_link: TcpProxy) -> None:
    client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("alice"))  # the pool holds a live connection
    redis_link.cut()
    logins_answer(client)


@pytest.mark.parametrize("attempt", ["right", "wrong"])
def test_a_login_does_not_hang_when_redis_stops_answering(
    client: Client, alice: User, redis_link: TcpProxy, attempt: str
) -> None:
    redis_link.stall()
    started = time.monotonic()
    password = PASSWORD if attempt == "right" else "wrong"
    response = client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("alice", password))
    assert response.status_code == (200 if attempt == "right" else 401)
    # One cache call to check the throttle and, for a failure, one to count it: a second each.
    assert time.monotonic() - started < 5

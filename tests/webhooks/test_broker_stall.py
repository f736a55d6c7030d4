"""A push into a project with webhooks hands its deliveries to the workers once it commits. A
broker that stops answering (Redis stalled, not down) must not hold the push: the deliveries are
committed, and beat sends them. The broker is reached through a proxy the test stalls; the shared
Redis is never touched."""

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from accounts.models import Project
from registry_ui.celery import app
from tests.conftest import PushImage
from tests.tcp_proxy import TcpProxy, tcp_proxy
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery
from webhooks.services.delivery import deliver_each, due_deliveries
from webhooks.services.webhooks import create_webhook

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_through_proxy() -> Iterator[TcpProxy]:
    direct = app.conf.broker_url
    broker = urlsplit(direct)
    with tcp_proxy(broker.hostname or "127.0.0.1", broker.port or 6379) as proxy:
        app.conf.broker_url = broker._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        # Celery keeps its broker connections in pools made from broker_url.
        app._after_fork()
        try:
            yield proxy
        finally:
            app.conf.broker_url = direct
            app._after_fork()


def test_a_push_is_not_held_by_a_stalled_broker_and_its_event_goes_out_from_beat(
    team: Project, receiver: Receiver, push_image: PushImage, broker_through_proxy: TcpProxy
) -> None:
    create_webhook(team, url=receiver.url, events=["push"])
    broker_through_proxy.stall()
    started = time.monotonic()

    image = push_image("team/app", "v1")

    assert time.monotonic() - started < 5
    assert Delivery.objects.get().state == "pending"
    assert deliver_each(due_deliveries()) == 1
    (got,) = receiver.wait_for(1)
    assert image.digest.encode() in got.body

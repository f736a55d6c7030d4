"""A push into a project with webhooks hands its deliveries to the workers once it commits. A
broker that stops answering (Redis stalled, not down) must not hold the push: the deliveries are
committed, and beat sends them. The broker is reached through a proxy the test stalls; the shared
Redis is never touched."""

import time

import pytest

from accounts.models import Project
from tests.conftest import PushImage
from tests.tcp_proxy import TcpProxy
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery
from webhooks.services.delivery import deliver_each, due_deliveries
from webhooks.services.webhooks import create_webhook

pytestmark = pytest.mark.django_db(transaction=True)


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

"""Two workers never send one delivery at once: the second finds it claimed (SKIP LOCKED) and
moves on at once, rather than waiting or sending it again. Real threads, each with its own
Postgres connection, and a receiver slow enough that the first is mid-send."""

import threading

import pytest
from django.db import connection

from accounts.models import Project
from audit import actions
from audit.recorder import record
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery
from webhooks.services.delivery import deliver
from webhooks.services.webhooks import create_webhook

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_delivery_being_sent_is_skipped_by_a_second_worker_and_sent_once(team: Project, receiver: Receiver) -> None:
    create_webhook(team, url=receiver.url, events=["push"])
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": "sha256:" + "c" * 64})
    delivery = Delivery.objects.get()
    receiver.delay_seconds = 2
    results: dict[str, bool | None] = {}

    def worker(name: str) -> None:
        try:
            results[name] = deliver(delivery.pk)
        finally:
            connection.close()

    first = threading.Thread(target=worker, args=("first",))
    first.start()
    assert receiver.arrival.wait(10), "the first worker is sending"
    second = threading.Thread(target=worker, args=("second",))
    second.start()
    second.join(timeout=1)
    assert not second.is_alive(), "the second worker waited for the first instead of moving on"
    assert results == {"second": None}
    first.join(timeout=10)

    assert results == {"second": None, "first": True}
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().attempts == 1

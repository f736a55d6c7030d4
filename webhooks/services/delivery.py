"""Sending deliveries: claimed one at a time, signed, with retries, backoff and pausing.

A delivery is claimed with `SELECT … FOR UPDATE SKIP LOCKED` and its row lock is held while it
is sent (REGISTRY_WEBHOOK_TIMEOUT at most, the whole attempt), so two workers never send one delivery
at once; a worker that dies mid-send drops its connection and the lock with it, and the delivery,
still pending, goes out again from beat. A receiver may then see one delivery twice, with the same
`Webhook-Id`, and de-duplicates on it.

A failed attempt postpones every pending delivery of its target (webhook or endpoint) together,
by REGISTRY_WEBHOOK_RETRY_SECONDS doubled with each failure in a row: a receiver that is down is
asked again later, not once per waiting event. After REGISTRY_WEBHOOK_PAUSE_AFTER_FAILURES failures
in a row a webhook is paused with the reason; nothing is dropped, and resuming it sends the backlog.
"""

import base64
import contextlib
import hashlib
import hmac
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.sealing import SealBroken, unseal
from webhooks.models import Delivery, Webhook
from webhooks.services.targets import Refused, resolve

SIGNATURE_HEADER = "X-Harbor-Signature"
DELIVERY_ID_HEADER = "Webhook-Id"
SNIPPET_BYTES = 512
MAX_REDIRECTS = 3
USER_AGENT = "Harbor-lite-Webhook/1"
TEST_EVENT = "test"


@dataclass(frozen=True)
class Attempt:
    status_code: int | None = None
    latency_ms: int = 0
    snippet: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact body with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Deadline:
    """Cuts an attempt off once REGISTRY_WEBHOOK_TIMEOUT is up, however it is spent. A socket's
    timeout bounds each wait for a byte only: a receiver trickling its answer a byte at a time
    would otherwise hold the attempt, and the row lock and transaction of its claim, for as long
    as it liked."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return max(self._ends - time.monotonic(), 0.001)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _cut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _cut(sock)


def _cut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS one: whatever waits on it wakes up with an error.
    # A socket closed since has no descriptor any more, and raises rather than cut another.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to `address`, the one checked, rather than resolving the host name again, and
    within the attempt's deadline."""

    def __init__(self, host: str, port: int, *, address: str, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.seconds)
        self.address = address
        self.deadline = deadline

    def connect(self) -> None:
        connected = socket.create_connection((self.address, self.port), self.deadline.remaining())
        self.deadline.watch(connected)
        self.sock = connected


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, deadline: _Deadline) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=deadline.seconds, context=self.tls)
        self.address = address
        self.deadline = deadline

    def connect(self) -> None:
        connected = socket.create_connection((self.address, self.port), self.deadline.remaining())
        # The certificate is checked against the name in the URL, not the address.
        wrapped = self.tls.wrap_socket(connected, server_hostname=self.host, do_handshake_on_connect=False)
        self.deadline.watch(wrapped)
        wrapped.do_handshake()
        self.sock = wrapped


def post(url: str, body: bytes, headers: dict[str, str], *, guarded: bool = True) -> Attempt:
    """POST `body` to `url`, within REGISTRY_WEBHOOK_TIMEOUT in all (redirects included).
    `guarded`: the URL is a project admin's, so it may only reach the addresses
    webhooks/services/targets.py allows, checked at each connection. Redirects are followed only
    when they keep the method and body (307, 308) and stay on the same scheme, host and port: a
    receiver cannot send a signed event, or its Authorization header, elsewhere. Only the answer's
    first SNIPPET_BYTES are read."""
    started = time.monotonic()
    origin = urlsplit(url)[:2]
    with _Deadline(settings.REGISTRY_WEBHOOK_TIMEOUT) as deadline:
        try:
            for _ in range(MAX_REDIRECTS + 1):
                status_code, location, snippet = _post_once(url, body, headers, guarded, deadline)
                attempt = Attempt(status_code=status_code, latency_ms=_since(started), snippet=snippet)
                if status_code in (307, 308) and location:
                    target = urljoin(url, location)
                    if urlsplit(target)[:2] == origin:
                        url = target
                        continue
                    return replace(attempt, error=f"redirected to {target}, another host: not followed")
                if status_code in (301, 302, 303, 307, 308):
                    return replace(attempt, error=f"redirected ({status_code}) to {location}: not followed")
                return attempt
            return Attempt(latency_ms=_since(started), error=f"more than {MAX_REDIRECTS} redirects")
        except Refused as error:
            return Attempt(latency_ms=_since(started), error=_short(str(error)))
        except (OSError, http.client.HTTPException, ValueError) as error:
            if deadline.expired:
                return Attempt(latency_ms=_since(started), error=f"no answer within {deadline.seconds} s")
            return Attempt(latency_ms=_since(started), error=_short(f"{type(error).__name__}: {error}"))


def _post_once(
    url: str, body: bytes, headers: dict[str, str], guarded: bool, deadline: _Deadline
) -> tuple[int, str, str]:
    """One request: its status code, Location header and the start of its answer."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(host, port) if guarded else host
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address=address, deadline=deadline)
    # Credentials in an operator's notification URL (or a webhook's saved before they were
    # refused there) go as Basic auth, unless an Authorization header is set.
    if parts.username is not None and "Authorization" not in headers:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers = {**headers, "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
    try:
        connection.request("POST", urlunsplit(("", "", parts.path or "/", parts.query, "")), body, headers)
        response = connection.getresponse()
        try:
            snippet = response.read(SNIPPET_BYTES)
        # A receiver that hangs up mid-answer, or is cut off reading it, still answered: its
        # status code counts.
        except (OSError, http.client.HTTPException):
            snippet = b""
        text = snippet.decode("utf-8", "replace").replace("\x00", "")[:SNIPPET_BYTES]
        return response.status, response.getheader("Location", ""), text
    finally:
        connection.close()


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _short(text: str) -> str:
    return text.replace("\x00", "")[:512]


def headers_for(delivery: Delivery, body: bytes) -> dict[str, str]:
    """The headers of one attempt: the same on every attempt of a delivery. Raises SealBroken."""
    headers = {
        "Content-Type": delivery.content_type,
        "User-Agent": USER_AGENT,
        DELIVERY_ID_HEADER: str(delivery.delivery_id),
    }
    webhook = delivery.webhook
    if webhook is None:
        headers.update(settings.REGISTRY_NOTIFICATION_HEADERS)
        return headers
    if webhook.secret_sealed:
        headers[SIGNATURE_HEADER] = signature(unseal(webhook.secret_sealed), body)
    if webhook.auth_header_sealed:
        headers["Authorization"] = unseal(webhook.auth_header_sealed)
    return headers


def deliver(delivery_id: int) -> bool | None:
    """Send one pending delivery that is due. True: delivered; False: the attempt failed (and
    the delivery waits for its retry); None: nothing to do (delivered already, not due, its
    webhook paused, or another worker sending it now)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook__project")
            .filter(pk=delivery_id, state=Delivery.State.PENDING, next_attempt_at__lte=now)
            .first()
        )
        # A paused webhook still gets its test events: they tell whether the receiver is back.
        paused = delivery is not None and delivery.webhook is not None and not delivery.webhook.enabled
        if delivery is None or (paused and delivery.event != TEST_EVENT):
            return None
        if delivery.webhook is None and delivery.endpoint not in settings.REGISTRY_NOTIFICATION_URLS:
            delivery.state = Delivery.State.FAILED
            delivery.error = "the endpoint is no longer in REGISTRY_NOTIFICATION_URLS"
            delivery.save(update_fields=["state", "error"])
            return None
        body = delivery.body.encode()
        try:
            headers = headers_for(delivery, body)
        except SealBroken as error:
            attempt = Attempt(error=str(error))
        else:
            if delivery.webhook is not None:
                attempt = post(delivery.webhook.url, body, headers)
            else:
                # The operator's own endpoints (REGISTRY_NOTIFICATION_URLS) go where they are set.
                attempt = post(delivery.endpoint, body, headers, guarded=False)
        _record(delivery, attempt)
        return attempt.succeeded


def _record(delivery: Delivery, attempt: Attempt) -> None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.attempted_at = now
    delivery.status_code = attempt.status_code
    delivery.latency_ms = attempt.latency_ms
    delivery.response_snippet = attempt.snippet
    failure = attempt.error or (f"answered {attempt.status_code}" if not attempt.succeeded else "")
    delivery.error = _short(failure)
    webhook = delivery.webhook
    if attempt.succeeded:
        delivery.state = Delivery.State.DELIVERED
        delivery.delivered_at = now
        delivery.save()
        if webhook is not None and webhook.consecutive_failures:
            Webhook.objects.filter(pk=webhook.pk).update(consecutive_failures=0)
        return
    if webhook is not None:
        Webhook.objects.filter(pk=webhook.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        webhook.refresh_from_db(fields=["consecutive_failures", "enabled"])
        failures = webhook.consecutive_failures
    else:
        failures = delivery.attempts
    retry_at = now + timedelta(seconds=retry_delay(failures))
    delivery.next_attempt_at = retry_at
    delivery.save()
    # The target's other waiting deliveries wait with this one; those another worker is sending
    # are skipped (that worker postpones them if it fails too), so two failing workers never
    # wait for each other's rows.
    siblings = Q(webhook=webhook) if webhook is not None else Q(webhook=None, endpoint=delivery.endpoint)
    waiting = (
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(siblings, state=Delivery.State.PENDING, next_attempt_at__lt=retry_at)
        .values_list("pk", flat=True)
    )
    Delivery.objects.filter(pk__in=list(waiting)).update(next_attempt_at=retry_at)
    limit = settings.REGISTRY_WEBHOOK_PAUSE_AFTER_FAILURES
    if webhook is not None and webhook.enabled and failures >= limit:
        Webhook.objects.filter(pk=webhook.pk, enabled=True).update(
            enabled=False,
            paused_reason=_short(
                f"Paused {now:%Y-%m-%d %H:%M} UTC after {failures} failed deliveries in a row;"
                f" the last: {failure}. Resume it once the receiver answers."
            ),
        )


def retry_delay(failures: int) -> int:
    """Seconds before the next attempt after `failures` failures in a row: doubled each time."""
    base = settings.REGISTRY_WEBHOOK_RETRY_SECONDS
    return min(base * 2 ** min(max(failures - 1, 0), 30), settings.REGISTRY_WEBHOOK_MAX_RETRY_SECONDS)


def deliver_each(delivery_ids: Iterable[int], budget_seconds: float | None = None) -> int:
    """Send these deliveries in turn, within `budget_seconds`; returns how many were delivered.
    Once one attempt of a target fails, its other deliveries wait (they were postponed with it)."""
    started = time.monotonic()
    delivered = 0
    for delivery_id in delivery_ids:
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            break
        if deliver(delivery_id):
            delivered += 1
    return delivered


def due_deliveries(limit: int = 1000) -> list[int]:
    """Pending deliveries whose time has come, oldest first, of webhooks that are not paused."""
    return list(
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=timezone.now())
        .filter(Q(webhook=None) | Q(webhook__enabled=True) | Q(event=TEST_EVENT))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def purge_deliveries(days: int) -> tuple[int, int]:
    """Forget sent and given-up deliveries older than `days`; give up those still waiting after
    that long. Returns (deleted, given up)."""
    cutoff = timezone.now() - timedelta(days=days)
    # Deleted first: a delivery given up now stays in the log for another `days`.
    deleted, _ = (
        Delivery.objects.filter(created_at__lt=cutoff)
        .exclude(state=Delivery.State.PENDING)
        .filter(Q(attempted_at__lt=cutoff) | Q(attempted_at=None))
        .delete()
    )
    given_up = Delivery.objects.filter(state=Delivery.State.PENDING, created_at__lt=cutoff).update(
        state=Delivery.State.FAILED, attempted_at=timezone.now(), error=f"given up: not delivered within {days} days"
    )
    return deleted, given_up

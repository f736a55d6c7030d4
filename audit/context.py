"""Who is acting, and from where: set once at the edge of a request, read by the recorder.

Services never see a request, yet an audit record names the actor, the client address and the
user agent. The request edge (registry_ui/middleware.py `AuditContextMiddleware`) puts them in a
context variable; the actor is worked out only when an event is recorded, because on /v2/ and the
management API the caller is known only once the view has authenticated them. Work outside a
request (Celery tasks, the shell) has no context and is recorded as the system.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from audit.models import ActorKind

ROBOT_PREFIX = "robot$"


@dataclass(frozen=True)
class Actor:
    kind: str
    name: str = ""


SYSTEM = Actor(ActorKind.SYSTEM)
ANONYMOUS = Actor(ActorKind.ANONYMOUS)


def actor_for_subject(subject: str) -> Actor:
    """The actor a token's or login's subject names: "" is anonymous, `robot$…` a robot."""
    if not subject:
        return ANONYMOUS
    return Actor(ActorKind.ROBOT if subject.startswith(ROBOT_PREFIX) else ActorKind.USER, subject)


@dataclass(frozen=True)
class RequestContext:
    """`via` names the work that acts for the actor outside a request (`job 12`), kept in each
    event's detail."""

    address: str
    user_agent: str
    actor: Callable[[], Actor]
    via: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("audit_request_context", default=None)


def current() -> RequestContext | None:
    return _current.get()


def on_behalf(actor: Actor, via: str) -> RequestContext:
    """The context of background work done for `actor` (a job a user asked for)."""
    return RequestContext(address="", user_agent="", actor=lambda: actor, via=via)


@contextmanager
def acting(context: RequestContext) -> Iterator[None]:
    """Events recorded inside are attributed to the context's actor, address and user agent."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)

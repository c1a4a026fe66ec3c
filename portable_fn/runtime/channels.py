"""Topics and queues a function sends to: declared resources, and the publisher that sends on each cloud.

    order_events = topic("order-events")            # the same value a receiving function's trigger takes

    @function(trigger=queue("orders"), uses=[order_events.publish()])
    def fulfil(event: CloudEvent[Order], ctx: Context) -> None:
        ctx.emit(order_events, data={...}, type="shop.order.paid")

`topic(...)` and `queue(...)` are triggers; `.publish()` / `.send()` (or the bare value in `uses=`) declare
the function sends to them: a `Use` of a `Channel`, the resource deploy provisions and grants, like a state.

A `Publisher` sends CloudEvents on one cloud. Every event travels in the CloudEvents JSON format
(structured mode, `application/cloudevents+json`) as the message body, so every receiving shim hands the
handler exactly the event that was sent, whichever cloud it crossed. Which publisher serves a process is
decided on first use, as for state: `PORTABLE_FN_PROVIDER` names the provider whose `publish` module
(`portable_fn_aws.publish`, ...) opens it, and `PORTABLE_FN_TOPIC_<NAME>` / `PORTABLE_FN_QUEUE_<NAME>`
(`locator_env`) say where a channel is (deploy sets them on the functions that declare it). The local host
installs its own with `use_publisher`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .errors import PortableFnError
from .resources import WRITE, Resource, Use

if TYPE_CHECKING:
    from .cloudevent import CloudEvent

TOPIC = "topic"
QUEUE = "queue"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


class PublishError(PortableFnError):
    """Sending to a topic or queue failed (the message names the channel and the cause)."""


class Channel(Resource):
    """A topic or queue some function sends to, named as the trigger that receives from it names it."""

    def __init__(self, kind: str, name: str, *, fifo: bool = False) -> None:
        if kind not in (TOPIC, QUEUE):
            raise ValueError(f"a channel is a {TOPIC} or a {QUEUE}, not {kind!r}")
        self.kind = kind  # an instance attribute: one class serves both kinds
        self.name = name  # already checked by the trigger (`triggers._check_name`)
        self.fifo = fifo

    @property
    def name_in_code(self) -> str:
        return self.name.replace("-", "_").replace(".", "_")

    def read(self) -> Use:
        raise PortableFnError(f"{self!r}: a function sends to a {self.kind}; declare {self.kind}(...).{_verb(self)}().")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Channel) and (self.kind, self.name) == (other.kind, other.name)

    def __hash__(self) -> int:
        return hash((self.kind, self.name))


def send_use(kind: str, name: str, fifo: bool = False) -> Use:
    """The Use a function declares to send to a channel (`topic(...).publish()`, `queue(...).send()`)."""
    return Use(Channel(kind, name, fifo=fifo), WRITE)


def _verb(channel: Channel) -> str:
    return "publish" if channel.kind == TOPIC else "send"


def locator_env(kind: str, name: str) -> str:
    """The environment variable deploy sets to say where a channel is (`PORTABLE_FN_TOPIC_ORDER_EVENTS`)."""
    cleaned = "".join(c if c.isalnum() else "_" for c in name.upper())
    return f"PORTABLE_FN_{kind.upper()}_{cleaned}"


def encode(event: CloudEvent[Any]) -> bytes:
    """The message body for `event`: the CloudEvents JSON format (what every shim recognises as a carried
    event and hands over unchanged)."""
    return event.to_json().encode("utf-8")


class Publisher(Protocol):
    """Sends CloudEvents to the channels of one cloud.

    `max_delay_s` is the longest `delay_s` it honours in one send (a workflow asks for longer waits in hops
    of at most this); topics take no delay."""

    max_delay_s: float

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        """Send `events` to `channel` (all of them, or raise PublishError naming the channel), after
        `delay_s` seconds when the channel is a queue."""


_publisher: Publisher | None = None


def use_publisher(publisher: Publisher | None) -> Publisher | None:
    """Send through `publisher` from now on (the local host, tests; None restores the default); the
    publisher used until now."""
    global _publisher
    previous, _publisher = _publisher, publisher
    return previous


def publisher() -> Publisher:
    """The publisher of this process: the one installed with `use_publisher`, else the provider's
    (`portable_fn_<provider>.publish.open_publisher()`), opened on first use."""
    global _publisher
    if _publisher is None:
        provider = os.environ.get("PORTABLE_FN_PROVIDER", "local")
        if provider == "local":
            raise PublishError(
                "No local host is running to deliver to: run the app with `portable-fn dev`, or in tests "
                "capture what a function sends with portable_fn.testing."
            )
        import importlib

        try:
            module = importlib.import_module(f"portable_fn_{provider}.publish")
        except ImportError as exc:
            raise PublishError(f"the {provider} publisher cannot be loaded ({exc}).") from exc
        _publisher = module.open_publisher()
    return _publisher


def locator(channel: Channel) -> str:
    """Where `channel` is on this cloud (the value deploy set), or PublishError naming the fix."""
    found = os.environ.get(locator_env(channel.kind, channel.name))
    if not found:
        raise PublishError(
            f"{channel!r} is not provisioned for this function: {locator_env(channel.kind, channel.name)} is unset. "
            f"Declare uses=[{channel.name_in_code}.{_verb(channel)}()] on the function and deploy again."
        )
    return found

"""Functions that emit, for the emit tests. Each records what `emit` returned in `EMITTED` (with the
trace context of the call) and its runs in `RUNS`; data with a "fail" key makes a call fail after emitting."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Context, Request, Response, emit, function, http, queue, topic
from portable_fn.runtime import idempotent

ORDER_EVENTS = topic("order-events")
WORK = queue("work")
AUDIT = topic("audit-log")

RUNS: list[Any] = []
EMITTED: list[tuple[CloudEvent[Any], Any]] = []  # (the event emit returned, ctx.trace of the call)


@function(trigger=queue("orders", batch_size=10), uses=[ORDER_EVENTS.publish(), WORK.send()])
def announce(event: CloudEvent[dict], ctx: Context) -> None:  # type: ignore[type-arg]
    """Emits two events to the topic and one to the queue; fails afterwards for data with "fail"."""
    RUNS.append(event.data)
    for sent in (
        ctx.emit(ORDER_EVENTS, data={"id": event.data["id"]}, type="shop.order.paid", subject=event.data["id"]),
        ctx.emit(ORDER_EVENTS, data={"id": event.data["id"]}, type="shop.order.counted"),
        emit(WORK, data=event.data, type="shop.work", extensions={"tenant": "t1"}),
    ):
        EMITTED.append((sent, ctx.trace))
    if "fail" in event.data:
        raise RuntimeError(event.data["fail"])


@function(trigger=queue("orders-copy"), uses=[ORDER_EVENTS])
def announce_too(event: CloudEvent[dict], ctx: Context) -> None:  # type: ignore[type-arg]
    """The same emit as `announce`'s first, from another function."""
    EMITTED.append((ctx.emit(ORDER_EVENTS, data={"id": event.data["id"]}, type="shop.order.paid"), ctx.trace))


@function(trigger=topic("order-events"), uses=[ORDER_EVENTS.publish()])
def relay(event: CloudEvent[Any], ctx: Context) -> None:
    """Emits back to the topic it is triggered by: a loop, stopped by the hop limit."""
    RUNS.append(event.extensions.get("pfnhops"))
    EMITTED.append((ctx.emit(ORDER_EVENTS, data=event.data, type="shop.relayed"), ctx.trace))


@function(trigger=queue("sneaky"), uses=[ORDER_EVENTS.publish()])
def sneaky(event: CloudEvent[Any]) -> None:
    """Emits to a topic it does not declare."""
    emit(AUDIT, data={"who": "me"}, type="shop.audit")


@function(trigger=queue("quiet"))
def quiet(event: CloudEvent[Any]) -> None:
    """Never emits."""
    RUNS.append(event.data)


@function(trigger=http("POST", "/orders"), uses=[ORDER_EVENTS.publish()])
def place(request: Request, ctx: Context) -> Response:
    """Emits one event; answers the status the body asks for (default 201)."""
    body = request.json()
    EMITTED.append((ctx.emit(ORDER_EVENTS, data=body, type="shop.order.placed"), ctx.trace))
    return Response.json({"ok": True}, status=int(body.get("status", 201)))


@function(trigger=queue("payments"), uses=[ORDER_EVENTS.publish()], idempotent=idempotent())
def pay(event: CloudEvent[dict]) -> dict:  # type: ignore[type-arg]
    """Idempotent: a duplicate is replayed without running (so without emitting)."""
    RUNS.append(event.data)
    EMITTED.append((emit(ORDER_EVENTS, data=event.data, type="shop.payment.taken"), None))
    return {"paid": event.data["id"]}

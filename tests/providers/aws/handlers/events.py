"""Event-triggered functions for the AWS adapter tests."""

from __future__ import annotations

from typing import Any

from portable_fn import (
    CloudEvent,
    Context,
    DeadLetter,
    Retry,
    ScheduleTick,
    StorageObject,
    function,
    queue,
    schedule,
    storage,
    topic,
)


@function(trigger=queue("orders", batch_size=10))
def ack(event: CloudEvent, ctx: Context) -> dict[str, Any]:
    """Acknowledges everything; returns what it saw of the event and the context."""
    meta = ctx.message
    return {
        "event": event.to_dict(),
        "attempt": ctx.attempt,
        "invocation_id": ctx.invocation_id,
        "function_name": ctx.function_name,
        "provider": ctx.provider,
        "remaining_ms": ctx.remaining_ms(),
        "message_id": meta.message_id if meta else None,
        "attributes": dict(meta.attributes) if meta else None,
    }


@function(trigger=queue("orders", batch_size=10))
def picky(event: CloudEvent) -> None:
    """Fails the records whose data says so: {"do": "retry"}, {"do": "dead"} or {"do": "crash"}."""
    data = event.data if isinstance(event.data, dict) else {}
    action = data.get("do")
    if action == "retry":
        raise Retry("asked to retry")
    if action == "dead":
        raise DeadLetter("asked to dead-letter")
    if action == "crash":
        raise RuntimeError("boom")


@function(trigger=queue("orders.fifo", batch_size=10, fifo=True))
def ordered(event: CloudEvent) -> None:
    """FIFO variant of `picky`."""
    picky(event)


@function(trigger=topic("order-events"))
def on_topic(event: CloudEvent) -> None:
    """Fails when the SNS message says "fail"."""
    if event.data == "fail":  # the SNS Message, read as the sender's data
        raise RuntimeError("topic handler failed")


@function(trigger=storage("uploads"))
def on_upload(event: CloudEvent[StorageObject]) -> dict[str, Any]:
    return event.data.to_dict()


@function(trigger=schedule("rate(5 minutes)"))
def on_tick(event: CloudEvent[ScheduleTick]) -> dict[str, Any]:
    return event.data.to_dict()


@function(trigger=queue("orders", batch_size=10))
def native(event: CloudEvent, ctx: Context) -> dict[str, Any]:
    """Reads the native record and Lambda context through `ctx.raw`."""
    return {
        "message_id": ctx.raw.record["messageId"],
        "records": len(ctx.raw.event["Records"]),
        "request_id": ctx.raw.aws_request_id,
        "type": type(ctx.raw).__name__,
    }


@function(trigger=queue("orders", batch_size=10))
def native_event(event: CloudEvent) -> CloudEvent:
    """Returns the event itself, its data as the handler got it (bytes stay bytes)."""
    return event


# `ack` for each other trigger kind: the shim gives a function only the events its kind is wired to.
@function(trigger=topic("order-events"))
def ack_topic(event: CloudEvent, ctx: Context) -> dict[str, Any]:
    return ack(event, ctx)


@function(trigger=storage("uploads"))
def ack_storage(event: CloudEvent, ctx: Context) -> dict[str, Any]:
    return ack(event, ctx)


@function(trigger=schedule("rate(5 minutes)"))
def ack_schedule(event: CloudEvent, ctx: Context) -> dict[str, Any]:
    return ack(event, ctx)

"""Event-triggered functions. Each returns what it received, so a test reads it from `Result.value`."""

from __future__ import annotations

import asyncio
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

from .models import Order, Shipment


@function(trigger=queue("orders", batch_size=10), memory_mb=256, timeout_s=30)
def take_order(event: CloudEvent[Order]) -> Order:
    return event.data


@function(trigger=queue("orders-async"))
async def take_order_async(event: CloudEvent[Order], ctx: Context) -> tuple[Order, Context]:
    await asyncio.sleep(0)
    return event.data, ctx


@function(trigger=queue("shipments"))
def ship(event: CloudEvent[Shipment]) -> Shipment:
    return event.data


@function(trigger=topic("anything"))
def untyped(event: CloudEvent) -> Any:
    return event.data


@function(trigger=topic("unannotated"))
def unannotated(event, ctx):  # type: ignore[no-untyped-def]
    return event, ctx


@function(trigger=topic("as-dict"))
def as_dict(event: CloudEvent[dict]) -> dict:
    return event.data


@function(trigger=topic("as-str"))
def as_str(event: CloudEvent[str]) -> str:
    return event.data


@function(trigger=topic("as-bytes"))
def as_bytes(event: CloudEvent[bytes]) -> bytes:
    return event.data


@function(trigger=schedule("rate(5 minutes)"))
def no_parameters() -> str:
    return "ran"


@function(trigger=storage("uploads", on="created", prefix="in/"))
def on_upload(event: CloudEvent[StorageObject]) -> StorageObject:
    return event.data


@function(trigger=schedule("cron(0 3 * * *)"))
def sweep(event: CloudEvent[ScheduleTick], context: Context) -> tuple[ScheduleTick, Context]:
    return event.data, context


@function(trigger=queue("decisions", batch_size=10))
def decide(event: CloudEvent[dict]) -> str:
    """`data.action` picks the outcome: ok, retry, dead, crash."""
    action = event.data.get("action")
    if action == "retry":
        raise Retry("stock not there yet", delay_s=30)
    if action == "dead":
        raise DeadLetter("order was cancelled")
    if action == "crash":
        raise KeyError("sku")
    return f"done {event.id}"


@function(trigger=topic("optional-context"))
def optional_context(event: CloudEvent, ctx: Context | None = None) -> str | None:
    return ctx.function_name if ctx is not None else None

"""The shop: an order API, fulfilment from a queue, a nightly sweep, uploads and notifications.

The same file runs locally (`portable-fn dev samples/shop`) and on every cloud.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from portable_fn import (
    CloudEvent,
    Context,
    DeadLetter,
    Request,
    Response,
    ScheduleTick,
    StorageObject,
    cron,
    function,
    http,
    queue,
    schedule,
    storage,
    topic,
)

from .models import Order, OrderAccepted

# Where this sample keeps its records; a real app would use a database.
DATA_DIR = Path(os.environ.get("SHOP_DATA_DIR", Path(tempfile.gettempdir()) / "portable-fn-shop"))
BANNED_SKUS = {"recalled-widget"}


def _record(kind: str, payload: dict) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with (DATA_DIR / f"{kind}.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(payload) + "\n")


@function(trigger=http("POST", "/orders", public=True, request=Order, response={201: OrderAccepted}))
def create_order(request: Request) -> Response:
    """Accept an order: validate it and answer 201 with its id."""
    order = Order.model_validate_json(request.body)
    _record("orders", order.model_dump())
    return Response.json(OrderAccepted(id=order.id, lines=len(order.lines)), status=201)


@function(trigger=http("GET", "/orders/{order_id}", public=True, response=Order))
def get_order(request: Request) -> Response:
    """Look an accepted order up by id."""
    wanted = request.path_params["order_id"]
    path = DATA_DIR / "orders.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        order = json.loads(line)
        if order["id"] == wanted:
            return Response.json(order)
    return Response.json({"error": f"order {wanted} not found"}, status=404)


@function(trigger=queue("orders", batch_size=10), memory_mb=256, timeout_s=30, retries=2)
def fulfil(event: CloudEvent[Order], ctx: Context) -> None:
    """Fulfil one order from the queue; a recalled SKU is never retried."""
    order = event.data
    if any(line.sku in BANNED_SKUS for line in order.lines):
        raise DeadLetter(f"order {order.id} contains a recalled SKU")
    _record("fulfilled", {"id": order.id, "event_id": event.id, "attempt": ctx.attempt})


@function(trigger=schedule("rate(5 minutes)"))
def sweep(event: CloudEvent[ScheduleTick]) -> None:
    """Every five minutes: note that the sweep ran (a real shop would expire stale carts)."""
    _record("sweeps", {"at": event.data.scheduled_time})


@function(trigger=cron("0 3 * * *"), name="nightly_report")
def nightly_report(event: CloudEvent[ScheduleTick]) -> None:
    """03:00 UTC daily: count the day's orders."""
    path = DATA_DIR / "orders.jsonl"
    count = len(path.read_text().splitlines()) if path.exists() else 0
    _record("reports", {"at": event.data.scheduled_time, "orders": count})


@function(trigger=storage("uploads", on="created", prefix="in/"))
def on_upload(event: CloudEvent[StorageObject]) -> None:
    """A file landed under uploads/in/: record what arrived."""
    obj = event.data
    _record("uploads", {"bucket": obj.bucket, "key": obj.key, "size": obj.size})


@function(trigger=topic("order-events"))
def notify(event: CloudEvent, ctx: Context) -> None:
    """Fan-out notification for any order event."""
    _record("notifications", {"type": event.type, "id": event.id, "source": event.source})

"""The shop: an order API, orders placed through a durable workflow, fulfilment from a queue, a nightly
sweep, uploads and notifications.

An order (POST /orders) starts the `place_order` workflow, whose instance id is the order's id: reserve the
stock, charge the card, wait for the payment provider's confirmation (POST /payments/{order_id}/confirm, as
its webhook would), ship, notify. A card the provider declines (this sample declines customer "declined"),
too little stock, or a confirmation that does not come within SHOP_CONFIRM_TIMEOUT_S seconds (an hour by
default) fails the order: what was done is undone in reverse (the charge refunded, the stock released).

The same file runs locally (`portable-fn dev samples/shop`) and on every cloud.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from portable_fn import (
    CloudEvent,
    Context,
    DeadLetter,
    KeyExistsError,
    Request,
    Response,
    ScheduleTick,
    StorageObject,
    VersionConflictError,
    Workflow,
    cron,
    emit,
    function,
    http,
    queue,
    schedule,
    send_event,
    start_workflow,
    state,
    step_key,
    storage,
    topic,
    workflow,
)

from .models import Order, OrderAccepted, Payment, PaymentConfirmed, Receipt

# Where this sample keeps its records; a real app would use a database.
DATA_DIR = Path(os.environ.get("SHOP_DATA_DIR", Path(tempfile.gettempdir()) / "portable-fn-shop"))
BANNED_SKUS = {"recalled-widget"}

stock = state("stock")  # one record, "inventory": what is on the shelf, and what each open order holds
payments = state("payments", model=Payment)  # stands in for the payment provider: its charges, per order
order_events = topic("order-events")
STOCK_SEED = {"book": 20, "gadget": 25, "widget": 100}  # the shelf the first order finds
DECLINED_CUSTOMER = "declined"  # the provider declines this customer's card (a test card, as real ones have)
PAYMENT_CONFIRMED = "shop.payment.confirmed"
CONFIRM_TIMEOUT = timedelta(seconds=float(os.environ.get("SHOP_CONFIRM_TIMEOUT_S", "3600")))


def _record(kind: str, payload: dict) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with (DATA_DIR / f"{kind}.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(payload) + "\n")


# -- placing an order: a durable workflow and its steps --------------------------------------------------
# Each step runs at least once (a crash or a retry runs it again), so each one is safe to repeat.


def _change_inventory(change: Callable[[dict[str, Any]], None]) -> None:
    """Apply `change` to the inventory in one compare-and-set write (seeded on first use; retried on a race),
    so an order's hold and the stock it takes change together or not at all."""
    while True:
        item = stock.item("inventory")
        if item is None:
            try:
                stock.create("inventory", {"available": dict(STOCK_SEED), "held": {}})
            except KeyExistsError:
                pass  # another order seeded it first
            continue
        change(item.value)
        try:
            stock.update("inventory", item.value, item.version)
            return
        except VersionConflictError:
            continue  # another order changed it since we read it: read it again


def reserve_stock(order: Order) -> dict[str, int]:
    """Hold the order's items (a rerun finds its hold and takes nothing more); too little stock fails the
    order at once, without retries."""
    wanted: dict[str, int] = {}
    for line in order.lines:
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity

    def hold(inventory: dict[str, Any]) -> None:
        if order.id in inventory["held"]:
            return
        short = sorted(sku for sku, n in wanted.items() if inventory["available"].get(sku, 0) < n)
        if short:
            raise DeadLetter(f"order {order.id}: not enough stock of {', '.join(short)}")
        for sku, n in wanted.items():
            inventory["available"][sku] -= n
        inventory["held"][order.id] = wanted

    _change_inventory(hold)
    return wanted


def release_stock(order: Order) -> None:
    """Compensation of reserve_stock: put the order's held items back on the shelf."""

    def release(inventory: dict[str, Any]) -> None:
        for sku, n in inventory["held"].pop(order.id, {}).items():
            inventory["available"][sku] = inventory["available"].get(sku, 0) + n

    _change_inventory(release)


def charge_card(order: Order) -> Payment:
    """Charge the customer's card once: `step_key()` is the idempotency key the provider dedupes on (a real
    one takes it as the Idempotency-Key header), the same on every run of this step."""
    key = step_key()
    if order.customer == DECLINED_CUSTOMER:
        raise DeadLetter(f"the card of customer {order.customer!r} was declined for order {order.id}")
    payment = Payment(id="pay-" + hashlib.sha256(key.encode()).hexdigest()[:16], order_id=order.id, idempotency_key=key)
    try:
        payments.create(order.id, payment)
    except KeyExistsError:
        return payments.get(order.id)  # type: ignore[no-any-return]  # charged by an earlier run of this step
    return payment


def refund_card(order: Order) -> None:
    """Compensation of charge_card: refund the order's charge."""
    item = payments.item(order.id)
    if item is not None and item.value.status == "charged":
        payments.update(order.id, item.value.model_copy(update={"status": "refunded"}), item.version)


def ship(order: Order) -> str:
    """Hand the held items to the carrier; the tracking number."""

    def take(inventory: dict[str, Any]) -> None:
        inventory["held"].pop(order.id, None)  # they leave the shelf for good

    _change_inventory(take)
    return f"TRK-{order.id}"


def notify_customer(order: Order, tracking: str) -> str:
    """Tell the customer: a `shop.order.shipped` event on order-events, published as this step runs (its id
    the same on every run of the step), which `notify` below records."""
    event = emit(
        order_events, {"order_id": order.id, "tracking": tracking}, type="shop.order.shipped", subject=order.id
    )
    return event.id


@workflow(uses=[stock.write(), payments.write(), order_events.publish()])
def place_order(wf: Workflow, order: Order) -> Receipt:
    """Reserve, charge, wait for the payment confirmation, ship, notify; a failure undoes what was done."""
    wf.step(reserve_stock, order, compensate=release_stock)
    payment = wf.step(charge_card, order, compensate=refund_card)
    wf.wait_for_event(PAYMENT_CONFIRMED, match=order.id, timeout=CONFIRM_TIMEOUT)
    tracking = wf.step(ship, order)
    wf.step(notify_customer, order, tracking)
    return Receipt(order_id=order.id, payment_id=payment.id, tracking=tracking)


# -- the API ------------------------------------------------------------------------------------------


@function(
    trigger=http("POST", "/orders", public=True, request=Order, response={201: OrderAccepted}), uses=[place_order]
)
def create_order(request: Request) -> Response:
    """Accept an order: validate it, start placing it (workflow instance id = order id), answer 201."""
    order = Order.model_validate_json(request.body)
    _record("orders", order.model_dump())
    start_workflow(place_order, order, id=order.id)  # the same id again starts nothing new
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


@function(
    trigger=http("POST", "/payments/{order_id}/confirm", public=True, response={202: PaymentConfirmed}),
    uses=[place_order],
)
def confirm_payment(request: Request) -> Response:
    """The payment provider's webhook: the order's payment settled, so its workflow carries on."""
    order_id = request.path_params["order_id"]
    if len(order_id) > 200:  # no order has such an id (`Order.id`), and none can be waited on by one
        return Response.json({"error": f"No order id is longer than 200 characters; got {len(order_id)}."}, 404)
    woken = send_event(PAYMENT_CONFIRMED, match=order_id, data={"order_id": order_id})
    return Response.json(PaymentConfirmed(order_id=order_id, woken=woken), status=202)


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

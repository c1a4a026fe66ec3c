"""A user's functions that emit, as `portable_fn.testing.emitted` sees them."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Context, function, queue, topic
from portable_fn.runtime.channels import Channel, publisher

ORDER_EVENTS = topic("order-events")
REMINDERS = queue("reminders")


@function(trigger=queue("orders"), uses=[ORDER_EVENTS.publish()])
def fulfil(event: CloudEvent[dict], ctx: Context) -> None:  # type: ignore[type-arg]
    """Announces the order; an order marked "broken" fails after announcing."""
    ctx.emit(ORDER_EVENTS, data={"id": event.data["id"]}, type="shop.order.paid")
    if event.data.get("broken"):
        raise RuntimeError("broken order")


@function(trigger=queue("signups"), uses=[REMINDERS.send()])
def remind(event: CloudEvent[Any]) -> None:
    """Sends a reminder a day later straight through the publisher, as a workflow's sleep does."""
    reminder = CloudEvent(id=f"remind-{event.id}", source="/emitter", type="shop.reminder", data=event.data)
    publisher().publish(Channel("queue", "reminders"), [reminder], delay_s=86400.0)

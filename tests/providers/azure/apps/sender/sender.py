"""An app that sends: `place` sends to the queue `orders` and publishes to the topic `order-events`, `audit`
only publishes (to `audit-events`, which no function of this app receives from); `take` receives from the
queue, `notify` from the topic, each keeping the event it got in SEEN."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Request, Response, function, http, queue, topic

orders = queue("orders")
order_events = topic("order-events")
audit_events = topic("audit-events")
SEEN: list[CloudEvent[Any]] = []


@function(trigger=http("POST", "/orders"), uses=[orders.send(), order_events.publish()])
def place(request: Request) -> Response:
    return Response.json({"placed": True})


@function(trigger=http("POST", "/audit"), uses=[audit_events])
def audit(request: Request) -> Response:
    return Response.json({"audited": True})


@function(trigger=orders)
def take(event: CloudEvent[Any]) -> None:
    SEEN.append(event)


@function(trigger=order_events)
def notify(event: CloudEvent[Any]) -> None:
    SEEN.append(event)

"""A test app for sending on GCP: `fulfil` publishes to a topic and sends to a queue, `audit` declares the topic
bare, `notify` receives from the topic (no function of the app receives from the queue), `quiet` sends nothing."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue, topic

order_events = topic("order-events")
shipments = queue("shipments")


@function(trigger=queue("orders"), uses=[order_events.publish(), shipments.send()])
def fulfil(event: CloudEvent) -> None:
    """Sends to both."""


@function(trigger=http("POST", "/audit"), uses=[order_events])
def audit(request: Request) -> Response:
    """Declares the topic bare: publishing to it."""
    return Response.json({"ok": True})


@function(trigger=order_events)
def notify(event: CloudEvent) -> None:
    """Receives what fulfil publishes; sends nothing."""


@function(trigger=http("GET", "/quiet"))
def quiet(request: Request) -> Response:
    """Sends nothing."""
    return Response.json({})

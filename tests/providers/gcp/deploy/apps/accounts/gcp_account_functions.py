"""A test app holding every kind of grant deploy makes on GCP, so a test can switch the functions' runtime
accounts and look for grants left behind: `place` writes a state, reads a secret and publishes to a topic (HTTP,
public); `fulfil` reads the state, sends to a queue (the delay queue and the account's use of itself) and
dead-letters (an event function: the trigger invoker); `on_upload` has a storage trigger (the event receiver role
on the project, the storage agent's)."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue, secret, storage, topic
from portable_fn.runtime.state import state

orders = state("orders")
api_key = secret("api-key")
order_events = topic("order-events")
shipments = queue("shipments")


@function(trigger=http("POST", "/orders", public=True), uses=[orders.write(), api_key, order_events.publish()])
def place(request: Request) -> Response:
    return Response.json({"ok": True}, status=201)


@function(trigger=queue("orders"), uses=[orders.read(), shipments.send()])
def fulfil(event: CloudEvent) -> None:
    """Reads the order, ships it later."""


@function(trigger=storage("uploads"))
def on_upload(event: CloudEvent) -> None:
    """Uses nothing but its trigger."""

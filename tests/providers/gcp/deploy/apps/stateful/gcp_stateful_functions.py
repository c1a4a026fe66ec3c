"""A test app for state and retry policies on GCP: `orders` is written by one function and read by another,
`audit` is read only, an idempotent function uses portable-fn's own store, another uses no state; the queue
consumer declares a retry policy whose backoff passes what Pub/Sub allows, and the storage consumer retries
with the defaults."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue, storage, topic
from portable_fn.runtime.retry import RetryPolicy, exponential
from portable_fn.runtime.state import state

orders = state("orders", ttl=3600)
audit = state("audit")


@function(trigger=http("POST", "/orders/{order_id}"), uses=[orders.write()])
def create_order(request: Request) -> Response:
    orders.put(request.path_params["order_id"], {"status": "new"})
    return Response.json({"ok": True}, status=201)


@function(
    trigger=queue("orders"),
    uses=[orders.read(), audit.read()],
    retry=RetryPolicy(attempts=8, backoff=exponential(2, max=900)),
)
def fulfil(event: CloudEvent) -> None:
    orders.get(str(event.data))


@function(trigger=topic("payments"), idempotent=True)
def charge(event: CloudEvent) -> None:
    """Idempotent: portable-fn's own store (pfn-idempotency) is provisioned and granted for it."""


@function(trigger=storage("uploads"))
def on_upload(event: CloudEvent) -> None:
    """Retries with the default policy."""


@function(trigger=topic("news"))
def notify(event: CloudEvent) -> None:
    """Uses no state."""

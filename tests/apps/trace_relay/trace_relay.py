"""An order relayed across clouds: checkout (HTTP, in dev) -> reserve (SQS, AWS) -> pack (Pub/Sub, GCP) ->
ship (Storage Queue, Azure).

Each handler keeps what it saw in SEEN and "sends" the next hop by putting it in OUTBOX: the event, and the
trace carrier that transport takes, written from `ctx.trace` the way the cloud's SDK would write it (SQS's
AWSTraceHeader in X-Ray form, Pub/Sub's googclient_traceparent attribute). A Storage Queue message carries
no attributes, so `pack` sends a new event whose CloudEvents `traceparent` says it started in `pack`;
`checkout` does the same for the order, which is then relayed unchanged, its `traceparent` naming checkout.
"""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue, topic

SEEN: list[tuple[str, Any, Any]] = []  # (function, ctx.trace, the event or request)
OUTBOX: list[tuple[str, CloudEvent[Any], dict[str, str]]] = []  # (queue or topic, event, transport carrier)


@function(trigger=http("POST", "/checkout"))
def checkout(request: Request, ctx: Context) -> Response:
    """Places an order: one SQS message per line, sent in one batch."""
    SEEN.append(("checkout", ctx.trace, request))
    order = request.json()
    for number, line in enumerate(order["lines"]):
        event = CloudEvent(
            id=f"{order['id']}-{number}",
            source="/shop/checkout",
            type="com.example.order.line",
            data={"order": order["id"], "line": line},
            extensions={"traceparent": ctx.trace.traceparent},
        )  # where it started
        OUTBOX.append(("lines", event, {"AWSTraceHeader": ctx.trace.xray_header}))
    return Response.json({"id": order["id"]}, status=202)


@function(trigger=queue("lines", batch_size=10))
def reserve(event: CloudEvent, ctx: Context) -> None:
    """Reserves stock for a line and publishes it, unchanged, for packing."""
    SEEN.append(("reserve", ctx.trace, event))
    OUTBOX.append(("packing", event, {"googclient_traceparent": ctx.trace.traceparent}))


@function(trigger=topic("packing"))
def pack(event: CloudEvent, ctx: Context) -> None:
    """Packs a line; a parcel is a new event, queued for shipping."""
    SEEN.append(("pack", ctx.trace, event))
    parcel = CloudEvent(
        id=f"parcel-{event.id}",
        source="/shop/packing",
        type="com.example.parcel.packed",
        data={"line": event.id},
        extensions={"traceparent": ctx.trace.traceparent},
    )
    OUTBOX.append(("shipping", parcel, {}))


@function(trigger=queue("shipping"))
def ship(event: CloudEvent, ctx: Context) -> None:
    SEEN.append(("ship", ctx.trace, event))

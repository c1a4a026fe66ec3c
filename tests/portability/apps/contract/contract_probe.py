"""The probe app of the portability contract: one function per trigger kind, each recording what its
handler received (the CloudEvent or Request, the neutral view, the Context) in SEEN as plain JSON.

The same module serves every cloud in the contract suite, so what one cloud's delivery put in SEEN can be
compared with another's field by field. Message data can ask for an outcome: {"do": "retry"} raises
Retry, {"do": "dead"} raises DeadLetter.
"""

from __future__ import annotations

import base64
from typing import Any

from portable_fn import (
    CloudEvent,
    Context,
    DeadLetter,
    Request,
    Response,
    Retry,
    ScheduleTick,
    StorageObject,
    function,
    http,
    queue,
    schedule,
    storage,
    topic,
)

SEEN: list[dict[str, Any]] = []
ATTRIBUTES = ("id", "source", "type", "specversion", "datacontenttype", "dataschema", "subject", "time")


@function(trigger=queue("orders", batch_size=10), retries=2)
def orders_worker(event: CloudEvent, ctx: Context) -> None:
    _record(event, ctx)
    _act(event)


@function(trigger=topic("news"), retries=2)
def news_reader(event: CloudEvent, ctx: Context) -> None:
    _record(event, ctx)
    _act(event)


@function(trigger=storage("uploads", on="created"))
def on_upload(event: CloudEvent[StorageObject], ctx: Context) -> None:
    _record(event, ctx)


@function(trigger=storage("uploads", on="deleted"))
def on_delete(event: CloudEvent[StorageObject], ctx: Context) -> None:
    _record(event, ctx)


@function(trigger=schedule("rate(5 minutes)"))
def ticker(event: CloudEvent[ScheduleTick], ctx: Context) -> None:
    _record(event, ctx)


@function(trigger=http("ANY", "/orders/{order_id}"))
def order_api(request: Request) -> Response:
    SEEN.append({"function": "order_api", "request": request_view(request)})
    return Response.json(
        {"order": request.path_params["order_id"]}, status=201, headers=[("set-cookie", "a=1"), ("set-cookie", "b=2")]
    )


@function(trigger=http("GET", "/status"))
def status(request: Request) -> Response:
    SEEN.append({"function": "status", "request": request_view(request)})
    return Response.json({"ok": True})


def _act(event: CloudEvent) -> None:
    asked = event.data.get("do") if isinstance(event.data, dict) else None
    if asked == "retry":
        raise Retry("asked to retry")
    if asked == "dead":
        raise DeadLetter("asked to dead-letter")


def _record(event: CloudEvent, ctx: Context) -> None:
    SEEN.append({"function": ctx.function_name, "event": event_view(event), "context": context_view(ctx)})


def event_view(event: CloudEvent) -> dict[str, Any]:
    """Every attribute, every extension, and the data with its Python type."""
    attributes = {name: getattr(event, name) for name in ATTRIBUTES}
    return {**attributes, "extensions": dict(event.extensions), "data": data_view(event.data)}


def data_view(data: Any) -> dict[str, Any]:
    if isinstance(data, (StorageObject, ScheduleTick)):
        return {"type": type(data).__name__, "value": data.to_dict()}
    if isinstance(data, bytes):
        return {"type": "bytes", "value": base64.b64encode(data).decode("ascii")}
    return {"type": type(data).__name__, "value": data}


def context_view(ctx: Context) -> dict[str, Any]:
    meta = ctx.message
    message = (
        None
        if meta is None
        else {
            "message_id": meta.message_id,
            "delivery_count": meta.delivery_count,
            "attributes": dict(meta.attributes),
            "published_time": meta.published_time,
            "subscription": meta.subscription,
        }
    )
    return {
        "function_name": ctx.function_name,
        "provider": ctx.provider,
        "attempt": ctx.attempt,
        "delivery_count": ctx.delivery_count,
        "invocation_id": ctx.invocation_id,
        "has_deadline": ctx.deadline is not None,
        "message": message,
    }


def request_view(request: Request) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "path_params": dict(request.path_params),
        "query": [list(pair) for pair in request.query.multi_items()],
        "headers": [[name.lower(), value] for name, value in request.headers.multi_items()],
        "cookies": dict(request.cookies),
        "body": base64.b64encode(request.body).decode("ascii"),
    }

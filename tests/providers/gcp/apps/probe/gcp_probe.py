"""Handlers that write what they received to `$GCP_PROBE_OUT` (a JSON file), for the shim's tests.

A CloudEvent function answers nothing but its status under functions-framework, so the tests read the
file after each request.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
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
    schedule,
    storage,
    topic,
)


def _report(**seen: Any) -> None:
    Path(os.environ["GCP_PROBE_OUT"]).write_text(json.dumps(seen, default=repr), encoding="utf-8")


def _native(raw: Any) -> dict[str, Any] | None:
    """What the shim was passed: for a legacy event, the framework's conversion of it (a `cloudevents` SDK
    event) in the JSON format; for a request (the http signature), its method and `ce-id` header."""
    if not hasattr(raw, "get_attributes"):
        return {"request": raw.method, "ce-id": raw.headers.get("ce-id")} if hasattr(raw, "get_data") else None
    attributes = {k: v for k, v in raw.get_attributes().items() if v is not None}
    return {**attributes, "data": raw.data} if raw.data is not None else attributes


@function(trigger=topic("gcf-test"))
def record(event: CloudEvent, ctx: Context) -> None:
    """Records the event, the framework's native event and the message metadata; then acts on the data:
    {"do": "retry"} retries, {"do": "dead"} dead-letters, {"do": "crash"} raises."""
    meta = ctx.message
    _report(
        event=event.to_dict(),
        native=_native(ctx.raw),
        attempt=ctx.attempt,
        provider=ctx.provider,
        function=ctx.function_name,
        invocation_id=ctx.invocation_id,
        message=None
        if meta is None
        else {
            "id": meta.message_id,
            "attributes": meta.attributes,
            "published": meta.published_time,
            "delivery_count": meta.delivery_count,
            "subscription": meta.subscription,
        },
    )
    action = event.data.get("do") if isinstance(event.data, dict) else None
    if action == "retry":
        raise Retry("asked to retry")
    if action == "dead":
        raise DeadLetter("asked to dead-letter")
    if action == "crash":
        raise RuntimeError("boom")


@function(trigger=topic("audit"), dead_letter=False)
def unlettered(event: CloudEvent) -> None:
    """Dead-letters everything, with dead letters off: acknowledged with a log line."""
    raise DeadLetter("no use for it")


@function(trigger=storage("some-bucket"))
def uploaded(event: CloudEvent[StorageObject]) -> None:
    """Records the neutral view of a Cloud Storage event; dead-letters an object under `dead/`."""
    _report(object=event.data.to_dict(), type=event.type)
    if event.data.key.startswith("dead/"):
        raise DeadLetter("asked to dead-letter")


@function(trigger=schedule("rate(5 minutes)"))
def tick(event: CloudEvent[ScheduleTick], ctx: Context) -> None:
    """Records the neutral view of a Cloud Scheduler tick."""
    _report(
        tick=event.data.to_dict(),
        id=event.id,
        source=event.source,
        time=event.time,
        attempt=ctx.attempt,
        message=ctx.message,
    )


@function(trigger=topic("orders"))
def typed(event: CloudEvent[dict]) -> None:
    """Accepts JSON objects only: other data fails the annotation (invalid input)."""


@function(trigger=topic("quiet"))
def quiet(event: CloudEvent, ctx: Context) -> None:
    """Reads what a handler reads (the event, the message metadata) and acknowledges."""
    event.to_dict()
    if ctx.message is not None:
        dict(ctx.message.attributes)


@function(trigger=storage("some-bucket", prefix="folder/"))
def stored(event: CloudEvent[StorageObject]) -> None:
    """Reads the Cloud Storage view and acknowledges."""
    event.data.to_dict()


@function(trigger=http("ANY", "/items/{item_id}"))
def echo(request: Request) -> Response:
    """Answers with what it received, a repeated Set-Cookie header and status 201."""
    body = {
        "method": request.method,
        "path": request.path,
        "path_params": request.path_params,
        "query": request.query.multi_items(),
        "cookies": request.cookies,
        "x_multi": request.headers.getall("x-multi"),
        "body": request.text,
    }
    return Response.json(body, 201, [("set-cookie", "a=1"), ("set-cookie", "b=2"), ("x-probe", "yes")])


@function(trigger=http("GET", "/boom"), name="crashing-http")
def crashing(request: Request) -> Response:
    """Crashes, for the 500 path."""
    raise RuntimeError("boom")

"""A test app with every trigger kind, for the Azure shim: each handler records what it got in SEEN."""

from __future__ import annotations

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
    cron,
    function,
    http,
    queue,
    schedule,
    storage,
    topic,
)

SEEN: list[tuple[str, Any]] = []


@function(trigger=http("GET", "/items/{item_id}", public=True))
def get_item(request: Request) -> Response:
    SEEN.append(("get_item", request))
    return Response.json(
        {"id": request.path_params["item_id"], "tags": request.query.getall("tag")},
        headers=[("set-cookie", "a=1"), ("set-cookie", "b=2")],
    )


@function(trigger=http("POST", "/items"))
def add_item(request: Request) -> Response:
    body = request.json()
    return Response.json({"added": body["name"]}, status=201)


@function(trigger=http("ANY", "/files/{path+}", public=True), name="files")
def serve_file(request: Request) -> str:
    return f"{request.method} {request.path_params['path']}"


@function(trigger=http("POST", "/events"))
def receive_event(event: CloudEvent[dict]) -> dict:
    return {"id": event.id, "total": event.data["total"]}


@function(trigger=queue("jobs", batch_size=4), retries=4)
def work(event: CloudEvent[dict], ctx: Context) -> None:
    SEEN.append(("work", (event, ctx.attempt)))
    if event.data.get("fail") == "retry":
        raise Retry("try again")
    if event.data.get("fail") == "dead":
        raise DeadLetter("never")


@function(trigger=queue("Slow.Jobs"), retries=1)
def slow(event: CloudEvent) -> None:
    raise RuntimeError("always fails")


@function(trigger=topic("news"))
def on_news(event: CloudEvent, ctx: Context) -> None:
    SEEN.append(("on_news", (event, ctx)))


@function(trigger=schedule("rate(15 minutes)"), retries=0)
def every_quarter(event: CloudEvent[ScheduleTick]) -> None:
    SEEN.append(("every_quarter", event))


@function(trigger=cron("30 2 * * MON-FRI"))
def weekdays(event: CloudEvent[ScheduleTick]) -> None:
    SEEN.append(("weekdays", event))


@function(trigger=storage("photos", prefix="raw/", suffix=".jpg"))
def on_photo(event: CloudEvent[StorageObject]) -> None:
    SEEN.append(("on_photo", event))


@function(trigger=storage("photos", on="deleted", prefix="raw/"))
def on_photo_deleted(event: CloudEvent[StorageObject]) -> None:
    SEEN.append(("on_photo_deleted", event))

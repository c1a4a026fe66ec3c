"""One function per Azure event trigger, each doing what its event asks (the timer: what `TICK` asks), and
keeping a weak reference to something only its frame holds (`KEPT`)."""

from __future__ import annotations

import weakref
from typing import Any

from portable_fn import (
    CloudEvent,
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

KEPT: list[weakref.ref[Any]] = []
TICK: list[str] = []  # what the next timer firing asks


class Marker:
    """Something only the handler's frame refers to."""


def _act(ask: str | None) -> None:
    marker = Marker()
    KEPT.append(weakref.ref(marker))
    if ask == "retry":
        raise Retry("stock arrives tomorrow")
    if ask == "dead":
        raise DeadLetter("no such order")
    if ask == "crash":
        raise RuntimeError("boom")


@function(trigger=http("POST", "/take"))
def take_request(request: Request) -> Response:
    _act(request.json().get("ask"))
    return Response.json({"taken": True})


@function(trigger=queue("orders"), retries=2)
def take(event: CloudEvent[dict]) -> None:
    _act(event.data.get("ask"))


@function(trigger=topic("news"))
def on_news(event: CloudEvent[dict]) -> None:
    _act(event.data.get("ask"))


@function(trigger=storage("uploads"))
def on_upload(event: CloudEvent[StorageObject]) -> None:
    _act(event.data.key.split(".")[0])  # "crash.txt" crashes


@function(trigger=storage("uploads", on="deleted"))
def on_gone(event: CloudEvent[StorageObject]) -> None:
    _act(event.data.key.split(".")[0])


@function(trigger=schedule("rate(15 minutes)"), retries=1)
def tick(event: CloudEvent[ScheduleTick]) -> None:
    _act(TICK[0] if TICK else None)

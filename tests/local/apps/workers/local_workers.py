"""Functions the local host tests drive; each records what it received in RECEIVED[<function>]."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from typing import Any

from pydantic import BaseModel

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

RECEIVED: dict[str, list[Any]] = defaultdict(list)


class Job(BaseModel):
    n: int
    fail: bool = False
    fail_times: int = 0


def _note(name: str, event: CloudEvent[Any], ctx: Context | None = None, **extra: Any) -> None:
    RECEIVED[name].append(
        {
            "event": event,
            "at": time.monotonic(),
            "attempt": ctx.attempt if ctx else None,
            "delivery_count": ctx.delivery_count if ctx else None,
            "message_id": ctx.message.message_id if ctx and ctx.message else None,
            **extra,
        }
    )


@function(trigger=queue("jobs"))
def flaky(event: CloudEvent[Job], ctx: Context) -> None:
    """Fails always (`fail`) or for its first `fail_times` attempts."""
    _note("flaky", event, ctx)
    if event.data.fail:
        raise RuntimeError(f"job {event.data.n} always fails")
    if ctx.attempt <= event.data.fail_times:
        raise Retry("not yet")


@function(trigger=queue("poison"))
def poisoned(event: CloudEvent, ctx: Context) -> None:
    _note("poisoned", event, ctx)
    raise DeadLetter("poison pill")


@function(trigger=queue("echo", batch_size=5))
def echo(event: CloudEvent) -> None:
    _note("echo", event)


@function(trigger=queue("silent"), retries=0, dead_letter=False)
def silent(event: CloudEvent) -> None:
    _note("silent", event)
    raise RuntimeError("boom")


@function(trigger=queue("doomed"), dead_letter="graveyard")
def doomed(event: CloudEvent) -> None:
    _note("doomed", event)
    raise DeadLetter("doomed")


@function(trigger=queue("graveyard"))
def graveyard(event: CloudEvent) -> None:
    _note("graveyard", event)


@function(trigger=queue("ordered", batch_size=10, fifo=True), retries=5)
def in_order(event: CloudEvent[Job], ctx: Context) -> None:
    _note("in_order", event, ctx, ok=ctx.attempt > event.data.fail_times)
    if ctx.attempt <= event.data.fail_times:
        raise RuntimeError(f"job {event.data.n} fails on attempt {ctx.attempt}")


@function(trigger=topic("news"))
def news_a(event: CloudEvent) -> None:
    _note("news_a", event)


@function(trigger=topic("news"))
def news_b(event: CloudEvent) -> None:
    _note("news_b", event)


@function(trigger=storage("inbox", on="created", suffix=".csv"))
def inbox_created(event: CloudEvent[StorageObject]) -> None:
    _note("inbox_created", event)


@function(trigger=storage("inbox", on="deleted"))
def inbox_deleted(event: CloudEvent[StorageObject]) -> None:
    _note("inbox_deleted", event)


@function(trigger=schedule("rate(1 minute)"))
def every_minute(event: CloudEvent[ScheduleTick]) -> None:
    _note("every_minute", event)


# /slow requests of each burst: running now, and the most that ran at once (each on its own thread's loop)
IN_FLIGHT: defaultdict[str, dict[str, int]] = defaultdict(lambda: {"now": 0, "most": 0})
IN_FLIGHT_LOCK = threading.Lock()


@function(trigger=http("GET", "/slow"))
async def slow(request: Request) -> Response:
    """Waits (up to 60 s) until `?together=N` requests of its `?burst=` have been in flight at once: it
    answers 200 only if the host runs them side by side, however slow the machine."""
    wanted, burst = int(request.query.get("together", "1")), request.query.get("burst", "")
    with IN_FLIGHT_LOCK:
        seen = IN_FLIGHT[burst]
        seen["now"] += 1
        seen["most"] = max(seen["most"], seen["now"])
    try:
        for _ in range(6000):
            if seen["most"] >= wanted:
                return Response.json({"together": seen["most"]})
            await asyncio.sleep(0.01)
        return Response.json({"together": seen["most"]}, status=504)
    finally:
        with IN_FLIGHT_LOCK:
            seen["now"] -= 1


@function(trigger=http("GET", "/items/{item_id}"))
def item(request: Request) -> Response:
    return Response.json({"route": "item", "params": request.path_params})


@function(trigger=http("GET", "/items/special"))
def special_item(request: Request) -> Response:
    return Response.json({"route": "special", "params": request.path_params})


@function(trigger=http("ANY", "/files/{path+}"))
def files(request: Request) -> Response:
    return Response.json({"route": "files", "method": request.method, "params": request.path_params})


@function(trigger=http("POST", "/echo"))
def echo_request(request: Request) -> Response:
    """Says back what the handler saw, and sets two cookies."""
    seen = {
        "method": request.method,
        "path": request.path,
        "query": request.query.getall("tag"),
        "single": request.query.get("single"),
        "multi": request.headers.getall("x-multi"),
        "cookies": request.cookies,
        "body": request.text,
    }
    return Response.json(seen, status=200, headers=[("set-cookie", "a=1"), ("set-cookie", "b=2")])

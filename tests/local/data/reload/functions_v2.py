"""Version 2: answers 2, does jobs, the timer is gone and a route and a topic subscriber are new."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue, topic

RECEIVED: list[dict[str, Any]] = []


@function(trigger=http("GET", "/version", public=True))
def version(request: Request) -> Response:
    return Response.json({"version": 2})


@function(trigger=queue("jobs"), retries=100)
def work(event: CloudEvent[dict], ctx: Context) -> None:
    RECEIVED.append({"job": event.data, "attempt": ctx.attempt})


@function(trigger=http("GET", "/added", public=True))
def added(request: Request) -> Response:
    return Response.json({"added": True})


@function(trigger=topic("news"))
def listen(event: CloudEvent[Any]) -> None:
    RECEIVED.append({"news": event.data})

"""Version 1: answers 1, cannot do a job yet (asks for it again), fires a timer.

The tests copy this app and replace this file by one of tests/local/data/reload/."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Context, Request, Response, Retry, function, http, queue, schedule

RECEIVED: list[dict[str, Any]] = []


@function(trigger=http("GET", "/version", public=True))
def version(request: Request) -> Response:
    return Response.json({"version": 1})


@function(trigger=queue("jobs"), retries=100)
def work(event: CloudEvent[dict], ctx: Context) -> None:
    raise Retry("version 1 cannot do jobs yet", delay_s=0.1)


@function(trigger=schedule("rate(1 hour)"))
def tick(event: CloudEvent[Any]) -> None:
    RECEIVED.append({"tick": event.id})

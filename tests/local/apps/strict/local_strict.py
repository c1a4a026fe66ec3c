"""Functions for the bad-input, limits, environment and logging tests of the dev host."""

from __future__ import annotations

import os
from typing import Any

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue, storage, topic

ENV_NAMES = (
    "SHARED",
    "OVERRIDDEN",
    "STAGE_NAME",
    "OWN",
    "QUEUE_OWN",
    "PORTABLE_FN_APP",
    "PORTABLE_FN_STAGE",
    "PORTABLE_FN_FUNCTION",
    "PORTABLE_FN_PROVIDER",
)
RECEIVED: dict[str, list[Any]] = {}


def environment() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ENV_NAMES}


@function(trigger=http("POST", "/orders"))
def orders(request: Request) -> Response:
    return Response.json({"got": request.json()}, status=201)


@function(trigger=http("POST", "/events"))
def events(event: CloudEvent[Any]) -> Response:
    return Response.json({"source": event.source})


@function(trigger=http("GET", "/env"), env={"OWN": "env-function", "OVERRIDDEN": "from-function"})
def env_own(request: Request) -> Response:
    return Response.json(environment())


@function(trigger=http("GET", "/env-plain"))
def env_plain(request: Request) -> Response:
    return Response.json(environment())


@function(trigger=http("GET", "/log"))
def logs(request: Request, ctx: Context) -> Response:
    ctx.logger.info("hello from the logger of %s", ctx.function_name)
    return Response.json({"logged": True})


@function(trigger=queue("orders"), env={"QUEUE_OWN": "queue-function"})
def queued(event: CloudEvent[Any], ctx: Context) -> None:
    RECEIVED.setdefault("queued", []).append({"data": event.data, "env": environment()})


@function(trigger=topic("news"))
def news(event: CloudEvent[Any]) -> None:
    RECEIVED.setdefault("news", []).append(event.data)


@function(trigger=storage("uploads"))
def uploads(event: CloudEvent[Any]) -> None:
    RECEIVED.setdefault("uploads", []).append(event.subject)


@function(trigger=http("GET", "/reflect"))
def reflect(request: Request) -> Response:
    """Answers with the status `?status=` and `?next=` as its Location: a handler that copies its input into
    its answer's headers."""
    return Response(b"x", int(request.query.get("status", "200")), {"Location": request.query.get("next", "/")})

"""Functions that keep the trace context and the event they were called with, for the tracing tests."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue

SEEN: list[tuple[Any, Any]] = []  # (ctx.trace, the event or request); tests clear it first


class Fails(Exception):
    """What `consume` raises for data asking it to fail."""


@function(trigger=queue("traced", batch_size=10))
def consume(event: CloudEvent, ctx: Context) -> None:
    """Keeps ctx.trace; raises `Fails` for data with a "fail" key."""
    SEEN.append((ctx.trace, event))
    if isinstance(event.data, dict) and "fail" in event.data:
        raise Fails(event.data["fail"])


@function(trigger=http("GET", "/traced"))
def answer(request: Request, ctx: Context) -> Response:
    """Answers with the headers for an outgoing call; `?fail=<status>` answers that status."""
    SEEN.append((ctx.trace, request))
    status = int(request.query.get("fail") or 200)
    return Response.json(ctx.trace.headers(), status=status)

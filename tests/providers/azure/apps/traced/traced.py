"""Handlers that keep the trace their invocation continues (`ctx.trace`), for the trace carrier tests."""

from __future__ import annotations

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue
from portable_fn.runtime.tracing import TraceContext

TRACES: list[TraceContext] = []


@function(trigger=http("POST", "/traced", public=True))
def traced_request(request: Request, ctx: Context) -> Response:
    TRACES.append(ctx.trace)
    return Response.json({"traced": True})


@function(trigger=queue("traced"))
def traced_message(event: CloudEvent[dict], ctx: Context) -> None:
    TRACES.append(ctx.trace)

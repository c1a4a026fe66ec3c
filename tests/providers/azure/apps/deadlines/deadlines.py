"""Functions that say when the host will stop them: `ctx.deadline`, which an idempotent call's lease ends at."""

from __future__ import annotations

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue

DEADLINES: list[float | None] = []


@function(trigger=http("GET", "/deadline"))
def deadline(request: Request, ctx: Context) -> Response:
    return Response.json({"deadline": ctx.deadline})


@function(trigger=queue("work"))
def work(event: CloudEvent[dict], ctx: Context) -> None:
    DEADLINES.append(ctx.deadline)

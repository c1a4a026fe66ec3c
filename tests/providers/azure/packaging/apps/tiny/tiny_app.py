"""A small app with one (fake) dependency: an HTTP function and a queue function."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue


@function(trigger=http("GET", "/ping"))
def ping(request: Request) -> Response:
    import tinydep

    return Response.json({"pong": tinydep.VALUE})


@function(trigger=queue("jobs"))
def run_job(event: CloudEvent) -> None:
    """Takes a job from the queue."""

"""A small app with one (fake) dependency: an HTTP function and a Pub/Sub one."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, topic


@function(trigger=http("GET", "/ping"))
def ping(request: Request) -> Response:
    import tinydep

    return Response.json({"pong": tinydep.VALUE})


@function(trigger=topic("jobs"))
def run_job(event: CloudEvent) -> None:
    """Does nothing: the app exists to be packaged."""

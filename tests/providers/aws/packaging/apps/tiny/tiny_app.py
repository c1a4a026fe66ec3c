"""A small app with one (fake) dependency and a function whose name is not a Python identifier."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue


@function(trigger=http("GET", "/ping"))
def ping(request: Request) -> Response:
    import tinydep

    return Response.json({"pong": tinydep.VALUE})


@function(trigger=queue("jobs"), name="run-job")
def run_job(event: CloudEvent) -> None:
    """Declared under a name with a dash: Lambda's handler string is `portable_fn_entry.run-job`."""

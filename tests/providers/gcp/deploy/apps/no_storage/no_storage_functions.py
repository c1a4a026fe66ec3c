"""An app with no storage trigger: deploying it must never read or change the project's IAM policy."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http, queue


@function(trigger=http("GET", "/ping", public=True))
def ping(request: Request) -> Response:
    return Response.json({"pong": True})


@function(trigger=queue("jobs"))
def work(event: CloudEvent) -> None:
    """Takes a job off the queue."""

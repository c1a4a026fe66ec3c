"""Functions that show the attributes of the CloudEvent they get: through an HTTP route, and from a queue."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Response, function, http, queue

QUEUED: list[dict[str, Any]] = []


def attributes(event: CloudEvent[Any]) -> dict[str, Any]:
    return {"id": event.id, "subject": event.subject, "tenant": event.extensions.get("tenant")}


@function(trigger=http("POST", "/events"))
def echo(event: CloudEvent[Any]) -> Response:
    return Response.json(attributes(event))


@function(trigger=queue("events"))
def queued(event: CloudEvent[Any]) -> None:
    QUEUED.append(attributes(event))

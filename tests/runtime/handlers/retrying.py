"""Functions that ask to be retried after a while, as an event and as a request."""

from __future__ import annotations

from datetime import timedelta

from portable_fn import CloudEvent, Request, Response, Retry, function, http, queue


@function(trigger=queue("restock"))
def restock(event: CloudEvent[dict]) -> None:  # type: ignore[type-arg]
    raise Retry("stock arrives tomorrow", after=timedelta(minutes=2))


@function(trigger=http("POST", "/restock"))
def restock_now(request: Request) -> Response:
    raise Retry("stock arrives soon", after=float(request.json()["after"]))


@function(trigger=http("POST", "/restock-later"))
def restock_later(request: Request) -> Response:
    raise Retry("try again later")

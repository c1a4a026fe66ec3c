"""Handlers without a Context, which the shim calls directly: each does what its input asks."""

from __future__ import annotations

from portable_fn import CloudEvent, DeadLetter, Request, Response, Retry, function, http, queue, topic

SEEN: list[str] = []


def _act(ask: str | None) -> None:
    if ask == "retry":
        raise Retry("later")
    if ask == "dead":
        raise DeadLetter("never")
    if ask == "crash":
        raise RuntimeError("boom")


@function(trigger=http("POST", "/act"))
def act(request: Request) -> Response:
    _act(request.json().get("ask"))
    return Response.json({"done": True})


@function(trigger=queue("acts"), retries=2)
def act_on_message(event: CloudEvent[dict]) -> None:
    _act(event.data.get("ask"))
    SEEN.append(event.id)


@function(trigger=topic("acts"))
def act_on_event(event: CloudEvent[dict]) -> None:
    _act(event.data.get("ask"))
    SEEN.append(event.id)

"""A test app for state in `portable-fn dev`: counters kept in a declared state, a function that touches a
state it never declared, and queue consumers with declared retry policies."""

from __future__ import annotations

from portable_fn import CloudEvent, DeadLetter, Request, Response, function, http, queue
from portable_fn.runtime.retry import RetryPolicy, exponential, fixed
from portable_fn.runtime.state import state

counters = state("counters")
secrets = state("secrets")


@function(trigger=http("POST", "/count/{name}"), uses=[counters.write()])
def count(request: Request) -> Response:
    name = request.path_params["name"]
    seen = counters.get(name, 0) + 1
    counters.put(name, seen)
    return Response.json({"name": name, "count": seen})


@function(trigger=http("GET", "/count/{name}"), uses=[counters.read()])
def read_count(request: Request) -> Response:
    return Response.json({"count": counters.get(request.path_params["name"], 0)})


@function(trigger=http("GET", "/peek/{name}"))
def peek(request: Request) -> Response:
    return Response.json({"value": secrets.get(request.path_params["name"])})


@function(trigger=queue("slow"), retry=RetryPolicy(attempts=4, backoff=fixed(3600)))
def slow(event: CloudEvent) -> None:
    raise RuntimeError("always fails, retried an hour later")


@function(trigger=queue("capped"), retry=RetryPolicy(attempts=4, backoff=exponential(1000, max=1500)))
def capped(event: CloudEvent) -> None:
    raise RuntimeError("always fails, retried after the policy's delays")


@function(trigger=queue("noted"), uses=[counters.write()])
def noted(event: CloudEvent) -> None:
    counters.put(event.id, event.data)


@function(trigger=queue("gated"), uses=[counters.write()])
def gated(event: CloudEvent) -> None:
    """Dead-letters every event until the counter "open" is set (POST /count/open), then notes it."""
    if not counters.get("open"):
        raise DeadLetter("the gate is closed")
    counters.put(f"passed-{event.id}", sorted(event.extensions))


@function(trigger=queue("tallies"), uses=[counters.write()], idempotent=True)
def tally(event: CloudEvent) -> None:
    """Counts the events it is given; a duplicate (same source and id) is not counted again."""
    counters.put("tally", counters.get("tally", 0) + 1)

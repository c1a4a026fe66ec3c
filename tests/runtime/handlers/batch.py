"""Queue functions for the batch tests: each records which events it was called with, so a test can tell
a record that was never attempted from one that failed."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, Context, function, queue

CALLED: list[str] = []  # event ids, in call order; tests clear it first


class Fails(Exception):
    """What `record` raises for data asking it to fail."""


@function(trigger=queue("records", batch_size=10))
def record(event: CloudEvent) -> Any:
    """Returns the data; raises `Fails` when the data is an object with `"fail": true`."""
    CALLED.append(event.id)
    data = event.data
    if isinstance(data, dict) and data.get("fail"):
        raise Fails(f"record {event.id} failed")
    return data


@function(trigger=queue("typed-records", batch_size=10))
def typed_record(event: CloudEvent[dict]) -> CloudEvent[dict]:
    """Returns the event it was given (a test compares it with the one it sent)."""
    CALLED.append(event.id)
    return event


@function(trigger=queue("records-with-context", batch_size=10))
def record_with_context(event: CloudEvent, ctx: Context) -> str:
    """Returns the invocation id of the Context it was given."""
    CALLED.append(event.id)
    return ctx.invocation_id

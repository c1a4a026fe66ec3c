"""A handler with a required keyword-only parameter nobody can supply: rejected at import."""

from __future__ import annotations

from portable_fn import CloudEvent, function, queue


@function(trigger=queue("orders"))
def take_order(event: CloudEvent, *, region: str) -> None: ...

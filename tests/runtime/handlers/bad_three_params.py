"""A handler with three parameters: rejected when this module is imported."""

from __future__ import annotations

from portable_fn import CloudEvent, Context, function, queue


@function(trigger=queue("orders"))
def take_order(event: CloudEvent, ctx: Context, extra: int) -> None: ...

"""A queue handler asking for a Request: rejected when this module is imported."""

from __future__ import annotations

from portable_fn import Request, function, queue


@function(trigger=queue("orders"))
def take_order(request: Request) -> None: ...

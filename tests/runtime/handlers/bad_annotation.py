"""A handler annotated with a type dispatch cannot serve: rejected when this module is imported."""

from __future__ import annotations

from portable_fn import function, topic


@function(trigger=topic("order-events"))
def notify(event: dict) -> None: ...

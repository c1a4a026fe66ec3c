"""A second parameter that is not the Context."""

from __future__ import annotations

from portable_fn import CloudEvent, function, topic


@function(trigger=topic("order-events"))
def notify(event: CloudEvent, retries: int) -> None: ...

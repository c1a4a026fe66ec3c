"""CloudEvent[T] with a T that is neither a model, a dataclass nor a plain JSON type."""

from __future__ import annotations

from portable_fn import CloudEvent, function, topic


class Order:  # a plain class: nothing says how to build it from JSON
    pass


@function(trigger=topic("order-events"))
def notify(event: CloudEvent[Order]) -> None: ...

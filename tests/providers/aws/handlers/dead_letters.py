"""Functions that give up on what they get, for the dead-letter tests: one per way Lambda delivers."""

from __future__ import annotations

from portable_fn import CloudEvent, DeadLetter, function, queue, storage, topic


@function(trigger=queue("orders", batch_size=10))
def refuse_order(event: CloudEvent) -> None:
    """Gives up on an order whose data says {"refuse": "<why>"}; acknowledges the rest."""
    if isinstance(event.data, dict) and "refuse" in event.data:
        raise DeadLetter(event.data["refuse"])


@function(trigger=queue("jobs", batch_size=10, fifo=True))
def refuse_job(event: CloudEvent) -> None:
    """FIFO variant of `refuse_order`."""
    refuse_order(event)


@function(trigger=topic("order-events"))
def refuse_notice(event: CloudEvent) -> None:
    """Gives up on every SNS notification (an asynchronous invocation)."""
    raise DeadLetter("notices are not wanted")


@function(trigger=storage("uploads", on="created"))
def refuse_upload(event: CloudEvent) -> None:
    """Gives up on every upload (an asynchronous invocation)."""
    raise DeadLetter("uploads are not wanted")

"""A queue function with a retry policy, for the retry backoff tests: it fails every order, asking for a
delay of its own when the order says {"retry_after": seconds}."""

from __future__ import annotations

from portable_fn import CloudEvent, Retry, function, queue
from portable_fn.runtime.retry import RetryPolicy, exponential


@function(trigger=queue("orders", batch_size=10), retry=RetryPolicy(attempts=5, backoff=exponential(30, max=600)))
def flaky_order(event: CloudEvent) -> None:
    if isinstance(event.data, dict) and "retry_after" in event.data:
        raise Retry("asked to wait", after=event.data["retry_after"])
    raise RuntimeError("the warehouse API is down")

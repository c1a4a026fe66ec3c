"""Retry policies on every Azure trigger kind: two queue functions with different backoffs (one host.json
for both), schedules with a fixed and an exponential backoff, and an Event Grid topic."""

from __future__ import annotations

from portable_fn import CloudEvent, function, queue, schedule, topic
from portable_fn.runtime.retry import RetryPolicy, exponential, fixed


@function(trigger=queue("orders"), retry=RetryPolicy(5, exponential(2, max=60)))
def take_order(event: CloudEvent) -> None:
    """Exponential: Storage Queues can only wait a fixed time, so plan says it is clamped."""


@function(trigger=queue("refunds"), retry=RetryPolicy(3, fixed(30)))
def refund(event: CloudEvent) -> None:
    """Fixed 30 s: the longest first delay, so the app's visibilityTimeout."""


@function(trigger=schedule("rate(5 minutes)"), retry=RetryPolicy(4, fixed(20)))
def tick(event: CloudEvent) -> None:
    pass


@function(trigger=schedule("rate(10 minutes)"), retry=RetryPolicy(3, exponential(4, max=90)))
def sweep(event: CloudEvent) -> None:
    pass


@function(trigger=topic("shipments"), retry=RetryPolicy(6, exponential(1, max=30)))
def on_shipment(event: CloudEvent) -> None:
    pass

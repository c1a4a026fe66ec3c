"""Where AWS cannot keep a function's retry policy as declared: the lines `plan` shows. Pure: no AWS call.

A queue function keeps it all: `maxReceiveCount` is its attempts, and the shim hides each failed message
for the backoff's delay (`portable_fn_aws.visibility`), up to SQS's ceiling. An asynchronous invocation
(topic, storage, schedule) is retried by Lambda itself: at most twice, about one minute and then two
minutes apart, whatever the backoff or a `Retry(after=...)` asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portable_fn.runtime.triggers import Queue

from ..visibility import MAX_VISIBILITY_S
from .desired import MAX_ASYNC_RETRIES

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionOptions, FunctionSpec

ASYNC_WAITS = "about 1 minute, then 2 minutes"  # Lambda's own waits between its asynchronous retries


def retry_notes(app: App) -> list[str]:
    """One line per function whose retry policy AWS clamps or cannot honour, saying what happens instead."""
    notes: list[str] = []
    for spec in app.functions:
        if spec.trigger.is_event:
            options = app.options(spec)
            found = queue_notes(options) if isinstance(spec.trigger, Queue) else async_notes(spec, options)
            notes += [f"function {spec.name}: {note}" for note in found]
    return notes


def queue_notes(options: FunctionOptions) -> list[str]:
    policy, notes = options.retry_policy, []
    longest = max((policy.delay_s(attempt) for attempt in range(1, policy.attempts)), default=0.0)  # retried ones
    if longest > MAX_VISIBILITY_S:
        notes.append(
            f"retry delays over {MAX_VISIBILITY_S} s are clamped to {MAX_VISIBILITY_S} s (SQS hides a message "
            "for at most 12 hours from its receipt)"
        )
    if options.dead_letter is False and policy.attempts > 1:
        notes.append(
            f"attempts={policy.attempts} is not enforced without a dead-letter queue (dead_letter=False): SQS "
            "delivers a failing message again until its retention period ends"
        )
    return notes


def async_notes(spec: FunctionSpec, options: FunctionOptions) -> list[str]:
    """An asynchronous invocation: what the declared policy (or attempts over Lambda's) turns into."""
    policy, notes = options.retry_policy, []
    if policy.attempts > MAX_ASYNC_RETRIES + 1:
        notes.append(
            f"attempts={policy.attempts} is clamped to {MAX_ASYNC_RETRIES + 1} (Lambda retries a "
            f"{spec.trigger.kind} invocation at most {MAX_ASYNC_RETRIES} times)"
        )
    if options.retry is not None and policy.attempts > 1:
        notes.append(
            f"the backoff {policy.backoff!r} and Retry(after=...) are not applied: Lambda waits {ASYNC_WAITS} "
            f"between its retries of a {spec.trigger.kind} invocation; use a queue trigger for a backoff of your own"
        )
    return notes

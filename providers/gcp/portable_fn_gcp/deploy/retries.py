"""Where Google Cloud cannot keep a function's retry policy as declared: the lines `plan` shows. Pure: no call.

An event function that retries has its policy on the Pub/Sub subscription Eventarc delivers its trigger
through (`DeadLetterRoute`; for a storage trigger, the one on Eventarc's own transport topic): the attempts
as the dead-letter policy's `maxDeliveryAttempts` (5 to 100) and the backoff as its `retryPolicy` (0 to
600 s, Pub/Sub's own exponential growth between the two). A push subscription redelivers on that policy
alone, so a `Retry(after=...)` cannot pick its own delay per message. A function declared with
`dead_letter=False` gets no policy at all, since Pub/Sub counts attempts only for a dead-letter policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .desired import MAX_BACKOFF_S, MAX_DELIVERY_ATTEMPTS, MIN_DELIVERY_ATTEMPTS, retry_backoff_s

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionOptions


def retry_notes(app: App) -> list[str]:
    """One line per function whose retry policy Google clamps or cannot honour, saying what happens instead."""
    notes: list[str] = []
    for spec in app.functions:
        options = app.options(spec)
        if not spec.trigger.is_event or options.max_attempts <= 1:
            continue
        found = no_dead_letter_notes(options) if options.dead_letter is False else subscription_notes(options)
        notes += [f"function {spec.name}: {note}" for note in found]
    return notes


def no_dead_letter_notes(options: FunctionOptions) -> list[str]:
    """Without a dead-letter topic the subscription gets no policy of ours: Pub/Sub counts no attempts."""
    return [
        f"attempts={options.retry_policy.attempts} and the backoff are not applied without a dead-letter topic "
        "(dead_letter=False): Pub/Sub redelivers a failing event with Eventarc's default backoff (10 to 600 s) "
        "until the subscription's retention ends (24 hours), then drops it"
    ]


def subscription_notes(options: FunctionOptions) -> list[str]:
    policy, notes = options.retry_policy, []
    attempts = min(max(policy.attempts, MIN_DELIVERY_ATTEMPTS), MAX_DELIVERY_ATTEMPTS)
    if attempts != policy.attempts:
        notes.append(
            f"attempts={policy.attempts} becomes {attempts} (a Pub/Sub dead-letter policy allows "
            f"{MIN_DELIVERY_ATTEMPTS} to {MAX_DELIVERY_ATTEMPTS} delivery attempts)"
        )
    minimum, maximum = retry_backoff_s(policy)
    if policy.backoff.max_s > MAX_BACKOFF_S or policy.delay_s(1) > MAX_BACKOFF_S:
        notes.append(
            f"retry delays over {MAX_BACKOFF_S} s are clamped to {MAX_BACKOFF_S} s (Pub/Sub's longest backoff)"
        )
    notes.append(
        f"Retry(after=...) is clamped to the subscription's backoff of {minimum} to {maximum} s: a push "
        "subscription redelivers on its retry policy, not per message"
    )
    return notes

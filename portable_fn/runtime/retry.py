"""Retry policies: how many deliveries an event gets and how long to wait between them, declared once
(`@function(..., retry=RetryPolicy(attempts=5, backoff=exponential(1, max=300)))`) and mapped by each
provider to its own settings (SQS visibility and `maxReceiveCount`, the Pub/Sub subscription's retry
policy, Storage Queue visibility and `maxDequeueCount`, the local host). Where a cloud cannot honour a
delay, the provider clamps it and `plan` says so.
"""

from __future__ import annotations

from .errors import DeclarationError


class Backoff:
    """Seconds to wait before delivery `attempt + 1` after delivery `attempt` failed."""

    def __init__(self, base_s: float, max_s: float, factor: float) -> None:
        for what, value in (("base", base_s), ("max", max_s), ("factor", factor)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise DeclarationError(f"backoff {what}={value!r} must be a number of at least 0.")
        if max_s < base_s:
            raise DeclarationError(f"backoff max={max_s!r} is below its base {base_s!r}; use max >= base.")
        self.base_s = float(base_s)
        self.max_s = float(max_s)
        self.factor = float(factor)

    def delay_s(self, attempt: int) -> float:
        """The wait after failed delivery number `attempt` (1 for the first). The count comes from the
        cloud (SQS's `ApproximateReceiveCount`, a dequeue count): a factor raised past what a float holds
        is past `max` too."""
        try:
            grown = self.base_s * self.factor ** max(attempt - 1, 0)
        except OverflowError:
            return self.max_s
        return min(grown, self.max_s)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backoff) and vars(self) == vars(other)

    def __repr__(self) -> str:
        if self.factor == 1:
            return f"fixed({self.base_s:g})"
        return f"exponential({self.base_s:g}, max={self.max_s:g})"


def exponential(base_s: float = 1, max: float = 300, factor: float = 2) -> Backoff:
    """Wait `base_s`, then twice as long after each failure, never more than `max` seconds."""
    return Backoff(base_s, max, factor)


def fixed(delay_s: float) -> Backoff:
    """Wait `delay_s` seconds after every failure."""
    return Backoff(delay_s, delay_s, 1)


DEFAULT_BACKOFF = exponential(1, max=300)


class RetryPolicy:
    """`attempts` deliveries in all (the first included; 1 never retries), waiting `backoff` between."""

    def __init__(self, attempts: int = 3, backoff: Backoff | None = None) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 101:
            raise DeclarationError(
                f"RetryPolicy(attempts={attempts!r}): use a whole number from 1 (never retry) to 101."
            )
        if backoff is not None and not isinstance(backoff, Backoff):
            raise DeclarationError(f"RetryPolicy(backoff={backoff!r}): use exponential(...) or fixed(...).")
        self.attempts = attempts
        self.backoff = backoff or DEFAULT_BACKOFF

    def delay_s(self, attempt: int) -> float:
        """The wait after failed delivery number `attempt`."""
        return self.backoff.delay_s(attempt)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetryPolicy) and (self.attempts, self.backoff) == (other.attempts, other.backoff)

    def __repr__(self) -> str:
        return f"RetryPolicy(attempts={self.attempts}, backoff={self.backoff!r})"

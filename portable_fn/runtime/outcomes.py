"""What became of one event: acknowledged, to be retried, or dead-lettered.

Handlers signal with control flow: returning acknowledges, raising `Retry` (or any exception) asks for
redelivery, raising `DeadLetter` stops retries at once. Each provider adapter turns `Result`s into its
own language (SQS `batchItemFailures`, an HTTP status, a raise), so handlers never see those details.
"""

from __future__ import annotations

from typing import Any

ACK = "ack"
RETRY = "retry"
DEAD_LETTER = "dead_letter"


class Retry(Exception):
    """Raise to have the event delivered again, `after` a while (seconds or a timedelta) where the provider
    supports it (each clamps to what its cloud can do); an HTTP call answers 503 with `Retry-After`.
    `delay_s` is the same wait in seconds (the older spelling, still accepted)."""

    def __init__(self, reason: str = "retry requested", delay_s: float | None = None, *, after: Any = None) -> None:
        super().__init__(reason)
        if after is not None and delay_s is not None:
            raise TypeError(f"Retry({reason!r}): give after= or delay_s=, not both (they mean the same wait).")
        self.reason = reason
        self.delay_s = _seconds(after if after is not None else delay_s)

    @property
    def after(self) -> float | None:
        """The wait asked for, in seconds (None: the function's retry policy decides)."""
        return self.delay_s


def _seconds(wait: Any) -> float | None:
    """A wait in seconds from seconds or a timedelta (anything with `total_seconds`)."""
    if wait is None:
        return None
    seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else wait
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"Retry(after={wait!r}): use a number of seconds of at least 0 or a timedelta.")
    return float(seconds)


class DeadLetter(Exception):
    """Raise to give up on the event: never retried, sent to the dead-letter target if one exists."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Result:
    """The outcome of one event: `outcome` is ACK, RETRY or DEAD_LETTER; `reason` says why not ACK."""

    __slots__ = ("outcome", "value", "reason", "error", "event_id")

    def __init__(
        self,
        outcome: str,
        value: Any = None,
        reason: str | None = None,
        error: BaseException | None = None,
        event_id: str | None = None,
    ) -> None:
        self.outcome = outcome
        self.value = value
        self.reason = reason
        self.error = error
        self.event_id = event_id

    @property
    def ok(self) -> bool:
        """True when the event was acknowledged."""
        return self.outcome == ACK

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (used by `portable-fn invoke` and the local host's logs)."""
        out: dict[str, Any] = {"outcome": self.outcome}
        if self.event_id is not None:
            out["id"] = self.event_id
        if self.reason is not None:
            out["reason"] = self.reason
        if self.value is not None:
            out["value"] = self.value
        return out

    def __repr__(self) -> str:
        return f"Result({self.outcome!r}, reason={self.reason!r})"

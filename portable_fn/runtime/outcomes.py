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
    """Raise to have the event delivered again (after `delay_s` where the provider supports it)."""

    def __init__(self, reason: str = "retry requested", delay_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s


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

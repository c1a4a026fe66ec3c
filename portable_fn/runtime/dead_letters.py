"""The one shape of a dead letter on every cloud, so one tool reads dead letters from any of them.

A dead-lettered message is the original CloudEvent, unchanged, plus three extension attributes:

| extension            | value                                                    |
|----------------------|----------------------------------------------------------|
| `deadletterreason`   | why it was given up (the `DeadLetter` reason, the error) |
| `deadletterfunction` | the portable function that gave up on it                 |
| `deadletterattempt`  | the delivery attempt it was given up on (an integer)     |

Each shim writes it in the binding its dead-letter target speaks (SQS message attributes or a
structured body, Pub/Sub `ce-` attributes, a Storage Queue message in the JSON format, the local
host's journal), so a function subscribed to a dead-letter target gets exactly this event.
"""

from __future__ import annotations

from typing import Any

from .cloudevent import CloudEvent

REASON = "deadletterreason"
FUNCTION = "deadletterfunction"
ATTEMPT = "deadletterattempt"
EXTENSIONS = (REASON, FUNCTION, ATTEMPT)
# Pub/Sub and SQS attribute values are bounded (1024 bytes on Pub/Sub); a longer reason is cut there.
MAX_REASON_BYTES = 1024


def dead_letter_event(event: CloudEvent[Any], *, function: str, reason: str, attempt: int) -> CloudEvent[Any]:
    """`event` with the dead-letter extensions set (replacing any from an earlier dead-lettering)."""
    cut = reason.encode("utf-8")[:MAX_REASON_BYTES].decode("utf-8", "ignore")
    extensions = {**event.extensions, REASON: cut, FUNCTION: function, ATTEMPT: int(attempt)}
    return event.replace(extensions=extensions)


def undead(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A dead letter as its function was first given it, its dead-letter extensions removed (what every
    `--redrive` sends back)."""
    return event.replace(extensions={k: v for k, v in event.extensions.items() if k not in EXTENSIONS})


def dead_letter_info(event: CloudEvent[Any]) -> dict[str, Any] | None:
    """`{"reason", "function", "attempt"}` of a dead-lettered event, or None for any other event."""
    if REASON not in event.extensions:
        return None
    attempt = event.extensions.get(ATTEMPT)
    if isinstance(attempt, str) and attempt.isdigit():  # binary modes carry every extension as a string
        attempt = int(attempt)
    return {"reason": event.extensions[REASON], "function": event.extensions.get(FUNCTION), "attempt": attempt}


def send_failure(exc: BaseException) -> str:
    """Why a shim's request to a dead-letter target failed, for its log line: the HTTP status and the
    start of the answer's body (urllib's HTTPError), else the exception."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        try:
            detail = exc.read().decode("utf-8", "replace")[:300]  # type: ignore[attr-defined]
        except Exception:  # the status alone still says enough
            detail = ""
        return f"HTTP {code} {detail}".strip()
    return f"{type(exc).__name__}: {exc}"

"""The retry policy's backoff on SQS: each failed message of a batch is hidden for the delay its policy
gives for its receive count, before Lambda reports it failed. Ships in the zip: standard library only
(the signed SQS client of `dead_letter`).

Lambda leaves a failed message in the queue, where it becomes visible again once the queue's visibility
timeout has passed, the same for every message and every attempt. So the shim calls
ChangeMessageVisibility for each failed record with `spec.options.retry_policy.delay_s(receive count)`,
or the wait of the `Retry(after=...)` the handler raised, clamped to what SQS takes (at most 12 hours
from the message's receipt, which was up to 20 minutes ago: `MAX_VISIBILITY_S`); `maxReceiveCount` (the
policy's attempts) then moves it to the dead-letter queue. Deploy sets `PORTABLE_FN_QUEUE_URL` on every
queue function and grants it `sqs:ChangeMessageVisibility` on that queue alone. When the call fails, the
message keeps the queue's visibility timeout: it is still delivered again, only sooner or later than the
policy says (logged at WARNING).

Asynchronous invocations (topic, storage, schedule) are retried by Lambda itself, which takes no
backoff: see `portable_fn_aws.deploy.retries` for what `plan` says about them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from portable_fn.runtime.function import FunctionSpec
from portable_fn.runtime.outcomes import Result, Retry

from . import dead_letter

if TYPE_CHECKING:
    from datetime import datetime

    from .records import Record, RecordSource

QUEUE_URL_ENV = "PORTABLE_FN_QUEUE_URL"
CHANGE_VISIBILITY = "AmazonSQS.ChangeMessageVisibility"
# SQS hides a message for at most 12 hours counted from when it was received, which was before this
# invocation: up to Lambda's batching window (5 minutes) plus the invocation (15 minutes) ago.
MAX_VISIBILITY_S = 43_200 - 20 * 60
TIMEOUT_S = 3.0  # per call: the batch's answer to Lambda waits for these


def delay_s(spec: FunctionSpec, result: Result, attempt: int) -> int:
    """Seconds to hide a message that failed on delivery `attempt`: what the handler's `Retry(after=)`
    asked for, else the retry policy's backoff; clamped to 0..MAX_VISIBILITY_S."""
    requested = _requested(result.error)
    seconds = spec.options.retry_policy.delay_s(attempt) if requested is None else requested
    return clamp(seconds)


def clamp(seconds: float) -> int:
    """A whole number of seconds SQS takes as a visibility timeout."""
    return int(min(max(math.ceil(seconds), 0), MAX_VISIBILITY_S))


def back_off(
    spec: FunctionSpec,
    source: RecordSource,
    failed: Sequence[tuple[Record, Result]],
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Hide each failed SQS record for its delay (`delay_s`); the delays set, by message id. A failed
    call stops the rest (the endpoint is likely down for all), leaving them the queue's own timeout."""
    done: dict[str, int] = {}
    if source.name != "SQS":
        return done
    env = os.environ if environ is None else environ
    url = env.get(QUEUE_URL_ENV, "")
    if not url:
        return done
    for record, result in failed:
        handle = record.get("receiptHandle") if isinstance(record, Mapping) else None
        if not isinstance(handle, str) or not handle:
            continue  # unreadable: no message to change
        delay = delay_s(spec, result, dead_letter.attempt(source, record))
        payload = {"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": delay}
        try:
            dead_letter.post(url, CHANGE_VISIBILITY, payload, env, now, TIMEOUT_S)
        except (OSError, ValueError, KeyError) as exc:
            _warn(spec, record, url, exc)
            break
        done[str(record.get("messageId"))] = delay
    return done


def _requested(error: BaseException | None) -> float | None:
    """The wait a `Retry` asked for (`Retry(after=...)`, in seconds), None when it named none."""
    return error.after if isinstance(error, Retry) else None


def _warn(spec: FunctionSpec, record: Record, url: str, exc: BaseException) -> None:
    import logging

    from portable_fn.runtime.dead_letters import send_failure

    logging.getLogger("portable_fn.aws").warning(
        "function %s: SQS message %s: its retry delay could not be set on %s (%s); it is delivered again after "
        "the queue's visibility timeout. Check that the function's role may sqs:ChangeMessageVisibility on it "
        "(`portable-fn plan`)",
        spec.name,
        record.get("messageId"),
        url,
        send_failure(exc),
    )

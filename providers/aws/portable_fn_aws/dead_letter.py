"""Sending a dead-lettered event to the function's dead-letter queue, from inside the function. Ships in
the zip: standard library only (SQS's JSON API over `urllib`, signed with Signature Version 4 here, since
the shim holds no SDK).

Deploy sets `PORTABLE_FN_DEAD_LETTER_QUEUE_URL` for every event function that has a dead-letter queue and
grants the function's role `sqs:SendMessage` on that queue alone. When the handler gives up on an event
(`DeadLetter`), the shim sends it there and only then acknowledges it; if the send fails, the record is
reported failed as it was before (a batch item failure, or a raise for an asynchronous event), so it is
delivered again rather than lost. Without the variable, or for a record that could not be read, a
dead-lettered record is reported failed and the queue's redrive policy (or Lambda's on-failure
destination) moves it once its attempts are used up.

The message body is the dead-lettered CloudEvent (`portable_fn.runtime.dead_letters`: the original event
plus `deadletterreason`, `deadletterfunction`, `deadletterattempt`) in the JSON format, with the message
attribute `content-type: application/cloudevents+json`; a portable function triggered by the dead-letter
queue gets exactly that event. A FIFO dead-letter queue gets the record's message group (its
`partitionkey`) and a deduplication id made of the event's source and id.

| Lambda's environment                                              | used for                           |
|-------------------------------------------------------------------|------------------------------------|
| `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | the function role's credentials    |
| `AWS_REGION`                                                      | the signing region                 |
| `AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL`                   | the endpoint, when set (an         |
|                                                                   | emulator); else the queue URL's    |
|                                                                   | own scheme and host                |
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_event, send_failure
from portable_fn.runtime.errors import PortableFnError
from portable_fn.runtime.function import FunctionSpec
from portable_fn.runtime.outcomes import DEAD_LETTER, Result

if TYPE_CHECKING:
    from datetime import datetime

    from .records import Record, RecordSource

# hashlib, hmac and datetime are imported where an event is dead-lettered, not at every cold start (~5 ms).

QUEUE_URL_ENV = "PORTABLE_FN_DEAD_LETTER_QUEUE_URL"
ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL")
CONTENT_TYPE = "application/x-amz-json-1.0"
SEND_MESSAGE = "AmazonSQS.SendMessage"
CLOUDEVENTS_JSON = "application/cloudevents+json"
FIFO_GROUP = "portable-fn-dead-letters"  # the message group of an event that names none
TIMEOUT_S = 10.0


class DeadLetterFailed(PortableFnError):
    """The event could not be sent to the dead-letter queue (its record is reported failed instead)."""


def queue_url() -> str:
    """The function's dead-letter queue URL, '' when it has none."""
    return os.environ.get(QUEUE_URL_ENV, "")


def settle(
    spec: FunctionSpec,
    source: RecordSource,
    records: Sequence[Record],
    events: Sequence[Any],
    failures: Mapping[int, Result],
) -> set[int]:
    """Send each record of a batch that the handler dead-lettered to the function's dead-letter queue;
    the indexes of those sent, which the shim then acknowledges. `source` is the records' `RecordSource`."""
    sent: set[int] = set()
    # A record that could not be read has no CloudEvent to send. Most failures are retries: the queue's URL
    # is read only for a batch with something to send.
    dead_lettered = [i for i, r in failures.items() if r.outcome == DEAD_LETTER and isinstance(events[i], CloudEvent)]
    url = queue_url() if dead_lettered else ""
    if not url:
        return sent
    for index in dead_lettered:
        event, result = events[index], failures[index]
        dead = dead_letter_event(
            event, function=spec.name, reason=result.reason or "dead-lettered", attempt=attempt(source, records[index])
        )
        try:
            message_id = send(url, dead)
        except DeadLetterFailed as exc:
            _log(spec, source, event, "%s; it is reported failed so that it is delivered again", str(exc))
            continue
        _log(
            spec,
            source,
            event,
            "dead-lettered (%s): sent to %s as message %s",
            dead.extensions["deadletterreason"],
            url,
            message_id,
        )
        sent.add(index)
    return sent


def send(
    url: str, event: CloudEvent[Any], environ: Mapping[str, str] | None = None, now: datetime | None = None
) -> str:
    """Send `event` to the queue at `url`; the message id SQS gave it. Raises DeadLetterFailed."""
    try:
        return str(post(url, SEND_MESSAGE, message(url, event), environ, now)["MessageId"])
    except (OSError, ValueError, KeyError) as exc:  # URLError and HTTPError are OSErrors
        raise DeadLetterFailed(
            f"event {event.id!r} could not be sent to the dead-letter queue {url} ({send_failure(exc)}); check that "
            "the queue exists and that the function's role may sqs:SendMessage to it (`portable-fn plan`)"
        ) from exc


def post(
    url: str,
    target: str,
    payload: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    timeout_s: float = TIMEOUT_S,
) -> dict[str, Any]:
    """One signed SQS request (JSON protocol, `X-Amz-Target: target`) about the queue at `url`; SQS's
    answer. Raises OSError (URLError, HTTPError), ValueError or KeyError (Lambda's variables unset)."""
    import urllib.request  # only paid for when a record failed (it pulls in http, ssl, email)
    from datetime import datetime, timezone

    env = os.environ if environ is None else environ
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    endpoint = next((env[name] for name in ENDPOINT_ENVS if env.get(name)), "") or _origin(url)
    headers = signed_headers(endpoint, body, target, env, now or datetime.now(timezone.utc))
    request = urllib.request.Request(endpoint, data=body, method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=timeout_s) as answer:
        raw = answer.read()
    found: dict[str, Any] = json.loads(raw) if raw.strip() else {}
    return found


def message(url: str, event: CloudEvent[Any]) -> dict[str, Any]:
    """The SendMessage request (JSON protocol) carrying `event` in the JSON format. ASCII-only JSON, so
    the body holds no character SQS refuses."""
    out: dict[str, Any] = {
        "QueueUrl": url,
        "MessageBody": json.dumps(event.to_dict(), separators=(",", ":")),
        "MessageAttributes": {"content-type": {"DataType": "String", "StringValue": CLOUDEVENTS_JSON}},
    }
    if url.endswith(".fifo"):
        import hashlib

        group = event.extensions.get("partitionkey")
        out["MessageGroupId"] = group if isinstance(group, str) and 0 < len(group) <= 128 else FIFO_GROUP
        out["MessageDeduplicationId"] = hashlib.sha256(f"{event.source}\n{event.id}".encode()).hexdigest()
    return out


# -- Signature Version 4 ------------------------------------------------------------------------------


def signed_headers(endpoint: str, body: bytes, target: str, env: Mapping[str, str], now: datetime) -> dict[str, str]:
    """The headers of a signed POST of `body` (JSON protocol, `X-Amz-Target: target`) to `endpoint`, with
    the credentials and region of `env` (Lambda's environment)."""
    import hashlib
    import hmac
    from datetime import timezone

    try:
        key, secret, region = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_REGION"]
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]} is not set (Lambda sets it for every function)") from None
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "content-type": CONTENT_TYPE,
        "host": urlsplit(endpoint).netloc,
        "x-amz-date": stamp,
        "x-amz-target": target,
    }
    if env.get("AWS_SESSION_TOKEN"):
        headers["x-amz-security-token"] = env["AWS_SESSION_TOKEN"]
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            "POST",
            urlsplit(endpoint).path or "/",
            "",
            *(f"{name}:{headers[name].strip()}" for name in sorted(headers)),
            "",
            names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{stamp[:8]}/{region}/sqs/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = f"AWS4{secret}".encode()
    for part in (stamp[:8], region, "sqs", "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    return headers


def _origin(url: str) -> str:
    """`https://sqs.<region>.amazonaws.com/` of a queue URL: the SQS endpoint of its region."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"{url!r} is not a queue URL")
    return f"{parts.scheme}://{parts.netloc}/"


def attempt(source: RecordSource, record: Record) -> int:
    """The delivery attempt of a record (SQS's receive count; 1 where the source tells none)."""
    try:
        meta = source.message_meta(record)
    except Exception:
        return 1
    return int(meta.delivery_count) if meta is not None else 1


def _log(spec: FunctionSpec, source: RecordSource, event: CloudEvent[Any], what: str, *args: Any) -> None:
    import logging

    logging.getLogger("portable_fn.aws").warning(
        "function %s: %s event %s " + what, spec.name, source.name, event.id, *args
    )

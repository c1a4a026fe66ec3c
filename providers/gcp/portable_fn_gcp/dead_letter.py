"""Routing a dead-lettered event to the function's dead-letter topic, from inside the function. Ships in
the source zip: standard library only (the Pub/Sub REST API over `urllib`, no google-cloud-pubsub).

Deploy sets `PORTABLE_FN_DEAD_LETTER_TOPIC` to `projects/P/topics/T` for every event function that may
dead-letter. When the handler gives up on an event (`DeadLetter`), the shim publishes the event there and
only then acknowledges it; if publishing fails the event is answered 500, so Pub/Sub redelivers it rather
than lose it.

The message is the shared dead-letter event (`portable_fn.runtime.dead_letters.dead_letter_event`: the
event given up on plus the `deadletterreason`, `deadletterfunction` and `deadletterattempt` extensions) in
the CloudEvents Pub/Sub binding's binary mode: one `ce-<name>` attribute per CloudEvent attribute,
`content-type` for `datacontenttype`, the encoded data as the message data. A portable function triggered
by the dead-letter topic therefore gets exactly that event, and one tool reads dead letters from any
cloud. The attempt is Pub/Sub's `deliveryAttempt` when the subscription sends it, else 1.

With dead letters on (the default) and no topic named, the function is misconfigured: `missing_topic`
says what to fix, and the shim keeps the event (500, redelivered) rather than acknowledge it.

Where the request goes:

| environment                          | endpoint                                   | credentials                  |
|--------------------------------------|--------------------------------------------|------------------------------|
| `PUBSUB_EMULATOR_HOST=host:port`     | `http://host:port/v1/{topic}:publish`      | none (the emulator's rule)   |
| otherwise (on Cloud Functions)       | `https://pubsub.googleapis.com/v1/...`     | the function's service       |
|                                      |                                            | account, from the metadata   |
|                                      |                                            | server; cached until expiry  |

The function's service account needs `roles/pubsub.publisher` on the topic; deploy grants it when the
app names a service account (the default compute account holds it through the project's Editor role).
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import REASON, dead_letter_event, send_failure
from portable_fn.runtime.errors import PortableFnError
from portable_fn.runtime.http_binding import encode_header_value, to_binary

TOPIC_ENV = "PORTABLE_FN_DEAD_LETTER_TOPIC"
EMULATOR_ENV = "PUBSUB_EMULATOR_HOST"
PUBSUB = "https://pubsub.googleapis.com"
TOKEN_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
TIMEOUT_S = 10.0
MAX_ATTRIBUTE_BYTES = 1024  # a Pub/Sub attribute value's limit
REASON_ATTRIBUTE = "ce-" + REASON


class DeadLetterFailed(PortableFnError):
    """The event could not be published to the dead-letter topic (it is answered 500 and redelivered)."""


def topic() -> str:
    """The dead-letter topic's path, '' when the function has none."""
    return os.environ.get(TOPIC_ENV, "")


def missing_topic(function: str) -> str:
    """What to fix when dead letters are on but no dead-letter topic is named."""
    return (
        f"Function {function!r} on gcp: dead letters are on but {TOPIC_ENV} is not set, so a "
        "dead-lettered event has nowhere to go; it is answered 500 and Pub/Sub redelivers it. Deploy with "
        "`portable-fn deploy` (it creates the topic and sets the variable), set the variable to "
        "projects/P/topics/T, or declare the function with dead_letter=False to acknowledge dead "
        "letters with a log line."
    )


def message(event: CloudEvent[Any], function: str, reason: str, attempt: int = 1) -> dict[str, Any]:
    """The Pub/Sub message (REST shape) that carries the dead-letter event of `event` in binary mode."""
    attributes, body = to_binary(dead_letter_event(event, function=function, reason=reason, attempt=attempt))
    attributes[REASON_ATTRIBUTE] = _fitted(reason)
    return {"data": base64.b64encode(body).decode("ascii"), "attributes": attributes}


def _fitted(reason: str) -> str:
    """The reason's attribute value within Pub/Sub's 1024 bytes once percent-encoded (a longer one is cut)."""
    encoded = encode_header_value(reason)
    while len(encoded) > MAX_ATTRIBUTE_BYTES:
        reason = reason[: len(reason) * MAX_ATTRIBUTE_BYTES // len(encoded) - 1]
        encoded = encode_header_value(reason)
    return encoded


def publish(topic_path: str, event: CloudEvent[Any], function: str, reason: str, attempt: int = 1) -> str:
    """Publish `event` to `topic_path`; the message id Pub/Sub gave it. Raises DeadLetterFailed."""
    import urllib.request  # only paid for when an event is dead-lettered (it pulls in http, ssl, email)

    host = os.environ.get(EMULATOR_ENV, "")
    body = json.dumps({"messages": [message(event, function, reason, attempt)]}).encode("utf-8")
    try:
        headers = {"Content-Type": "application/json"}
        if not host:
            headers["Authorization"] = f"Bearer {_token()}"
        request = urllib.request.Request(
            f"http://{host}/v1/{topic_path}:publish" if host else f"{PUBSUB}/v1/{topic_path}:publish",
            data=body,
            method="POST",
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            ids = json.loads(answer.read()).get("messageIds") or [""]
    except (OSError, ValueError, KeyError) as exc:  # URLError and HTTPError are OSErrors
        raise DeadLetterFailed(
            f"Function {function!r} on gcp: event {event.id!r} could not be published to the dead-letter "
            f"topic {topic_path} ({send_failure(exc)}). It is answered 500 so Pub/Sub redelivers it; check that "
            "the topic exists and the function's service account has roles/pubsub.publisher on it."
        ) from exc
    return str(ids[0])


_token_cache: list[Any] = ["", 0.0]  # [token, expires at (monotonic)]


def _token() -> str:
    """The function's access token from the metadata server, reused until a minute before it expires."""
    token, expires = _token_cache
    if token and time.monotonic() < expires:
        return str(token)
    import urllib.request

    request = urllib.request.Request(TOKEN_URL, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
        found = json.loads(answer.read())
    _token_cache[:] = [found["access_token"], time.monotonic() + float(found.get("expires_in", 300)) - 60]
    return str(found["access_token"])

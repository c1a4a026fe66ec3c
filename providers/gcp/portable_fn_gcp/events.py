"""The CloudEvents functions-framework hands over -> the portable CloudEvent. Ships in the source zip:
standard library and `portable_fn.runtime` only.

functions-framework gives a cloud_event function a `cloudevents` SDK event (the 1.x line today); it is
read by duck typing (`get_attributes()` and `get_data()` or `.data`), so the SDK's major version does
not matter and the SDK is never imported. Google emits CloudEvents natively, so attributes are kept as
they arrive; functions-framework has already turned legacy background-event bodies into CloudEvents.

| event type                                   | the handler gets                                          |
|----------------------------------------------|-----------------------------------------------------------|
| `google.cloud.pubsub.topic.v1.messagePublished` | the message (`unwrap_message`), see below              |
| anything else (`google.cloud.storage.object.v1.*`, Firestore, Firebase, ...) | the event as is |

A Pub/Sub message becomes its own CloudEvent:

| attribute         | from                                                                           |
|-------------------|--------------------------------------------------------------------------------|
| id                | `message.messageId` (Eventarc uses the same value as the event id)             |
| source, type      | the envelope's (`//pubsub.googleapis.com/projects/P/topics/T`, messagePublished) |
| time              | `message.publishTime`, else the envelope's time                                |
| data              | `message.data` base64-decoded, then: decoded by its `content-type` attribute   |
|                   | when it has one; else JSON-decoded when it parses (`application/json`); else   |
|                   | bytes (no `datacontenttype`)                                                   |

Carried CloudEvents win: message data holding a CloudEvent in the JSON format, or message attributes
`ce-specversion`, `ce-id`, ... (binary mode: the data is the event data, a `content-type` attribute its
media type) deliver exactly that CloudEvent. In every case the message's attributes, id, publish time and
delivery attempt go to `Context.message` (`MessageMeta`) and `Context.attempt`.

Cloud Scheduler ticks arrive this way too: deploy gives each schedule a Cloud Scheduler job with a Pub/Sub
target (the function's topic) whose message data is `{"schedule": "<expression>", "name": "<job>"}`,
so `CloudEvent[ScheduleTick]` reads the schedule and name from the data and the scheduled time from the
publish time (Cloud Scheduler publishes when the job fires).
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Mapping
from typing import Any

from portable_fn.runtime.cloudevent import (
    ODD_DAYS,
    CloudEvent,
    _check_time,
    _from_json_object,
    from_attributes,
    from_native,
    parse_json,
    rfc3339_shape,
)
from portable_fn.runtime.errors import InvalidEventError
from portable_fn.runtime.http_binding import decode_data, from_http
from portable_fn.runtime.views import MessageMeta

MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
JSON = "application/json"


def from_sdk_event(native: Any) -> CloudEvent[Any]:
    """The portable CloudEvent for a `cloudevents` SDK event of any line, attributes and data unchanged."""
    get_attributes = getattr(native, "get_attributes", None)
    if get_attributes is None:
        raise InvalidEventError(
            f"functions-framework passed a {type(native).__name__}, not a CloudEvent; deploy the function "
            "with the cloudevent signature type (the generated main.py registers it)."
        )
    get_data = getattr(native, "get_data", None)
    return _google_event(get_attributes(), get_data() if get_data is not None else getattr(native, "data", None))


def _google_event(found: Mapping[str, Any], data: Any) -> CloudEvent[Any]:
    """The portable CloudEvent of an SDK event's attributes and data."""
    get = found.get
    kind, media, subject, time = get("type"), get("datacontenttype"), get("subject"), get("time")
    if (get("specversion") == "1.0" and found.keys() <= _GOOGLE_ATTRIBUTES and kind.__class__ is str and kind
            and (media is None or (media.__class__ is str and media))
            and (subject is None or (subject.__class__ is str and subject))
            and (time is None or (time.__class__ is str and rfc3339_shape(time) and time[5:10] not in ODD_DAYS))):
        # What Google sends (Cloud Storage, Firestore, ...), no extensions: the values from_native takes on
        # trust (type, datacontenttype, subject, time) are checked above, id and source by from_native.
        return from_native(found["id"], found["source"], kind, media, time, None, data, subject)
    return from_attributes({name: value for name, value in found.items() if value is not None}, data)


_GOOGLE_ATTRIBUTES = frozenset({"specversion", "id", "source", "type", "datacontenttype", "subject", "time"})


def from_sdk_message(native: Any) -> tuple[CloudEvent[Any], MessageMeta | None]:
    """`to_cloudevent(from_sdk_event(native))`, without building the Pub/Sub envelope as a CloudEvent of
    its own: only the message's event is built (and validated), once per delivery."""
    attrs = getattr(native, "_attributes", None)
    if attrs.__class__ is dict:  # the 1.x line's http.CloudEvent (what functions-framework passes): its own
        data = native.data       # dict, which get_attributes() wraps in a new read-only proxy per call
    else:
        get_attributes = getattr(native, "get_attributes", None)
        if get_attributes is None:
            return to_cloudevent(from_sdk_event(native))  # says what was passed instead
        attrs = get_attributes()
        get_data = getattr(native, "get_data", None)
        data = get_data() if get_data is not None else getattr(native, "data", None)
    if attrs.get("type") == MESSAGE_PUBLISHED:
        return _unwrap(attrs, data)
    return _google_event(attrs, data), None


def to_cloudevent(event: CloudEvent[Any]) -> tuple[CloudEvent[Any], MessageMeta | None]:
    """What the handler gets for a Google CloudEvent, and the transport metadata when it is a message."""
    if event.type == MESSAGE_PUBLISHED:
        return unwrap_message(event)
    return event, None


def unwrap_message(envelope: CloudEvent[Any]) -> tuple[CloudEvent[Any], MessageMeta]:
    """A Pub/Sub messagePublished event -> the message's own CloudEvent (see the module docstring)."""
    return _unwrap({"id": envelope.id, "source": envelope.source, "type": envelope.type, "time": envelope.time},
                   envelope.data)


def _unwrap(envelope: Mapping[str, Any], data: Any) -> tuple[CloudEvent[Any], MessageMeta]:
    """The message's CloudEvent from the envelope's attributes (`id`, `source`, `type`, `time`) and data."""
    message = data.get("message") if data.__class__ is dict or isinstance(data, Mapping) else None
    if message.__class__ is not dict and not isinstance(message, Mapping):
        raise InvalidEventError(
            f"Pub/Sub event {envelope.get('id')!r} has no 'message' object in its data; a messagePublished "
            "event carries {\"message\": {\"data\": ..., \"attributes\": ...}, \"subscription\": ...}.",
            "data",
        )
    attributes = message.get("attributes") or {}
    meta = MessageMeta(message.get("messageId") or envelope.get("id"), _attempt(data), attributes,
                       message.get("publishTime") or envelope.get("time"))
    body = _decode_base64(message.get("data"), envelope.get("id"))
    return _message_event(envelope, meta, attributes, body), meta


def _message_event(envelope: Mapping[str, Any], meta: MessageMeta, attributes: Mapping[str, str],
                   body: bytes) -> CloudEvent[Any]:
    content_type = attributes.get("content-type")
    if "ce-specversion" in attributes or (content_type or "").startswith("application/cloudevents"):
        return from_http(attributes, body)  # a binary- or structured-mode CloudEvent in the message
    if content_type is not None:
        data = decode_data(content_type, body)
    else:
        try:
            data, content_type = parse_json(body), JSON
        except ValueError:  # not JSON (UnicodeDecodeError is a ValueError too): the bytes as they are
            data = body or None
    if data.__class__ is dict and "specversion" in data:
        return _from_json_object(data)  # a CloudEvent in the JSON format
    return from_native(meta.message_id, envelope.get("source"), MESSAGE_PUBLISHED,
                       content_type if data is not None else None, _check_time(meta.published_time), None, data)


def _attempt(data: Mapping[str, Any]) -> int:
    """Pub/Sub's `deliveryAttempt` (sent when the subscription has a dead-letter policy), else 1."""
    attempt = data.get("deliveryAttempt")
    return attempt if attempt.__class__ is int and attempt > 0 else 1


def _strict_b64(value: str) -> bytes:
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(value, strict_mode=True)
    return base64.b64decode(value, validate=True)


def _decode_base64(value: Any, event_id: Any) -> bytes:
    if value is None or value == "":
        return b""
    try:
        if value.__class__ is str and value.isascii():
            return _strict_b64(value)  # what b64decode(validate=True) checks, without its regex
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidEventError(
            f"Pub/Sub event {event_id!r}: message.data is not valid base64.", "data"
        ) from None

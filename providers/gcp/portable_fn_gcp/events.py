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

A Pub/Sub message becomes its own CloudEvent, of this project's type `com.google.cloud.pubsub.message`
(as SQS messages are `com.amazonaws.sqs.message` and Storage Queue messages
`com.microsoft.azure.storage.queue.message`): its data is the message body, no longer Google's
`MessagePublishedData`, so it does not keep the envelope's type.

| attribute         | from                                                                           |
|-------------------|--------------------------------------------------------------------------------|
| id                | `message.messageId` (Eventarc uses the same value as the event id)             |
| source            | the envelope's (`//pubsub.googleapis.com/projects/P/topics/T`)                 |
| type              | `com.google.cloud.pubsub.message`                                              |
| time              | `message.publishTime`, else the envelope's time                                |
| partitionkey      | `message.orderingKey`, when set (the CloudEvents partitioning extension, as    |
|                   | SQS FIFO `MessageGroupId` and Kinesis `partitionKey`)                          |
| data              | `message.data` base64-decoded, then: decoded by its `content-type` attribute   |
|                   | when it has one; else read as every cloud reads a body its sender did not      |
|                   | label (`http_binding.undeclared_data`: JSON, else UTF-8 text as a `str`, else  |
|                   | bytes, `application/octet-stream`)                                             |

Carried CloudEvents win: message data holding a CloudEvent in the JSON format, or message attributes
`ce-specversion`, `ce-id`, ... (binary mode: the data is the event data, a `content-type` attribute its
media type) deliver exactly that CloudEvent. In every case the message's attributes (but `content-type`,
the data's media type), id, publish time, delivery attempt and subscription go to `Context.message`
(`MessageMeta`) and `Context.attempt`.

Every value read from the envelope is type-checked: attributes that are not strings, a `content-type`,
`messageId`, `publishTime`, `orderingKey` or `subscription` that is not a string, data that is not
base64, are an `InvalidEventError` naming the field (the shim answers it 400 with that reason).

Binary-mode CloudEvents behind functions-framework: its `cloudevents` 1.x reads `ce-*` headers as the
WSGI server gives them, neither percent-decoded nor UTF-8 (WSGI strings are latin-1); `header_attributes`
re-reads such values as UTF-8 and percent-decodes them, as the CloudEvents HTTP binding requires.

Cloud Scheduler ticks arrive this way too: deploy gives each schedule a Cloud Scheduler job with a Pub/Sub
target (the function's topic) whose message data is `{"schedule": "<expression>", "name": "<job>"}`,
published a moment after the tick was due. `schedule_tick` makes that message the tick every cloud
delivers: time = when it was due (the schedule's latest firing at or before the publish time), data
`{"scheduled_time", "schedule", "name"}` from the function's own declaration (its name, not the job's).
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.cloudevent import (
    ODD_DAYS,
    CloudEvent,
    _check_time,
    _from_json_object,
    from_attributes,
    from_native,
    rfc3339_shape,
)
from portable_fn.runtime.errors import InvalidEventError
from portable_fn.runtime.http_binding import (
    decode_data,
    decode_header_value,
    from_http,
    undeclared_data,
    utf8_header_value,
)
from portable_fn.runtime.triggers import Storage
from portable_fn.runtime.views import MessageMeta

if TYPE_CHECKING:
    from portable_fn.runtime.triggers import Schedule, Trigger

MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
MESSAGE_TYPE = "com.google.cloud.pubsub.message"
STORAGE_EVENTS = {
    "created": "google.cloud.storage.object.v1.finalized",
    "deleted": "google.cloud.storage.object.v1.deleted",
}
TEXT = "text/plain; charset=utf-8"
CONTENT_TYPE = "content-type"  # the message attribute that declares the data's media type
LATE_TICK = 60  # minutes a Cloud Scheduler publish may follow the cron firing it is for
_NO_ATTRIBUTES: Mapping[str, str] = {}


def not_delivered(trigger: Trigger, event_type: str) -> str | None:
    """Why the function's Eventarc trigger, as deploy makes it, never delivers an event of `event_type` (a storage
    trigger takes its bucket's one object event type, every other kind a Pub/Sub message), or None."""
    storage = trigger if isinstance(trigger, Storage) else None
    wanted = STORAGE_EVENTS[storage.on] if storage else MESSAGE_PUBLISHED
    if event_type == wanted:
        return None
    what = f"storage({storage.bucket!r}, on={storage.on!r})" if storage else trigger.kind
    return f"the function's trigger ({what}) is deployed for {wanted} events, not for this {event_type} event"


def not_wired(trigger: Trigger, event_type: str) -> str | None:
    """Why no trigger of the function's kind, deployed or wired by hand, delivers an event of `event_type`, or
    None: a storage function takes the object events of its `on=`, a queue or schedule function Pub/Sub messages,
    and a topic function any event Eventarc routes to it (as a bus rule may feed a topic function on AWS)."""
    return None if trigger.kind == "topic" else not_delivered(trigger, event_type)


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
    if (
        get("specversion") == "1.0"
        and found.keys() <= _GOOGLE_ATTRIBUTES
        and kind.__class__ is str
        and kind
        and (media is None or (media.__class__ is str and media))
        and (subject is None or (subject.__class__ is str and subject))
        and (time is None or (time.__class__ is str and rfc3339_shape(time) and time[5:10] not in ODD_DAYS))
    ):
        # What Google sends (Cloud Storage, Firestore, ...), no extensions: the values from_native takes on
        # trust (type, datacontenttype, subject, time) are checked above, id and source by from_native.
        return from_native(found["id"], found["source"], kind, media, time, None, data, subject)
    return from_attributes({name: value for name, value in found.items() if value is not None}, data)


_GOOGLE_ATTRIBUTES = frozenset({"specversion", "id", "source", "type", "datacontenttype", "subject", "time"})


def from_sdk_message(
    native: Any, from_headers: Callable[[], bool] | None = None
) -> tuple[CloudEvent[Any], MessageMeta | None]:
    """`to_cloudevent(from_sdk_event(native))`, without building the Pub/Sub envelope as a CloudEvent of
    its own: only the message's event is built (and validated), once per delivery.

    `from_headers()` says whether the attributes are the `ce-*` headers of a binary-mode request (asked
    only when a value holds `%` or non-ASCII text): they are then decoded (`header_attributes`)."""
    attrs = getattr(native, "_attributes", None)
    if attrs.__class__ is dict:  # the 1.x line's http.CloudEvent (what functions-framework passes): its own
        data = native.data  # dict, which get_attributes() wraps in a new read-only proxy per call
    else:
        get_attributes = getattr(native, "get_attributes", None)
        if get_attributes is None:
            return to_cloudevent(from_sdk_event(native))  # says what was passed instead
        attrs = get_attributes()
        if not isinstance(attrs, Mapping):
            raise InvalidEventError(f"The CloudEvent's attributes are a {type(attrs).__name__}, not a mapping.")
        get_data = getattr(native, "get_data", None)
        data = get_data() if get_data is not None else getattr(native, "data", None)
    if from_headers is not None and _encoded(attrs) and from_headers():
        attrs = header_attributes(attrs)
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
    return _unwrap(
        {"id": envelope.id, "source": envelope.source, "type": envelope.type, "time": envelope.time}, envelope.data
    )


# -- Pub/Sub messages ------------------------------------------------------------------------------


def _unwrap(envelope: Mapping[str, Any], data: Any) -> tuple[CloudEvent[Any], MessageMeta]:
    """The message's CloudEvent from the envelope's attributes (`id`, `source`, `type`, `time`) and data."""
    event_id = envelope.get("id")
    message = data.get("message") if data.__class__ is dict or isinstance(data, Mapping) else None
    if message.__class__ is not dict and not isinstance(message, Mapping):
        raise InvalidEventError(
            f"Pub/Sub event {event_id!r} has no 'message' object in its data; a messagePublished "
            'event carries {"message": {"data": ..., "attributes": ...}, "subscription": ...}.',
            "data",
        )
    get = message.get
    attributes = _attributes(get("attributes"), event_id)
    meta = MessageMeta(
        _text(get("messageId"), "message.messageId", event_id) or event_id,
        _attempt(data),
        _senders(attributes),
        _text(get("publishTime"), "message.publishTime", event_id) or envelope.get("time"),
        _text(data.get("subscription"), "subscription", event_id),
    )
    ordering_key = _text(get("orderingKey"), "message.orderingKey", event_id)
    body = _decode_base64(get("data"), event_id)
    return _message_event(envelope, meta, attributes, body, ordering_key), meta


def _message_event(
    envelope: Mapping[str, Any], meta: MessageMeta, attributes: Mapping[str, str], body: bytes, ordering_key: str | None
) -> CloudEvent[Any]:
    content_type = attributes.get(CONTENT_TYPE)
    if "ce-specversion" in attributes or (content_type or "").startswith("application/cloudevents"):
        return from_http(attributes, body)  # a binary- or structured-mode CloudEvent in the message
    if content_type:
        data = decode_data(content_type, body)
    else:  # none, or empty (no media type: read as every cloud reads an undeclared body)
        data, content_type = undeclared_data(body)
    if data.__class__ is dict and "specversion" in data:
        return _from_json_object(data)  # a CloudEvent in the JSON format
    return from_native(
        meta.message_id,
        envelope.get("source"),
        MESSAGE_TYPE,
        content_type if data is not None else None,
        _check_time(meta.published_time),
        {"partitionkey": ordering_key} if ordering_key else None,
        data,
    )


def _senders(attributes: Mapping[str, str]) -> Mapping[str, str]:
    """The attributes a sender set for the handler: `content-type` is the data's media type."""
    if CONTENT_TYPE not in attributes:
        return attributes
    senders = dict(attributes)
    del senders[CONTENT_TYPE]
    return senders


# -- Cloud Scheduler ticks --------------------------------------------------------------------------


def schedule_tick(event: CloudEvent[Any], trigger: Schedule, function: str) -> CloudEvent[Any]:
    """The tick a Cloud Scheduler message (`event`, time = its publish time) stands for, as every cloud
    gives it: time = when it was due, data `{"scheduled_time", "schedule", "name"}` from the function's
    declaration (`trigger`, a `Schedule`)."""
    due = due_time(trigger, event.timestamp) or event.time
    tick = {"scheduled_time": due, "schedule": trigger.expression, "name": function}
    return event.replace(time=due, datacontenttype="application/json", data=tick)


def due_time(trigger: Schedule, published: datetime | None) -> str | None:
    """The schedule's latest firing at or before `published` (RFC 3339, whole seconds), None when there is
    none within LATE_TICK minutes. Deploy's crons for a rate fire on multiples of it since midnight UTC."""
    if published is None:
        return None
    if trigger.every_s:
        whole = int(published.timestamp()) // trigger.every_s * trigger.every_s
        return _whole_seconds(datetime.fromtimestamp(whole, timezone.utc))
    cron = trigger.cron_expression()
    if cron is None:  # a Schedule is a rate or a cron: never reached
        return None
    minute = published.astimezone(timezone.utc).replace(second=0, microsecond=0)
    for _ in range(LATE_TICK + 1):
        if cron.matches(minute):
            return _whole_seconds(minute)
        if minute == _FIRST_MINUTE:
            break
        minute -= timedelta(minutes=1)
    return None


_FIRST_MINUTE = datetime.min.replace(tzinfo=timezone.utc)


def _whole_seconds(moment: datetime) -> str:
    """RFC 3339 UTC in whole seconds, its year in four digits (`strftime("%Y")` writes year 999 as "999")."""
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _attributes(value: Any, event_id: Any) -> Mapping[str, str]:
    """`message.attributes`: an object of string values (Pub/Sub's rule), else InvalidEventError."""
    if value is None:
        return _NO_ATTRIBUTES
    if value.__class__ is not dict and not isinstance(value, Mapping):
        raise InvalidEventError(
            f"Pub/Sub event {event_id!r}: message.attributes must be an object of strings, got {type(value).__name__}.",
            "data",
        )
    for name, text in value.items():
        if name.__class__ is not str or text.__class__ is not str:
            raise InvalidEventError(
                f"Pub/Sub event {event_id!r}: message.attributes must map strings to strings; attribute "
                f"{_short(name)} is {type(text).__name__ if name.__class__ is str else type(name).__name__}.",
                "data",
            )
    return value


def _text(value: Any, field: str, event_id: Any) -> str | None:
    """An optional string field of the envelope: None when absent or empty, else InvalidEventError."""
    if value is None or value.__class__ is str:
        return value or None
    raise InvalidEventError(
        f"Pub/Sub event {event_id!r}: {field} must be a string, got {type(value).__name__}.", "data"
    )


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
    if value.__class__ is not str:
        raise InvalidEventError(
            f"Pub/Sub event {event_id!r}: message.data must be a base64 string, got {type(value).__name__}.", "data"
        )
    try:
        if value.isascii():
            return _strict_b64(value)  # what b64decode(validate=True) checks, without its regex
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidEventError(f"Pub/Sub event {event_id!r}: message.data is not valid base64.", "data") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- binary-mode headers behind WSGI ----------------------------------------------------------------


def _encoded(attrs: Mapping[str, Any]) -> bool:
    """True when an attribute value may need header decoding (percent-encoded, or not ASCII)."""
    for value in attrs.values():  # noqa: SIM110 - a loop, not any(<generator>): 0.3 us less per event
        if value.__class__ is str and ("%" in value or not value.isascii()):
            return True
    return False


def header_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes read from `ce-*` headers, decoded: UTF-8 the WSGI server gave as latin-1 is re-read as
    UTF-8, then the binding's percent-encoding is undone (not `datacontenttype`, the Content-Type)."""
    return {
        name: header_value("ce-" + name, value) if value.__class__ is str and name != "datacontenttype" else value
        for name, value in attrs.items()
    }


def wsgi_headers(items: Any) -> dict[str, str]:
    """A WSGI request's headers with `ce-*` values re-read as UTF-8 (percent-decoding is `from_http`'s)."""
    return {name: utf8_header_value(value) if name[:3].lower() == "ce-" else value for name, value in items}


def header_value(name: str, value: str) -> str:
    """One `ce-*` header value as the event attribute it encodes."""
    value = utf8_header_value(value)
    if "%" not in value:
        return value
    try:
        return decode_header_value(value)
    except UnicodeDecodeError:
        raise InvalidEventError(f"Header '{name}' is not valid percent-encoded UTF-8.", name[3:]) from None

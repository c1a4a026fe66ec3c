"""`azure.functions` trigger objects -> CloudEvents. Ships in the package zip: standard library only.

The objects are read by their attributes (the `azure.functions` module itself is never imported here).
Event Grid is followed exactly as Azure converts it; the other sources use this project's own mapping:

| native object                      | type                                          | source (1)             | id          |
|------------------------------------|-----------------------------------------------|------------------------|-------------|
| EventGridEvent (Event Grid schema) | eventType                                     | topic                  | id          |
| CloudEvent (CloudEvents schema)    | passes through: every attribute and extension as received                               |
| QueueMessage (Storage Queue)       | `com.microsoft.azure.storage.queue.message`   | the queue's URL        | id          |
| ServiceBusMessage                  | `com.microsoft.azure.servicebus.message`      | `sb://<ns>/<entity>`   | message_id  |
| InputStream (blob, Event Grid src) | `Microsoft.Storage.BlobCreated`               | blob service endpoint  | ETag (2)    |
| TimerRequest                       | `com.microsoft.azure.functions.timer`         | `/sites/<app>/functions/<name>` | name + due time |

| native object      | time                        | subject                                     | data                        |
|--------------------|-----------------------------|---------------------------------------------|-----------------------------|
| EventGridEvent     | eventTime (3)               | subject                                     | data, as is                 |
| QueueMessage       | insertion_time (3)          | -                                           | the body, read as its       |
| ServiceBusMessage  | enqueued_time_utc (3)       | subject (label)                             | media type says (4)         |
| InputStream        | LastModified of the blob    | `/blobServices/default/containers/<c>/blobs/<path>`, as Event Grid | Event Grid's blob data (5) |
| TimerRequest       | when it was due (6)         | -                                           | `{"scheduled_time", "schedule", "name", "past_due"}` |

(1) The queue's URL and the Service Bus namespace come from the binding's connection setting
    (`<conn>__queueServiceUri`, `<conn>__serviceUri`, `<conn>__fullyQualifiedNamespace`, or the
    connection string's `QueueEndpoint` / `AccountName` + `EndpointSuffix` / `Endpoint`); without one,
    `/queues/<name>` or `/servicebus/<entity>`.
(2) The blob trigger hands over no event id; the ETag names the blob version, which is what an event id
    must deduplicate. The URI when there is no ETag. A blob event Event Grid delivers to a storage function
    (`blob_event_to_cloudevent`) is identified alike, so the same upload has the same id and source
    whichever trigger delivers it: the blob service endpoint, and for BlobCreated the ETag.
(3) The `azure.functions` library parses times into `datetime` before the shim sees them; they are written
    back in RFC 3339, UTC, with the fraction of a second the moment has and no trailing zeros
    (`2026-05-01T10:00:00.123Z`, `2026-05-01T10:00:00Z`): the time as the sender wrote it in that common
    form, and as the other clouds and the dev host give it. A 7th fractional digit is already gone.
    `event_grid_to_cloudevent` given the JSON dict (no worker hands one over) follows Event Grid's own
    conversion, which pads `2021-08-16T02:58:18.503829Z` to `2021-08-16T02:58:18.5038290Z`.
(4) A Service Bus `content_type` declares the media type (`decode_data`); a body whose sender declared
    none (every Storage Queue message: the queue carries no attributes) is read as on every cloud and the
    dev host (`undeclared_data`): JSON, else UTF-8 text without control characters, else the bytes.
(5) `url`, `contentType`, `contentLength`, `eTag`, `blobType` from the blob's properties, and `api`: null
    (the blob trigger does not say which API wrote the blob), so `CloudEvent[StorageObject]` reads it.

(6) The schedule status's `Next` (the host moves it on after the invocation), to the second; without a
    status (schedule monitoring off) the current minute.
Carried CloudEvents win: a queue or Service Bus body, or Event Grid event data, holding a CloudEvent in
the JSON format, or Service Bus application properties `cloudEvents:specversion`, `cloudEvents:id`, ...
(the CloudEvents AMQP binding; `cloudEvents_` accepted too: binary mode, the body is the data), deliver
exactly that CloudEvent.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from datetime import time as time_of_day
from functools import lru_cache
from typing import Any

from portable_fn.runtime.cloudevent import (
    SPECVERSION,
    CloudEvent,
    checked,
    from_attributes,
    from_native,
    parse_json,
    parse_rfc3339,
)
from portable_fn.runtime.http_binding import JSON, decode_data, undeclared_data
from portable_fn.runtime.views import MessageMeta

QUEUE_TYPE = "com.microsoft.azure.storage.queue.message"
SERVICE_BUS_TYPE = "com.microsoft.azure.servicebus.message"
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
TIMER_TYPE = "com.microsoft.azure.functions.timer"
AMQP_PREFIXES = ("cloudEvents:", "cloudEvents_")
_FRACTION = re.compile(r"(\.\d+)?(?=[Zz]$|[+-]\d\d:\d\d$)")
_UTC = timezone.utc
# Called positionally: the keyword forms parse their arguments far more slowly. A naive date and time
# format in half the time of the aware datetime (no offset to ask the tzinfo for).
_date_iso, _time_iso = date.isoformat, time_of_day.isoformat


# -- Event Grid ------------------------------------------------------------------------------------


def event_grid_to_cloudevent(native: Any) -> CloudEvent[Any]:
    """An Event Grid event: the JSON dict or the library's EventGridEvent / CloudEvent object."""
    read = _READERS.get(native.__class__)
    if read is None:  # the first event of its class: which of the three shapes it is
        read = _READERS[native.__class__] = _reader_of(native)
    return read(native)


def _reader_of(native: Any) -> Callable[[Any], CloudEvent[Any]]:
    if isinstance(native, Mapping):
        return _json_event
    fields = getattr(native, "__dict__", None) or {}
    if hasattr(native, "specversion"):  # azure.functions CloudEvent: the CloudEvents schema
        return _cloudevent_fields if fields.keys() >= _CLOUDEVENT_FIELDS else _library_cloudevent
    return _event_grid_fields if fields.keys() >= _EVENT_GRID_FIELDS else _library_event_grid_event


# The library's EventGridEvent and CloudEvent keep what their properties return in name-mangled instance
# attributes. Read from `__dict__`, an event costs no property call per attribute (~0.4 µs per event, more
# in a worker whose caches the decoding just cooled). Chosen per class, when its first event has them all;
# anything else is read through the properties.
_EVENT_GRID_FIELDS = {
    f"_EventGridEvent__{name}" for name in ("id", "topic", "event_type", "subject", "event_time", "data")
}
_CLOUDEVENT_FIELDS = {
    f"_CloudEvent__{name}"
    for name in (
        "id",
        "source",
        "type",
        "specversion",
        "datacontenttype",
        "dataschema",
        "subject",
        "time",
        "extensions",
        "data",
    )
}


def _json_event(native: Mapping[str, Any]) -> CloudEvent[Any]:
    if "specversion" in native:
        return CloudEvent.from_dict(native)
    return _event_grid_schema(
        native["id"],
        native["topic"],
        native["eventType"],
        native.get("subject"),
        net_time(native.get("eventTime")),
        native.get("data"),
    )


def _library_event_grid_event(native: Any) -> CloudEvent[Any]:
    return _grid_event(native.id, native.topic, native.event_type, native.subject, native.event_time, native.get_json())


def _event_grid_fields(native: Any) -> CloudEvent[Any]:
    f = native.__dict__
    return _grid_event(
        f["_EventGridEvent__id"],
        f["_EventGridEvent__topic"],
        f["_EventGridEvent__event_type"],
        f["_EventGridEvent__subject"],
        f["_EventGridEvent__event_time"],
        f["_EventGridEvent__data"],
    )


def _grid_event(id: Any, topic: Any, kind: Any, subject: Any, moment: Any, data: Any) -> CloudEvent[Any]:
    if data.__class__ is not dict or "specversion" in data:  # _carried_in's own first check, inlined
        carried = _carried_in(data)
        if carried is not None:
            return carried
    subject = subject or None
    if kind and kind.__class__ is str and (subject is None or subject.__class__ is str):  # what from_native trusts
        return from_native(id, topic, kind, None, _time_of(moment), None, data, subject)
    return checked(id, topic, kind, SPECVERSION, None, None, subject, rfc3339(moment), None, data)


def _event_grid_schema(
    id: str, topic: str, event_type: str, subject: str | None, time: str | None, data: Any
) -> CloudEvent[Any]:
    carried = _carried_in(data)
    if carried is not None:
        return carried
    return checked(id, topic, event_type, SPECVERSION, None, None, subject or None, time, None, data)


def _library_cloudevent(native: Any) -> CloudEvent[Any]:
    return _cloud_event(
        native.id,
        native.source,
        native.type,
        native.specversion,
        native.datacontenttype,
        native.dataschema,
        native.subject,
        native.time,
        native.extension_attrs,
        native.get_json(),
    )


def _cloudevent_fields(native: Any) -> CloudEvent[Any]:
    f = native.__dict__
    return _cloud_event(
        f["_CloudEvent__id"],
        f["_CloudEvent__source"],
        f["_CloudEvent__type"],
        f["_CloudEvent__specversion"],
        f["_CloudEvent__datacontenttype"],
        f["_CloudEvent__dataschema"],
        f["_CloudEvent__subject"],
        f["_CloudEvent__time"],
        f["_CloudEvent__extensions"],
        f["_CloudEvent__data"],
    )


def _cloud_event(
    id: Any,
    source: Any,
    kind: Any,
    specversion: Any,
    media: Any,
    schema: Any,
    subject: Any,
    moment: Any,
    extensions: Any,
    data: Any,
) -> CloudEvent[Any]:
    """The extensions are copied: the event may outlive the library's object, which keeps its own."""
    if (
        specversion == SPECVERSION
        and schema is None
        and kind
        and kind.__class__ is str
        and (media is None or (media and media.__class__ is str))
        and (subject is None or (subject and subject.__class__ is str))
    ):  # what from_native trusts
        return from_native(
            id, source, kind, media, _time_of(moment), dict(extensions) if extensions else None, data, subject
        )
    return checked(
        id,
        source,
        kind,
        specversion,
        media,
        schema,
        subject,
        rfc3339(moment),
        dict(extensions) if extensions else None,
        data,
    )


_READERS: dict[type, Callable[[Any], CloudEvent[Any]]] = {}  # class of the native event -> its reader


def net_time(value: str | None) -> str | None:
    """An RFC 3339 time with 7 fractional digits, as Event Grid renders times in the CloudEvents schema (the
    JSON dict path only, see (3))."""
    if not value:
        return None
    return _FRACTION.sub(lambda m: ((m.group(1) or ".") + "0000000")[:8], value, count=1)


def rfc3339(moment: datetime | None) -> str | None:
    """A datetime as RFC 3339 in UTC with the fraction of a second it has, trailing zeros dropped (see (3));
    a naive one is UTC, as the library gives Azure's UTC times."""
    if moment is None:
        return None
    if moment.tzinfo is not _UTC:  # the library gives UTC
        try:
            moment = moment.astimezone(_UTC) if moment.tzinfo is not None else moment.replace(tzinfo=_UTC)
        except OverflowError:  # before UTC's first moment or after its last (year 1 at +14:00): no time
            return None
    second = (moment.toordinal(), moment.hour, moment.minute, moment.second)
    prefix = _SECONDS.get(second)
    if prefix is None:
        if len(_SECONDS) >= 1024:
            _SECONDS.clear()
        prefix = _SECONDS[second] = f"{_date_iso(moment.date())}T{_time_iso(moment.time(), 'seconds')}"
    micro = moment.microsecond
    return f"{prefix}.{micro:06d}".rstrip("0") + "Z" if micro else prefix + "Z"


def _time_of(moment: datetime | None) -> Any:
    """`time` for from_native: a library datetime is formatted only when the handler reads `event.time`."""
    return (_format, moment) if moment.__class__ is datetime else rfc3339(moment)


_format: Callable[[datetime], str] = rfc3339  # type: ignore[assignment]  # never None for a datetime


# Whole seconds (day since year 1, hour, minute, second) -> "YYYY-MM-DDTHH:MM:SS": the events of one busy
# second share it, and formatting an aware datetime costs three times what reading its fields does.
_SECONDS: dict[tuple[int, int, int, int], str] = {}


# -- Storage Queue and Service Bus -----------------------------------------------------------------


def queue_message_to_cloudevent(message: Any, source: str) -> CloudEvent[Any]:
    """A Storage Queue message: what it carries, else the project's mapping."""
    data, content_type = undeclared_data(message.get_body())  # a Storage Queue message carries no media type
    if content_type == JSON and (data.__class__ is not dict or "specversion" in data):  # _carried_in's check
        carried = _carried_in(data)
        if carried is not None:
            return carried
    return from_native(message.id, source, QUEUE_TYPE, content_type, _time_of(message.insertion_time), None, data)


def queue_message_meta(message: Any) -> MessageMeta:
    """Message id, dequeue count (the attempt) and insertion time of a Storage Queue message; what cannot be
    read is left out (the count is then 1)."""
    read = _attribute(message)
    return MessageMeta(_text(read("id")), _count(read("dequeue_count")), None, _moment(read("insertion_time")))


def service_bus_to_cloudevent(message: Any, source: str) -> CloudEvent[Any]:
    """A Service Bus message: a CloudEvent in binary or structured mode, else the project's mapping."""
    body, content_type, properties = message.get_body(), message.content_type, message.application_properties
    if properties and isinstance(properties, Mapping):
        binary = {k[12:]: v for k, v in properties.items() if k.__class__ is str and k.startswith(AMQP_PREFIXES)}
        if "specversion" in binary:
            if content_type:
                binary.setdefault("datacontenttype", content_type)
            return from_attributes(binary, decode_data(binary.get("datacontenttype"), body))
    if not content_type:  # the sender declared no media type
        data, content_type = undeclared_data(body)
    elif content_type == JSON or _names_json(content_type):
        try:
            data = parse_json(body)
        except ValueError:  # UnicodeDecodeError too
            data = decode_data(content_type, body)  # raises, saying why (an empty body: no data)
    else:
        data = decode_data(content_type, body)
    if data.__class__ is dict and "specversion" in data:  # _carried_in's own first check, inlined
        carried = _carried_in(data)
        if carried is not None:
            return carried
    subject, partition = message.subject or message.label or None, message.partition_key
    moment, extensions = message.enqueued_time_utc, {"partitionkey": partition} if partition else None
    if content_type.__class__ is str and (subject is None or subject.__class__ is str):  # what from_native
        return from_native(
            message.message_id,
            source,
            SERVICE_BUS_TYPE,
            content_type,  # trusts is good here
            (_format, moment) if moment.__class__ is datetime else rfc3339(moment),  # _time_of
            extensions,
            data,
            subject,
        )
    return checked(
        message.message_id,
        source,
        SERVICE_BUS_TYPE,
        SPECVERSION,
        content_type,
        None,
        subject,
        rfc3339(moment),
        extensions,
        data,
    )


def service_bus_meta(message: Any) -> MessageMeta:
    """Message id, delivery count, application properties and enqueue time of a Service Bus message; what
    cannot be read is left out (the count is then 1)."""
    read = _attribute(message)
    properties = read("application_properties")
    attributes = None
    if isinstance(properties, Mapping):
        texts = ((_property_text(k), _property_text(v)) for k, v in properties.items())
        attributes = {k: v for k, v in texts if k is not None and v is not None}
    return MessageMeta(
        _text(read("message_id")), _count(read("delivery_count")), attributes, _moment(read("enqueued_time_utc"))
    )


def _property_text(value: Any) -> str | None:
    """An AMQP application property as text, as SQS, SNS and Pub/Sub give message attributes: text as it is,
    bytes as UTF-8 (else base64), a boolean as `true` / `false`, a time in RFC 3339, a number as its digits;
    None (left out) for a null or what has no text (an integer past 4,300 digits). `str()` gave Python's
    reprs (`b'k'`, `None`, `True`)."""
    if value.__class__ is str:
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    if isinstance(value, datetime):
        return rfc3339(value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc))
    try:
        return str(value)
    except ValueError:
        return None


def _attribute(native: Any) -> Callable[[str], Any]:
    """A reader of `native`'s attributes giving None for any it lacks."""
    return lambda name: getattr(native, name, None)


def _text(value: Any) -> str | None:
    return value if value.__class__ is str and value else None


def _count(value: Any) -> int:
    """A delivery count: a positive integer, else 1 (the first attempt)."""
    return value if value.__class__ is int and value > 0 else 1


def _moment(value: Any) -> str | None:
    return rfc3339(value) if isinstance(value, datetime) else None


@lru_cache(maxsize=64)
def _names_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().endswith(("json", "/cloudevents+json"))


def _carried_in(data: Any) -> CloudEvent[Any] | None:
    if data.__class__ is dict:  # the common case, without the Mapping isinstance check
        if "specversion" not in data:
            return None
    elif not isinstance(data, Mapping):
        return None
    if "specversion" in data:  # a CloudEvent, or a broken one: refused as on AWS and GCP, not handed on as data
        return CloudEvent.from_dict(data)
    return None


def body_text(body: bytes) -> str | bytes:
    """The body as text when it is UTF-8, else the bytes."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def queue_source(connection: str, queue: str) -> str:
    """The queue's URL from the connection setting (see (1)), else `/queues/<queue>`."""
    env = os.environ
    base = env.get(f"{connection}__queueServiceUri") or env.get(f"{connection}__serviceUri")
    if not base and env.get(f"{connection}__accountName"):
        base = f"https://{env[f'{connection}__accountName']}.queue.core.windows.net"
    if not base:
        parts = _connection_string(env.get(connection, ""))
        base = parts.get("QueueEndpoint") or (
            f"https://{parts['AccountName']}.queue.{parts.get('EndpointSuffix', 'core.windows.net')}"
            if "AccountName" in parts
            else ""
        )
    return f"{base.rstrip('/')}/{queue}" if base else f"/queues/{queue}"


def service_bus_source(connection: str, entity: str) -> str:
    """`sb://<namespace>/<entity>` from the connection setting (see (1)), else `/servicebus/<entity>`."""
    env = os.environ
    namespace = env.get(f"{connection}__fullyQualifiedNamespace")
    if not namespace:
        endpoint = _connection_string(env.get(connection, "")).get("Endpoint", "")
        namespace = endpoint.split("://", 1)[-1].strip("/")
    return f"sb://{namespace}/{entity}" if namespace else f"/servicebus/{entity}"


def _connection_string(value: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in value.split(";") if "=" in part)


# -- Blob (Event Grid source) and timer ------------------------------------------------------------


def blob_to_cloudevent(stream: Any) -> CloudEvent[Any]:
    """A blob trigger's InputStream as the BlobCreated event Event Grid sent the host (see (2), (5))."""
    properties = stream.blob_properties or {}
    uri, name = stream.uri or "", stream.name or ""
    container, _, path = name.partition("/")
    etag = properties.get("ETag") or properties.get("Etag")
    etag = str(etag).strip('"') if etag else None  # the host writes the HTTP ETag, quoted; Event Grid does not
    data = {
        "api": None,
        "url": uri,
        "contentType": properties.get("ContentType"),
        "contentLength": stream.length,
        "eTag": etag,
        "blobType": properties.get("BlobType"),
    }
    return CloudEvent(
        id=etag or uri,
        source=_service_endpoint(uri, name),
        type=BLOB_CREATED,
        subject=f"/blobServices/default/containers/{container}/blobs/{path}",
        time=_blob_time(properties.get("LastModified")),
        datacontenttype=JSON,
        data={k: v for k, v in data.items() if v is not None or k == "api"},
    )


def blob_event_to_cloudevent(native: Any) -> CloudEvent[Any]:
    """A blob event Event Grid delivers to a storage function, identified as the blob trigger identifies the
    same upload: the blob service endpoint as the source, a created blob's ETag as the id (2), JSON data."""
    event = event_grid_to_cloudevent(native)
    data, subject = event.data, event.subject
    if data.__class__ is not dict or not isinstance(subject, str) or not isinstance(data.get("url"), str):
        return event  # not a blob event: as Event Grid sent it
    container, _, path = subject.partition("/containers/")[2].partition("/blobs/")
    etag = data.get("eTag")
    return CloudEvent(
        id=etag if event.type == BLOB_CREATED and isinstance(etag, str) and etag else event.id,
        source=_service_endpoint(data["url"], f"{container}/{path}"),
        type=event.type,
        subject=subject,
        time=event.time,
        datacontenttype=event.datacontenttype or JSON,
        data=data,
    )


def _service_endpoint(uri: str, name: str) -> str:
    from urllib.parse import unquote

    plain = unquote(uri)
    return plain[: -len(name) - 1] if name and plain.endswith("/" + name) else uri.rsplit("/", 1)[0]


def _blob_time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return rfc3339(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return rfc3339(parse_rfc3339(value))  # any number of fraction digits, on Python 3.10 too
    except ValueError:
        return None


def timer_to_cloudevent(timer: Any, function_name: str, expression: str, now: datetime) -> CloudEvent[Any]:
    """A timer firing, named by when it was due, so that a retried firing keeps its id."""
    due = rfc3339(_due(timer, now).replace(microsecond=0))  # four-digit years ("%Y" writes 999 as "999")
    site = os.environ.get("WEBSITE_SITE_NAME", "local")
    return CloudEvent(
        id=f"{function_name}:{due}",
        source=f"/sites/{site}/functions/{function_name}",
        type=TIMER_TYPE,
        time=due,
        datacontenttype=JSON,
        data={
            "scheduled_time": due,
            "schedule": expression,
            "name": function_name,
            "past_due": bool(getattr(timer, "past_due", False)),
        },
    )


def _due(timer: Any, now: datetime) -> datetime:
    """When the firing was due: the schedule status's `Next`, which the host advances only after the
    invocation (so it names the occurrence being fired, a missed one too); without a status (schedule
    monitoring off) the current minute."""
    status = getattr(timer, "schedule_status", None)
    due = status.get("Next") if isinstance(status, Mapping) else None
    if isinstance(due, str):
        try:  # .NET writes up to 7 fractional digits; fromisoformat takes 6
            moment = datetime.fromisoformat(_SEVENTH_DIGIT.sub("", due.replace("Z", "+00:00"), count=1))
            return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)
        except (ValueError, OverflowError):  # not a time, or one UTC cannot hold (year 1 at +01:00)
            pass
    return now.astimezone(_UTC).replace(second=0, microsecond=0)


_SEVENTH_DIGIT = re.compile(r"(?<=\.\d{6})\d+")

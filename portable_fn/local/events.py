"""The local provider's native -> CloudEvent mapping: what `portable-fn dev` delivers to handlers.

Queue and topic messages (`POST /_local/queues/{name}`, `POST /_local/topics/{name}`):

- a message that already is a CloudEvent (binary `ce-*` headers, structured
  `application/cloudevents+json`, or a batch `application/cloudevents-batch+json`) is delivered
  exactly as sent: same id, source, type, time, extensions and data;
- any other body becomes one event:

  ============== =================================================================
  id             a new UUID4
  source         `//local/queues/{name}` or `//local/topics/{name}`
  type           `dev.portablefn.queue.message` or `dev.portablefn.topic.message`
  time           when the message was received, RFC 3339 UTC with `Z`
  datacontenttype the request's Content-Type, or what an undeclared body was read as
  data           JSON-decoded for a JSON media type (invalid JSON is refused),
                 text for `text/*` or a charset, bytes otherwise; a body with no
                 Content-Type is read as every cloud reads an unlabelled message
                 (`undeclared_data`: JSON, else UTF-8 text, else bytes)
  ============== =================================================================

`application/x-www-form-urlencoded` counts as no Content-Type: it is what `curl -d` and urllib label any
body with, so a message typed at a terminal arrives as the clouds would deliver it.

Storage (a file appearing in, changing in, or leaving `<state_dir>/buckets/{bucket}/`):
type `dev.portablefn.storage.object.created` / `.deleted`, source `//local/buckets/{bucket}`,
subject = the key (POSIX path relative to the bucket folder), datacontenttype `application/json`,
data `{"bucket", "key", "size", "etag" (MD5 hex), "content_type" (guessed from the name)}`; a deleted
object reports its last known size and etag. `StorageObject.from_cloudevent` reads this shape.

Schedules: type `dev.portablefn.schedule.tick`, source `//local/schedules/{function}`, time = the
scheduled time, data `{"scheduled_time", "schedule" (the expression), "name" (the function)}`, which
`ScheduleTick.from_cloudevent` reads.
"""

from __future__ import annotations

import json
import mimetypes
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..runtime.cloudevent import CloudEvent
from ..runtime.errors import InvalidEventError
from ..runtime.http_binding import decode_data, from_http_batch, mode, undeclared_data

# channel kind -> (source path segment, event type)
MESSAGE_KINDS = {
    "queue": ("queues", "dev.portablefn.queue.message"),
    "topic": ("topics", "dev.portablefn.topic.message"),
}
# storage change -> event type
STORAGE_TYPES = {
    "created": "dev.portablefn.storage.object.created",
    "deleted": "dev.portablefn.storage.object.deleted",
}
SCHEDULE_TYPE = "dev.portablefn.schedule.tick"
DEFAULT_CONTENT_TYPE = "application/json"
FORM = "application/x-www-form-urlencoded"  # curl -d's label for any body: read as undeclared


def message_events(
    kind: str,
    name: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    id: str | None = None,
    time: datetime | None = None,
) -> list[CloudEvent[Any]]:
    """The events one POSTed message carries; raises InvalidEventError for a body we cannot read."""
    pairs = headers.multi_items() if hasattr(headers, "multi_items") else headers.items()
    names = [name.lower() for name, _ in pairs]
    twice = sorted({name for name in names if name.startswith("ce-") and names.count(name) > 1})
    if twice:  # one of the values would have been kept, silently
        raise InvalidEventError(
            f"The message has the header {twice[0]} more than once; a CloudEvent attribute has one value."
        )
    lower = {k.lower(): v for k, v in headers.items()}
    if mode(lower) is not None:
        return _storable([_strings_checked(event) for event in from_http_batch(lower, body)])
    stray = sorted(name for name in lower if name.startswith("ce-"))
    if stray:
        raise InvalidEventError(
            f"The message has CloudEvent headers ({', '.join(stray[:5])}) but no ce-specversion, so it is not a "
            "CloudEvent and they would be dropped. Add 'ce-specversion: 1.0' (binary mode), or send no ce-* headers."
        )
    folder, event_type = MESSAGE_KINDS[kind]
    if not body:
        raise InvalidEventError(
            f"The {kind} message is empty: SQS, Pub/Sub and Azure's queues refuse a message with no body. Send "
            "the message as the request body (or a CloudEvent in binary mode, whose ce-* headers carry it)."
        )
    declared = lower.get("content-type")
    if declared is not None and not _MEDIA_TYPE.match(declared):
        raise InvalidEventError(
            f"Content-Type {declared[:60]!r} is not a media type; send one such as 'application/json' or "
            "'text/plain; charset=utf-8', or none."
        )
    content_type: str | None
    if declared and declared.split(";")[0].strip().lower() != FORM:
        data, content_type = decode_data(declared, body), declared
    else:
        data, content_type = undeclared_data(body)
    event: CloudEvent[Any] = CloudEvent(
        id=id or new_id(),
        source=f"//local/{folder}/{name}",
        type=event_type,
        time=rfc3339(time or now()),
        datacontenttype=content_type,
        data=data,
    )
    return _storable([_strings_checked(event)])


def _storable(events: list[CloudEvent[Any]]) -> list[CloudEvent[Any]]:
    """`events`, when each is a JSON document the host can write down and hand out again; else
    InvalidEventError. Python's JSON reader takes more than JSON: `NaN`, `Infinity` and numbers past
    1.8e308 (read as infinite), which no JSON reader takes back (the dead-letter list showed them bare), and
    an escaped half of a UTF-16 surrogate pair (`"\\ud800"`), a string no UTF-8 can hold (the host could not
    write the message down: it answered 500 and kept nothing)."""
    for event in events:
        try:
            _STRICT_JSON.encode(event.to_dict()).encode("utf-8")
        except UnicodeEncodeError as exc:
            half = exc.object[exc.start : exc.end].encode("unicode_escape").decode("ascii")
            raise InvalidEventError(
                f"The message holds {half}, half of a UTF-16 surrogate pair, which is not a Unicode character. "
                "Escape both halves of the pair (\\ud83d\\ude00) or send the character itself in UTF-8."
            ) from None
        except ValueError:  # allow_nan=False (UnicodeEncodeError is a ValueError too)
            raise InvalidEventError(
                "The message holds a number JSON cannot hold: NaN, Infinity or a number past 1.8e308. "
                "Send the number as a string, or leave it out."
            ) from None
    return events


_STRICT_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def _strings_checked(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """`event` a client sent as a CloudEvent, when its attributes are the CloudEvents 1.0 types: a String holds
    no control character (U+0000-U+001F, U+007F-U+009F) and an Integer is 32-bit; else InvalidEventError.
    A plain message is checked too: its Content-Type becomes the event's datacontenttype. (Events the host
    makes from a cloud's own message, an S3 key say, are not checked: the cloud allows them.)"""
    attributes = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "datacontenttype": event.datacontenttype,
        "dataschema": event.dataschema,
        **event.extensions,
    }
    for name, value in attributes.items():
        if isinstance(value, str) and (found := _CONTROL.search(value)):
            raise InvalidEventError(
                f"CloudEvent attribute '{name}' holds the control character {found[0]!r}, which a CloudEvents "
                "String may not (U+0000-U+001F, U+007F-U+009F); send it without.",
                name,
            )
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
            raise InvalidEventError(
                f"CloudEvent extension '{name}' is {value}, past a CloudEvents Integer (-2,147,483,648 to "
                "2,147,483,647); send it as a string.",
                name,
            )
    return event


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# type/subtype (RFC 9110 tokens), then parameters, which hold no control character but a tab
_MEDIA_TYPE = re.compile(
    r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\Z"
)


def storage_event(
    change: str,
    bucket: str,
    key: str,
    size: int | None,
    etag: str | None,
    *,
    id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[Any]:
    """A local bucket change as a CloudEvent."""
    data = {"bucket": bucket, "key": key, "size": size, "etag": etag, "content_type": mimetypes.guess_type(key)[0]}
    return CloudEvent(
        id=id or new_id(),
        source=f"//local/buckets/{bucket}",
        type=STORAGE_TYPES[change],
        subject=key,
        time=rfc3339(time or now()),
        datacontenttype=DEFAULT_CONTENT_TYPE,
        data=data,
    )


def schedule_event(
    function_name: str, expression: str, scheduled: datetime, *, id: str | None = None
) -> CloudEvent[Any]:
    """One firing of a schedule as a CloudEvent."""
    when = rfc3339(scheduled)
    return CloudEvent(
        id=id or new_id(),
        source=f"//local/schedules/{function_name}",
        type=SCHEDULE_TYPE,
        time=when,
        datacontenttype=DEFAULT_CONTENT_TYPE,
        data={"scheduled_time": when, "schedule": expression, "name": function_name},
    )


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime) -> str:
    """UTC with a `Z`; milliseconds only when the moment has a fraction of a second."""
    utc = moment.astimezone(timezone.utc)
    spec = "seconds" if utc.microsecond == 0 else "milliseconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")

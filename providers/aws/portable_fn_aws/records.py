"""Native Lambda event records -> CloudEvents. Ships in the zip: standard library only.

Where CloudEvents publishes an adapter (AWS S3, AWS SNS) its attributes are followed, except where the
portability contract (tests/portability) needs what every cloud gives: an S3 subject is the decoded key, an
SNS event's data is the message itself (the adapter keeps the whole SNS message JSON). The other sources
use this project's own mapping, fixed here:

| source                       | type                                 | source                    | id                 |
|------------------------------|--------------------------------------|---------------------------|--------------------|
| S3 (adapter aws-s3.md)       | `com.amazonaws.s3.` + eventName      | eventSource.awsRegion.    | x-amz-request-id.  |
|                              |                                      | bucket name               | x-amz-id-2         |
| SNS (adapter aws-sns.md)     | `com.amazonaws.sns.` + Type          | subscription ARN (1)      | MessageId          |
| SQS                          | `com.amazonaws.sqs.message`          | eventSourceARN            | messageId          |
| EventBridge (4)              | detail-type                          | source                    | id                 |
| DynamoDB Streams             | `com.amazonaws.dynamodb.` + eventName| eventSourceARN            | eventID            |
| Kinesis                      | `com.amazonaws.kinesis.record`       | eventSourceARN            | eventID            |

| source      | time                                 | subject           | data                                        |
|-------------|--------------------------------------|-------------------|---------------------------------------------|
| S3          | eventTime                            | object key,       | the record (application/json)               |
|             |                                      | URL-decoded       |                                             |
| SNS         | Timestamp                            | Subject           | Message, as its media type says (3)         |
| SQS         | attributes.SentTimestamp (2)         | -                 | body, as its media type says (3)            |
| EventBridge | time                                 | (5)               | detail (application/json)                   |
| DynamoDB    | dynamodb.ApproximateCreationDateTime | -                 | the record (application/json)               |
|             | (2)                                  |                   |                                             |
| Kinesis     | approximateArrivalTimestamp (2)      | -                 | data base64-decoded, JSON-decoded when it   |
|             |                                      |                   | parses, else bytes (3)                      |

(1) `EventSubscriptionArn` on Lambda; inside SQS (SNS->SQS) the `SubscriptionArn` of the
    `UnsubscribeURL`, else the `TopicArn`.
(2) epoch numbers become RFC 3339 UTC with milliseconds: `2018-12-17T21:37:29.183Z`.
(3) a `content-type` message attribute declares the media type (`decode_data`: JSON parsed, text a str,
    the rest bytes) and is the `datacontenttype`; without one the body is read as on every cloud
    (`undeclared_data`: JSON, else text without control characters, else bytes; empty: no data).
    Kinesis data is JSON-decoded when it parses, else bytes (no `datacontenttype`). SQS FIFO
    `MessageGroupId` and Kinesis `partitionKey` go to the `partitionkey` extension (the CloudEvents
    partitioning extension). The `content-type` attribute is not among `ctx.message.attributes`.
(4) the mapping EventBridge documents for sending CloudEvents to API destinations.
(5) the object key for `aws.s3`; the rule or schedule name (last ARN segment of `resources[0]`) for
    `aws.events` / `aws.scheduler`. A schedule function's tick gets its data from its declaration
    (`scheduled_tick`).

Carried CloudEvents win: an SQS body, SNS `Message`, Kinesis data or EventBridge detail holding a
CloudEvent in the JSON format, or SQS / SNS message attributes named `ce-specversion`, `ce-id`, ...
(binary mode: the body is the data, a `content-type` or `ce-datacontenttype` attribute its media type),
deliver exactly that CloudEvent.

Envelopes are unwrapped: an SQS body or SNS `Message` holding an SNS notification (SNS->SQS without raw
delivery) or a one-record S3 notification (S3->SQS, S3->SNS) becomes the CloudEvent of what it wraps.

A converter raises for a record it cannot read (InvalidEventError naming the field of the wrong type, or
the error of the read that failed); the batch item identifiers below are read defensively, since they are
read for exactly those records.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote_plus, urlsplit

from portable_fn.runtime.cloudevent import CloudEvent, from_attributes, from_native, parse_json, uri_reference
from portable_fn.runtime.errors import InvalidEventError
from portable_fn.runtime.http_binding import decode_data, undeclared_data
from portable_fn.runtime.views import MessageMeta

Record = Mapping[str, Any]
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
SQS_TYPE = "com.amazonaws.sqs.message"
KINESIS_TYPE = "com.amazonaws.kinesis.record"
_NOT_JSON: Any = object()
_NO_ATTRIBUTES: Mapping[str, Any] = {}


class RecordSource(NamedTuple):
    """How the records of one native source become CloudEvents, and how a failed one is reported."""

    name: str
    to_cloudevent: Callable[[Record], CloudEvent[Any]]
    message_meta: Callable[[Record], MessageMeta | None]
    item_id: Callable[[Record], str] | None  # batchItemFailures identifier; None: Lambda retries whole
    ordered: Callable[[Record], bool]  # True: stop at the first failure (FIFO queues, streams)


# -- S3 and SNS: the official CloudEvents adapters ------------------------------------------------


def s3_to_cloudevent(record: Record) -> CloudEvent[Any]:
    """An S3 notification record, per the CloudEvents AWS S3 adapter."""
    try:
        return _s3_event(record)
    except (KeyError, TypeError) as exc:
        raise _missing_field("S3", exc) from None


def _s3_event(record: Record) -> CloudEvent[Any]:
    s3 = _object(record, "s3", "S3")
    response = _object(record, "responseElements", "S3")
    return CloudEvent(
        id=f"{response['x-amz-request-id']}.{response['x-amz-id-2']}",
        source=f"{record['eventSource']}.{record['awsRegion']}.{s3['bucket']['name']}",
        type="com.amazonaws.s3." + record["eventName"],
        datacontenttype=JSON,
        subject=unquote_plus(s3["object"]["key"]),
        time=record["eventTime"],
        data=dict(record),
    )


def sns_to_cloudevent(record: Record) -> CloudEvent[Any]:
    """An SNS record as Lambda receives it, per the CloudEvents AWS SNS adapter."""
    message = _object(record, "Sns", "SNS")
    return sns_message_to_cloudevent(message, record.get("EventSubscriptionArn") or message["TopicArn"])


def sns_message_to_cloudevent(message: Record, subscription_arn: str) -> CloudEvent[Any]:
    """An SNS message JSON (the adapter's "HTTP payload"), unless it carries a CloudEvent or an envelope."""
    try:
        return _sns_event(message, subscription_arn)
    except (KeyError, TypeError) as exc:
        raise _missing_field("SNS", exc) from None


def _missing_field(source: str, exc: KeyError | TypeError) -> InvalidEventError:
    """A field the record lacks, or one that is no object where the adapter reads inside it, as the
    InvalidEventError that fails this record alone, naming the field (not a bare KeyError: 'x-amz-id-2')."""
    if isinstance(exc, KeyError):
        return InvalidEventError(f"The {source} record has no {exc.args[0]!r} field.", str(exc.args[0]))
    return InvalidEventError(f"The {source} record has a field of the wrong type ({exc}).")


def _sns_event(message: Record, subscription_arn: str) -> CloudEvent[Any]:
    carried, data, content_type = _message_data(message.get("Message") or "", _sns_attributes(message))
    if carried is not None:
        return carried
    return CloudEvent(
        id=message["MessageId"],
        source=uri_reference(subscription_arn),
        type="com.amazonaws.sns." + message["Type"],
        datacontenttype=content_type,
        subject=message.get("Subject") or None,
        time=message.get("Timestamp"),
        data=data,
    )


# -- SQS -------------------------------------------------------------------------------------------


def sqs_to_cloudevent(record: Record) -> CloudEvent[Any]:
    """An SQS message: what it carries (CloudEvent, SNS or S3 envelope), else the project's mapping."""
    body = record.get("body") or ""
    if body.__class__ is not str:
        raise InvalidEventError(f"The SQS 'body' must be a string, got {type(body).__name__}.", "body")
    attributes = _sqs_attributes(record) if record.get("messageAttributes") else _NO_ATTRIBUTES
    carried, data, content_type = _message_data(body, attributes)
    if carried is not None:
        return carried
    attributes = record.get("attributes") or _NO_ATTRIBUTES
    group = attributes.get("MessageGroupId")
    sent = attributes.get("SentTimestamp")
    extensions = {"partitionkey": group} if group else None
    if sent and not (sent.__class__ is str and len(sent) == 13 and sent.isdigit() and sent.isascii()):
        # not epoch ms of 2001-09-09 to 2286-11-20 in 13 ASCII digits: every attribute checked
        return CloudEvent(
            id=record["messageId"],
            source=record["eventSourceARN"],
            type=SQS_TYPE,
            time=_from_epoch_ms(int(sent)),
            datacontenttype=content_type,
            data=data,
            extensions=extensions,
        )
    return from_native(
        record["messageId"],
        record["eventSourceARN"],
        SQS_TYPE,
        content_type,
        (_epoch_ms_time, sent) if sent else None,
        extensions,
        data,
    )  # formatted when read


def sqs_message_meta(record: Record) -> MessageMeta:
    """Message id, receive count (the attempt), message attributes (but the `content-type` that declares
    the body's media type) and send time of an SQS record."""
    attributes = record.get("attributes") or {}
    sent = attributes.get("SentTimestamp")
    return MessageMeta(
        record.get("messageId"),
        int(attributes.get("ApproximateReceiveCount") or 1),
        _custom(_sqs_attributes(record)),
        _from_epoch_ms(int(sent)) if sent else None,
    )


def is_fifo(record: Record) -> bool:
    """True for a record of a FIFO queue (its ARN ends in `.fifo`)."""
    arn = record.get("eventSourceARN") if isinstance(record, Mapping) else None
    return arn.__class__ is str and arn.endswith(".fifo")


def _sqs_attributes(record: Record) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (record.get("messageAttributes") or {}).items():
        text = value.get("stringValue")
        text = text if text is not None else value.get("binaryValue") or ""
        if text.__class__ is not str:  # SQS sends both as strings (binaryValue in base64)
            raise InvalidEventError(
                f"SQS message attribute {name!r} must hold a string value, got {type(text).__name__}.", "data"
            )
        out[name] = text
    return out


# -- EventBridge -----------------------------------------------------------------------------------


def eventbridge_to_cloudevent(event: Record) -> CloudEvent[Any]:
    """An EventBridge event (rules, Scheduler, S3 via EventBridge), unless its detail is a CloudEvent."""
    detail = event.get("detail")
    if isinstance(detail, Mapping) and "specversion" in detail:
        return CloudEvent.from_dict(detail)
    subject = _EVENTBRIDGE_SUBJECTS.get(event["source"])
    return CloudEvent(
        id=event["id"],
        source=uri_reference(event["source"]),
        type=event["detail-type"],
        time=event.get("time"),
        subject=subject(event) if subject else None,
        datacontenttype=JSON,
        data=detail,
    )


def scheduled_tick(event: Record, expression: str, name: str) -> CloudEvent[Any]:
    """The "Scheduled Event" of a schedule function's own schedule (EventBridge Scheduler, or a rule), its
    data the tick every cloud gives: when it was due (`time`), the expression and the function's name as
    the function declared them, which the event does not carry. Any other EventBridge event as it is."""
    tick = eventbridge_to_cloudevent(event)
    if event.get("detail-type") != "Scheduled Event":
        return tick
    return tick.replace(data={"scheduled_time": tick.time, "schedule": expression, "name": name})


def _schedule_name(event: Record) -> str | None:
    resources = event.get("resources") or []
    if event.get("detail-type") != "Scheduled Event" or not resources:
        return None
    return str(resources[0]).rsplit("/", 1)[-1] or None


# EventBridge `source` -> the subject of its events (what the event is about).
_EVENTBRIDGE_SUBJECTS: dict[str, Callable[[Record], str | None]] = {
    "aws.s3": lambda event: event["detail"]["object"]["key"],
    "aws.events": _schedule_name,  # "Scheduled Event" of a rule: the rule name
    "aws.scheduler": _schedule_name,  # EventBridge Scheduler: the schedule name
}


# -- streams ---------------------------------------------------------------------------------------


def dynamodb_to_cloudevent(record: Record) -> CloudEvent[Any]:
    """A DynamoDB Streams record, kept whole as the data (like the S3 adapter does)."""
    created = _object(record, "dynamodb", "DynamoDB Streams").get("ApproximateCreationDateTime")
    return CloudEvent(
        id=record["eventID"],
        source=record["eventSourceARN"],
        type="com.amazonaws.dynamodb." + record["eventName"],
        time=_from_epoch_s(created) if created is not None else None,
        datacontenttype=JSON,
        data=dict(record),
    )


def kinesis_to_cloudevent(record: Record) -> CloudEvent[Any]:
    """A Kinesis record: its data decoded from base64, and from JSON when it is JSON."""
    kinesis = _object(record, "kinesis", "Kinesis")
    raw = base64.b64decode(kinesis["data"], validate=True)
    parsed = _json(raw)
    if isinstance(parsed, dict) and "specversion" in parsed:
        return CloudEvent.from_dict(parsed)
    data, content_type = (raw, None) if parsed is _NOT_JSON else (parsed, JSON)
    arrived = kinesis.get("approximateArrivalTimestamp")
    return CloudEvent(
        id=record["eventID"],
        source=record["eventSourceARN"],
        type=KINESIS_TYPE,
        time=_from_epoch_s(arrived) if arrived is not None else None,
        datacontenttype=content_type,
        data=data,
        extensions={"partitionkey": kinesis["partitionKey"]} if kinesis.get("partitionKey") else None,
    )


def stream_meta(record: Record) -> MessageMeta:
    """Streams tell no delivery count: the record id, first delivery as far as the handler can know."""
    return MessageMeta(record.get("eventID"))


def sns_message_meta(record: Record) -> MessageMeta:
    """Message id, message attributes (but `content-type`) and publish time of an SNS record."""
    message = record.get("Sns") or {}
    return MessageMeta(message.get("MessageId"), 1, _custom(_sns_attributes(message)), message.get("Timestamp"))


def _sns_attributes(message: Record) -> dict[str, str]:
    return {name: str(value.get("Value", "")) for name, value in (message.get("MessageAttributes") or {}).items()}


def _object(record: Record, key: str, source: str) -> Record:
    """`record[key]`, which must be an object."""
    value = record.get(key)
    if value.__class__ is dict or isinstance(value, Mapping):
        return value
    raise InvalidEventError(f"The {source} record's '{key}' must be an object, got {type(value).__name__}.", key)


def _no_meta(record: Record) -> None:
    return None


def _always(record: Record) -> bool:
    return True


def _never(record: Record) -> bool:
    return False


# -- batch item identifiers: what `batchItemFailures` names a failed record by ------------------------
# Read defensively, as a record that failed may be malformed in any way: a string, else "" (no id can be
# read). Lambda takes an empty identifier as "the whole batch failed", the one safe answer when it cannot
# be told which record to deliver again.


def sqs_item_id(record: Any) -> str:
    """The SQS `messageId`."""
    return _string(record, "messageId")


def kinesis_item_id(record: Any) -> str:
    """The Kinesis `kinesis.sequenceNumber`."""
    return _string(_member(record, "kinesis"), "sequenceNumber")


def dynamodb_item_id(record: Any) -> str:
    """The DynamoDB Streams `dynamodb.SequenceNumber`."""
    return _string(_member(record, "dynamodb"), "SequenceNumber")


def _member(record: Any, key: str) -> Any:
    return record.get(key) if isinstance(record, Mapping) else None


def _string(record: Any, key: str) -> str:
    value = _member(record, key)
    return value if value.__class__ is str else ""


# Records[].eventSource (`EventSource` for SNS) -> how its records are read and their failures reported.
RECORD_SOURCES: dict[str, RecordSource] = {
    "aws:sqs": RecordSource("SQS", sqs_to_cloudevent, sqs_message_meta, sqs_item_id, is_fifo),
    "aws:kinesis": RecordSource("Kinesis", kinesis_to_cloudevent, stream_meta, kinesis_item_id, _always),
    "aws:dynamodb": RecordSource("DynamoDB Streams", dynamodb_to_cloudevent, stream_meta, dynamodb_item_id, _always),
    "aws:sns": RecordSource("SNS", sns_to_cloudevent, sns_message_meta, None, _never),
    "aws:s3": RecordSource("S3", s3_to_cloudevent, _no_meta, None, _never),
}
# Whole events that are one record each.
EVENTBRIDGE = RecordSource("EventBridge", eventbridge_to_cloudevent, _no_meta, None, _never)
CLOUDEVENT = RecordSource("CloudEvent", CloudEvent.from_dict, _no_meta, None, _never)
# Trigger kind -> the sources whose events a function of that kind takes besides a CloudEvent: what deploy wires
# to it (an SQS mapping, an SNS subscription, an S3 notification or an EventBridge S3 rule, a schedule), and what
# users wire by hand: a stream to a queue function, an EventBridge rule to a topic function, SNS or S3 delivering
# through an SQS queue. Another source's event was meant for another function: the shim refuses it whole (Lambda
# keeps it for its retries and dead-letter queue) rather than run the handler on it and acknowledge it.
KIND_SOURCES: dict[str, frozenset[str]] = {
    "queue": frozenset({"SQS", "Kinesis", "DynamoDB Streams"}),
    "topic": frozenset({"SNS", "EventBridge", "SQS"}),
    "storage": frozenset({"S3", "EventBridge", "SQS"}),
    "schedule": frozenset({"EventBridge"}),
}
# What of EventBridge a schedule and a storage function take: a schedule's tick (a rule's or the Scheduler's), S3's
# object events; anything else on a bus was meant for another function.
EVENTBRIDGE_WANTED: dict[str, tuple[str, str]] = {
    "schedule": ("detail-type", "Scheduled Event"),
    "storage": ("source", "aws.s3"),
}
# Trigger kind -> the source of its records when none of them names one (every record is then read as
# that source's, and fails alone if it is not one).
TRIGGER_SOURCES: dict[str, RecordSource] = {
    "queue": RECORD_SOURCES["aws:sqs"],
    "topic": RECORD_SOURCES["aws:sns"],
    "storage": RECORD_SOURCES["aws:s3"],
}


def record_source(record: Any) -> RecordSource | None:
    """The source of one entry of `Records`, or None when it is not one this adapter knows."""
    if record.__class__ is not dict and not isinstance(record, Mapping):
        return None
    name = record.get("eventSource") or record.get("EventSource")
    return RECORD_SOURCES.get(name) if name.__class__ is str else None


# -- what a message carries -----------------------------------------------------------------------


def _message_data(body: str, attributes: Mapping[str, str]) -> tuple[CloudEvent[Any] | None, Any, str | None]:
    """(the CloudEvent a message body carries or wraps, or None; its data; its media type). A
    `content-type` message attribute declares the media type (`decode_data`); a body without one is read
    as every cloud reads an undeclared body (`undeclared_data`)."""
    declared = None
    for name, value in attributes.items():
        lower = name.lower()
        if lower == "ce-specversion":
            return _from_binary_attributes(attributes, body), None, None
        if lower == "content-type":
            declared = value
    data, content_type = (decode_data(declared, body), declared) if declared else undeclared_data(body)
    if data.__class__ is dict and ("specversion" in data or "TopicArn" in data or "Records" in data):
        return _wrapped(data), data, content_type  # only these keys can make it a CloudEvent or an envelope
    return None, data, content_type


def _custom(attributes: dict[str, str]) -> dict[str, str]:
    """The message attributes a sender set for the handler: `content-type` is the body's media type."""
    if not attributes:
        return attributes
    return {name: value for name, value in attributes.items() if name.lower() != "content-type"}


def _wrapped(parsed: dict[str, Any]) -> CloudEvent[Any] | None:
    """The CloudEvent a decoded message is (JSON format) or wraps (an SNS notification, a one-record S3
    event), else None. Only a message with one of the keys `specversion`, `TopicArn`, `Records` can be."""
    if "specversion" in parsed:
        return CloudEvent.from_dict(parsed)
    if "TopicArn" in parsed and parsed.get("Type") == "Notification" and "MessageId" in parsed:
        return sns_message_to_cloudevent(parsed, _subscription_arn(parsed))
    records = parsed.get("Records")
    if (
        isinstance(records, list)
        and len(records) == 1
        and isinstance(records[0], dict)
        and (records[0].get("eventSource") == "aws:s3")
    ):
        return s3_to_cloudevent(records[0])
    return None


def _from_binary_attributes(attributes: Mapping[str, str], body: str) -> CloudEvent[Any]:
    attrs: dict[str, Any] = {}
    content_type = None
    for name, value in attributes.items():
        lower = name.lower()
        if lower.startswith("ce-"):
            attrs[lower[3:]] = value
        elif lower == "content-type":
            content_type = value
    content_type = attrs.get("datacontenttype") or content_type
    if content_type:
        attrs["datacontenttype"] = content_type
    return from_attributes(attrs, decode_data(content_type, body))


def _subscription_arn(message: Record) -> str:
    url = message.get("UnsubscribeURL") or message.get("UnsubscribeUrl") or ""
    found = parse_qs(urlsplit(url).query).get("SubscriptionArn")
    return found[0] if found else str(message["TopicArn"])


def _json(text: str | bytes) -> Any:
    if not text:
        return _NOT_JSON
    try:
        return parse_json(text)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _epoch_ms_time(sent: str) -> str:
    """RFC 3339 UTC with milliseconds of 13-digit epoch ms (`sqs_to_cloudevent` checked it), valid by
    construction: the cached prefix of its second and its last three digits."""
    return f"{_second_prefix_of(sent[:10])}.{sent[10:]}Z"


@lru_cache(maxsize=256)
def _second_prefix_of(seconds: str) -> str:
    return _second_prefix(int(seconds))


def _from_epoch_ms(ms: int) -> str:
    return f"{_second_prefix(ms // 1000)}.{ms % 1000:03d}Z"


@lru_cache(maxsize=256)
def _second_prefix(seconds: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` of an epoch second (cached: the records of a batch share their seconds)."""
    return f"{datetime.fromtimestamp(seconds, timezone.utc):%Y-%m-%dT%H:%M:%S}"


def _from_epoch_s(seconds: float | str) -> str:
    return _from_epoch_ms(round(float(seconds) * 1000))

"""Storage Queue and Service Bus messages and times read as before the fast paths: every body as its
content type says or, undeclared, as every cloud reads it (`undeclared_data`), every datetime in RFC 3339."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest
from azure.functions.blob import InputStream
from azure.functions.queue import QueueMessage
from azure.functions.servicebus import ServiceBusMessage
from portable_fn_azure.events import (
    blob_to_cloudevent,
    event_grid_to_cloudevent,
    queue_message_meta,
    queue_message_to_cloudevent,
    rfc3339,
    service_bus_meta,
    service_bus_to_cloudevent,
)

from portable_fn.runtime import CloudEvent
from portable_fn.runtime.errors import InvalidEventError
from portable_fn.runtime.http_binding import undeclared_data

from .conftest import DATA

EXAMPLES = (
    DATA
    / "azure-rest-api-specs"
    / "specification"
    / "eventgrid"
    / "data-plane"
    / "Microsoft.Storage"
    / "stable"
    / "2018-01-01"
    / "examples"
)

BODIES = [
    b'{"n":1}',
    b' {"n": 1} ',
    b'\xef\xbb\xbf{"n":1}',
    '{"n":1}'.encode("utf-16"),
    b"[1,2]",
    b"3",
    b'"s"',
    b"[1,2]x",
    b"not json",
    b"",
    b"\xff\xfe\x00",
    "é".encode(),
    b"NaN",
    b'{"n":"\x01"}',
]


@pytest.mark.parametrize("body", BODIES, ids=repr)
def test_a_queue_body_reads_as_an_undeclared_body_reads_everywhere(body: bytes) -> None:
    """A Storage Queue message carries no media type: its body is read by the one rule for undeclared bodies
    (JSON, else UTF-8 text without control characters, else the bytes; empty: no data)."""
    event = queue_message_to_cloudevent(QueueMessage(id="m", body=body), "/queues/q")
    data, content_type = undeclared_data(body)
    assert (repr(event.data), event.datacontenttype) == (repr(data), content_type)


def test_a_queue_body_that_is_empty_or_holds_control_characters() -> None:
    empty = queue_message_to_cloudevent(QueueMessage(id="m", body=b""), "/queues/q")
    assert (empty.data, empty.datacontenttype) == (None, None)
    control = queue_message_to_cloudevent(QueueMessage(id="m", body=b'{"n":"\x01"}'), "/queues/q")
    assert (control.data, control.datacontenttype) == (b'{"n":"\x01"}', "application/octet-stream")


def test_a_body_holding_a_cloudevent_is_that_event() -> None:
    carried = CloudEvent(id="c", source="/s", type="t", data={"n": 1})
    assert queue_message_to_cloudevent(QueueMessage(id="m", body=carried.to_json()), "/queues/q") == carried


def _reference(moment: datetime) -> str:
    if moment.tzinfo is not None and moment.utcoffset():
        moment = moment.astimezone(timezone.utc)
    whole = moment.replace(tzinfo=None).isoformat(timespec="seconds")
    return f"{whole}.{moment.microsecond:06d}".rstrip("0") + "Z" if moment.microsecond else whole + "Z"


def test_times_are_rfc3339_in_utc_with_the_fraction_they_have_whatever_the_second() -> None:
    rng = random.Random(5)
    start = datetime(1, 1, 1, tzinfo=timezone.utc)
    moments = [
        start + timedelta(seconds=rng.randrange(315537897599), microseconds=rng.choice([0, 999999, 7]))
        for _ in range(3000)
    ]
    moments += [
        datetime.max.replace(tzinfo=timezone.utc),
        start,
        datetime(2024, 5, 1, 10, 0, 0, 1),
        datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))),
    ]
    for moment in moments + moments:  # the second pass reads the cached seconds
        assert rfc3339(moment) == _reference(moment), moment
    assert rfc3339(datetime(2024, 5, 1, 10, 0, 3, 5, tzinfo=timezone.utc)) == "2024-05-01T10:00:03.000005Z"
    assert rfc3339(datetime(2024, 5, 1, 10, 0, 3, 120000, tzinfo=timezone.utc)) == "2024-05-01T10:00:03.12Z"
    assert rfc3339(datetime(2024, 5, 1, 10, 0, 3, tzinfo=timezone.utc)) == "2024-05-01T10:00:03Z"
    assert rfc3339(None) is None


SENT = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)


def _bus(body: bytes, **fields: object) -> ServiceBusMessage:
    base: dict[str, object] = {
        "message_id": "sb-1",
        "enqueued_time_utc": SENT,
        "application_properties": {},
        "user_properties": {},
        "delivery_count": 1,
    }
    return ServiceBusMessage(body=body, **{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body, fields, data, content_type, subject, extensions",
    [
        (b'{"n":1}', {}, {"n": 1}, "application/json", None, {}),
        (
            b'{"n":1}',
            {"content_type": "application/json; charset=utf-8"},
            {"n": 1},
            "application/json; charset=utf-8",
            None,
            {},
        ),
        (b"plain words", {}, "plain words", "text/plain; charset=utf-8", None, {}),
        (b"plain words", {"content_type": "text/plain"}, "plain words", "text/plain", None, {}),
        (
            b'{"n":1}',
            {"subject": "orders", "partition_key": "p1"},
            {"n": 1},
            "application/json",
            "orders",
            {"partitionkey": "p1"},
        ),
        (b'{"n":1}', {"label": "legacy"}, {"n": 1}, "application/json", "legacy", {}),
    ],
    ids=["json", "json-charset", "text", "text-typed", "subject-partition", "label"],
)
def test_a_service_bus_message_maps_to_the_projects_cloudevent(
    body: bytes,
    fields: dict[str, object],
    data: object,
    content_type: str,
    subject: str | None,
    extensions: dict[str, str],
) -> None:
    event = service_bus_to_cloudevent(_bus(body, **fields), "sb://ns/orders")
    assert (event.id, event.source, event.type, event.time) == (
        "sb-1",
        "sb://ns/orders",
        "com.microsoft.azure.servicebus.message",
        "2024-05-01T10:00:00.123456Z",
    )
    assert (event.data, event.datacontenttype, event.subject, dict(event.extensions)) == (
        data,
        content_type,
        subject,
        extensions,
    )


def test_service_bus_properties_are_text_as_other_clouds_attributes_are() -> None:
    """They reached `ctx.message.attributes` as Python's reprs (`b'k'`, `None`, `True`); an integer past
    4,300 digits (the JSON of `portable-fn invoke`) raised."""
    properties = {
        "text": "t",
        b"k": b"\xff\x00",  # not UTF-8: base64, as SNS gives a Binary attribute
        "utf8": "é".encode(),
        "none": None,
        "flag": True,
        "n": 42,
        "when": datetime(2024, 1, 1, tzinfo=timezone.utc),
        "huge": 10**4400,
    }
    attributes = service_bus_meta(_bus(b"{}", application_properties=properties)).attributes
    assert attributes == {
        "text": "t",
        "k": "/wA=",
        "utf8": "é",
        "flag": "true",
        "n": "42",
        "when": "2024-01-01T00:00:00Z",
    }


def test_a_service_bus_body_its_json_content_type_cannot_read_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="not valid JSON"):  # the shim dead-letters it
        service_bus_to_cloudevent(_bus(b"{broken", content_type="application/json"), "sb://ns/q")


def test_a_service_bus_message_carrying_a_cloudevent_is_that_event() -> None:
    carried = CloudEvent(id="c", source="/s", type="t", data={"n": 1})
    assert service_bus_to_cloudevent(_bus(carried.to_json().encode()), "sb://ns/q") == carried
    binary = _bus(
        b'{"n":2}',
        content_type="application/json",
        application_properties={
            "cloudEvents:specversion": "1.0",
            "cloudEvents:id": "b",
            "cloudEvents:source": "/b",
            "cloudEvents:type": "t",
        },
    )
    assert service_bus_to_cloudevent(binary, "sb://ns/q") == CloudEvent(
        id="b", source="/b", type="t", datacontenttype="application/json", data={"n": 2}
    )


def test_the_queue_time_is_formatted_when_read_and_the_event_is_whole() -> None:
    message = QueueMessage(id="m", body=b'{"n":1}', insertion_time=datetime(2024, 5, 1, 10, 0, 3, tzinfo=timezone.utc))
    expected = CloudEvent(
        id="m",
        source="/queues/q",
        type="com.microsoft.azure.storage.queue.message",
        datacontenttype="application/json",
        time="2024-05-01T10:00:03Z",
        data={"n": 1},
    )
    assert queue_message_to_cloudevent(message, "/queues/q") == expected
    assert queue_message_to_cloudevent(message, "/queues/q").to_dict() == expected.to_dict()
    assert queue_message_to_cloudevent(message, "/queues/q").with_data({"n": 2}).time == expected.time
    assert queue_message_to_cloudevent(QueueMessage(id="m", body=b"{}"), "/queues/q").time is None


ENCODED = [  # (the blob name as Event Grid's url and subject write it, the name)
    ("raw/a%20b.jpg", "raw/a b.jpg"),
    ("raw/%C3%BCber%20%E6%97%A5.jpg", "raw/über 日.jpg"),
    ("raw/a+b.jpg", "raw/a+b.jpg"),
    ("raw/a%2Bb%25.jpg", "raw/a+b%.jpg"),
]


@pytest.mark.parametrize("encoded, name", ENCODED)
def test_a_blob_key_is_percent_decoded(encoded: str, name: str) -> None:
    """`CloudEvent[StorageObject].key` is the blob's name, as on AWS and GCP: Event Grid's url holds it
    percent-encoded (a space as %20; a '+' as itself or %2B, never a space)."""
    from portable_fn.runtime import StorageObject

    example = json.loads((EXAMPLES / "event-grid-schema" / "blob_created.json").read_text(encoding="utf-8"))
    example = {
        **example,
        "subject": f"/blobServices/default/containers/photos/blobs/{encoded}",
        "data": {**example["data"], "url": f"https://acct.blob.core.windows.net/photos/{encoded}"},
    }
    stored = StorageObject.from_cloudevent(event_grid_to_cloudevent(example))
    assert (stored.bucket, stored.key) == ("photos", name)
    blob = blob_to_cloudevent(
        InputStream(
            data=b"", name=f"photos/{name}", length=0, uri=f"https://acct.blob.core.windows.net/photos/{encoded}"
        )
    )
    assert StorageObject.from_cloudevent(blob).key == name


def test_a_message_time_utc_cannot_hold_is_no_time_rather_than_an_error() -> None:
    # Dead-lettering such a message raised OverflowError out of the entry (year 1 at +14:00 is before UTC's year 1).
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    message = QueueMessage(id="q-1", body=b'{"n": 1}', dequeue_count=1, insertion_time=early)
    event = queue_message_to_cloudevent(message, "/queues/orders")
    assert event.time is None and event.data == {"n": 1}
    assert queue_message_meta(message).published_time is None

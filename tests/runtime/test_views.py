"""Neutral views: the same StorageObject and ScheduleTick from every provider's real event data.

The inputs are real payloads under tests/data (see the NOTICE files there); the expected views are
written here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portable_fn import CloudEvent, DataValidationError, MessageMeta, ScheduleTick, StorageObject
from portable_fn.runtime import Context

DATA = Path(__file__).resolve().parent.parent / "data"
S3_EVENTS = DATA / "aws" / "powertools-lambda-python" / "tests" / "events"
GCS_DATA = DATA / "gcp" / "functions-framework-conformance" / "events" / "generate" / "data"
AZURE_EXAMPLES = (
    DATA
    / "azure"
    / "azure-rest-api-specs"
    / "specification"
    / "eventgrid"
    / "data-plane"
    / "Microsoft.Storage"
    / "stable"
    / "2018-01-01"
    / "examples"
)


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def s3_cloudevent(name: str) -> CloudEvent[Any]:
    """The CloudEvent of the first S3 record, as the CloudEvents AWS S3 adapter lays it out."""
    record = read(S3_EVENTS / name)["Records"][0]
    ids = record["responseElements"]
    return CloudEvent(
        id=f"{ids['x-amz-request-id']}.{ids['x-amz-id-2']}",
        source=f"{record['eventSource']}.{record['awsRegion']}.amazonaws.com/{record['s3']['bucket']['name']}",
        type=f"com.amazonaws.s3.{record['eventName']}",
        subject=record["s3"]["object"]["key"],
        time=record["eventTime"],
        datacontenttype="application/json",
        data=record,
    )


# -- StorageObject ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "s3Event.json",
            StorageObject(
                "lambda-artifacts-deafc19498e3f2df",
                "b21b84d653bb07b05b1e6b33684dc11b",
                1305107,
                "b21b84d653bb07b05b1e6b33684dc11b",
                None,
                "created",
                "2019-09-03T19:37:27.192Z",
            ),
        ),
        # the key arrives URL-encoded ("Happy%20Face.jpg"); handlers get the real key
        (
            "s3EventDecodedKey.json",
            StorageObject(
                "sourcebucket",
                "Happy Face.jpg",
                1024,
                "d41d8cd98f00b204e9800998ecf8427e",
                None,
                "created",
                "1970-01-01T00:00:00.123Z",
            ),
        ),
        (
            "s3EventDeleteObject.json",
            StorageObject(
                "lambda-artifacts-deafc19498e3f2df",
                "b21b84d653bb07b05b1e6b33684dc11b",
                None,
                None,
                None,
                "deleted",
                "2019-09-03T19:37:27.192Z",
            ),
        ),
    ],
)
def test_s3_records(name: str, expected: StorageObject) -> None:
    assert StorageObject.from_cloudevent(s3_cloudevent(name)).to_dict() == expected.to_dict()


def test_s3_keys_are_form_decoded() -> None:
    record = read(S3_EVENTS / "s3Event.json")["Records"][0]
    record["s3"]["object"]["key"] = "in/My+Photo%2B1%C3%A9.jpg"  # S3 encodes spaces as '+'
    view = StorageObject.from_cloudevent(
        CloudEvent(id="1", source="s3", type="com.amazonaws.s3.ObjectCreated:Put", data=record)
    )
    assert view.key == "in/My Photo+1é.jpg"


def test_google_cloud_storage_object() -> None:
    event = CloudEvent.from_dict(read(GCS_DATA / "storage-cloudevent-output.json"))
    view = StorageObject.from_cloudevent(event)
    assert view.to_dict() == {
        "bucket": "some-bucket",
        "key": "folder/Test.cs",
        "size": 352,
        "etag": "CNHZkbuF/ugCEAE=",
        "content_type": "text/plain",
        "event": "created",
        "time": "2020-09-29T11:32:00.123Z",
    }
    deleted = event.replace(type="google.cloud.storage.object.v1.deleted")
    assert StorageObject.from_cloudevent(deleted).event == "deleted"


def test_cloud_storage_objects_read_the_same_on_the_short_path_and_the_general_one() -> None:
    """StorageObject itself takes a short path for Cloud Storage's object resource; a subclass (any view
    built on it) takes the general one: both read every field alike, for every event type."""

    class Subclass(StorageObject):
        __slots__ = ()

    event = CloudEvent.from_dict(read(GCS_DATA / "storage-cloudevent-output.json"))
    for kind in ("finalized", "deleted", "archived", "metadataUpdated"):
        for data in (
            event.data,
            {**event.data, "event": "deleted", "time": "2024-01-01T00:00:00Z"},
            {k: v for k, v in event.data.items() if k not in ("size", "contentType", "etag")},
        ):
            changed = event.replace(type=f"google.cloud.storage.object.v1.{kind}", data=data)
            short, general = StorageObject.from_cloudevent(changed), Subclass.from_cloudevent(changed)
            assert type(short) is StorageObject and type(general) is Subclass
            assert short.to_dict() == general.to_dict()
            assert short.event == ("deleted" if kind == "deleted" or "event" in data else "created")


@pytest.mark.parametrize(
    ("schema_file", "event_name", "time"),
    [
        ("cloud-events-schema/blob_created.json", "created", "2021-08-16T02:51:26.4248221Z"),
        ("cloud-events-schema/blob_deleted.json", "deleted", "2021-08-16T02:58:18.5038290Z"),
    ],
)
def test_azure_blob_events(schema_file: str, event_name: str, time: str) -> None:
    view = StorageObject.from_cloudevent(CloudEvent.from_dict(read(AZURE_EXAMPLES / schema_file)))
    assert (view.bucket, view.key, view.size, view.content_type, view.event, view.time) == (
        "gaocontainer",
        "Template1.xlsx",
        17555,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        event_name,
        time,
    )
    assert view.etag and view.etag.startswith("0x8D9606")


def test_azure_event_grid_schema_data_reads_the_same() -> None:
    native = read(AZURE_EXAMPLES / "event-grid-schema" / "blob_created.json")
    cloud = read(AZURE_EXAMPLES / "cloud-events-schema" / "blob_created.json")
    from_native = CloudEvent(
        id=native["id"], source=native["topic"], type=native["eventType"], time=cloud["time"], data=native["data"]
    )
    assert StorageObject.from_cloudevent(from_native) == StorageObject.from_cloudevent(CloudEvent.from_dict(cloud))


def test_azure_blob_in_a_folder() -> None:
    data = {"api": "PutBlob", "url": "https://acct.blob.core.windows.net/photos/2024/01/a.png", "contentLength": 5}
    view = StorageObject.from_cloudevent(
        CloudEvent(id="1", source="/a", type="Microsoft.Storage.BlobCreated", data=data)
    )
    assert (view.bucket, view.key, view.size) == ("photos", "2024/01/a.png", 5)


def test_local_shape_round_trips() -> None:
    original = StorageObject("uploads", "in/a.png", 3, "abc", "image/png", "deleted", "2024-01-01T00:00:00Z")
    event = CloudEvent(id="1", source="local", type="portable_fn.storage", data=original.to_dict())
    assert StorageObject.from_cloudevent(event) == original
    assert original.to_dict() == {
        "bucket": "uploads",
        "key": "in/a.png",
        "size": 3,
        "etag": "abc",
        "content_type": "image/png",
        "event": "deleted",
        "time": "2024-01-01T00:00:00Z",
    }


def test_local_shape_takes_defaults_from_the_event() -> None:
    event = CloudEvent(
        id="1",
        source="local",
        type="portable_fn.storage.deleted",
        time="2024-01-01T00:00:00Z",
        data={"bucket": "uploads", "key": "a"},
    )
    view = StorageObject.from_cloudevent(event)
    assert (view.event, view.time, view.size) == ("deleted", "2024-01-01T00:00:00Z", None)
    assert repr(view) == "StorageObject(bucket='uploads', key='a', event='deleted')"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "has no storage object data"),
        (b"bytes", "has no storage object data"),
        ({"bucket": "b"}, "is not a storage event this version knows"),
        ({"s3": {"object": {"key": "a"}}}, "has malformed storage data (KeyError: 'bucket')"),
        ({"s3": "nonsense"}, "has malformed storage data (AttributeError"),
        ({"bucket": "b", "name": "k", "size": "big"}, "has malformed storage data (ValueError"),
        ({"api": "PutBlob", "url": 5}, "has malformed storage data"),
    ],
)
def test_data_that_is_not_a_storage_object(data: Any, message: str) -> None:
    event = CloudEvent(id="e9", source="/s", type="t", data=data)
    with pytest.raises(DataValidationError) as caught:
        StorageObject.from_cloudevent(event)
    assert str(caught.value).startswith("Event 'e9' of type 't' ")
    assert message in str(caught.value)


def _shapes(size: Any = 5, bucket: Any = "b", key: Any = "k") -> list[dict[str, Any]]:
    """One object in each cloud's storage data: an S3 record, S3 through EventBridge, Azure Blob (Event Grid)
    and Cloud Storage (whose object resource writes the size as digits)."""
    return [
        {"s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}}},
        {"bucket": {"name": bucket}, "object": {"key": key, "size": size}},
        {"api": "PutBlob", "url": f"https://a.blob.core.windows.net/{bucket}/{key}", "contentLength": size},
        {"bucket": bucket, "name": key, "size": size if not isinstance(size, int) else str(size)},
    ]


BAD_SIZES = ["abc", -1, 10**30, 1.5, "1.5", True, [5], "\u0665"]


@pytest.mark.parametrize(
    ("size", "shape"),
    [(size, shape) for size in BAD_SIZES for shape in range(4) if not (shape == 2 and isinstance(size, str))],
)
def test_a_size_that_is_not_a_whole_number_of_bytes_is_refused_on_every_cloud(size: Any, shape: int) -> None:
    # AWS and Azure handed "abc", -1 and 10**30 to the handler as they were; Cloud Storage turned 1.5 into 1.
    event = CloudEvent(id="e9", source="/s", type="t", data=_shapes(size=size)[shape])
    with pytest.raises(DataValidationError, match="the size must be a whole number of bytes"):
        StorageObject.from_cloudevent(event)


@pytest.mark.parametrize("shape", [0, 1, 3])
@pytest.mark.parametrize("what", ["bucket", "key"])
def test_a_bucket_or_key_that_is_not_a_string_is_refused_on_every_cloud(shape: int, what: str) -> None:
    data = _shapes(**{what: 5})[shape]
    with pytest.raises(DataValidationError, match=f"the {what} must be a non-empty string, got 5"):
        StorageObject.from_cloudevent(CloudEvent(id="e9", source="/s", type="t", data=data))


@pytest.mark.parametrize("shape", range(4))
def test_an_empty_key_is_refused_on_every_cloud(shape: int) -> None:
    # An Azure blob trigger for `uploads/` gave a StorageObject with key "": no cloud names an object so.
    with pytest.raises(DataValidationError, match="the key must be a non-empty string"):
        StorageObject.from_cloudevent(CloudEvent(id="e9", source="/s", type="t", data=_shapes(key="")[shape]))


@pytest.mark.parametrize("shape", range(4))
def test_the_same_object_reads_the_same_size_on_every_cloud(shape: int) -> None:
    view = StorageObject.from_cloudevent(CloudEvent(id="e9", source="/s", type="t", data=_shapes(size=2**40)[shape]))
    assert (view.bucket, view.key, view.size) == ("b", "k", 2**40)


# -- ScheduleTick -----------------------------------------------------------------------------------


def test_schedule_tick_from_local_data() -> None:
    event = CloudEvent(
        id="1",
        source="local",
        type="portable_fn.schedule",
        time="2024-01-01T03:00:05Z",
        data={"scheduled_time": "2024-01-01T03:00:00Z", "schedule": "cron(0 3 * * *)", "name": "sweep"},
    )
    tick = ScheduleTick.from_cloudevent(event)
    assert tick.to_dict() == {"scheduled_time": "2024-01-01T03:00:00Z", "schedule": "cron(0 3 * * *)", "name": "sweep"}
    assert repr(tick) == "ScheduleTick('2024-01-01T03:00:00Z', schedule='cron(0 3 * * *)')"


def test_schedule_tick_falls_back_to_the_event() -> None:
    event = CloudEvent(
        id="1", source="scheduler", type="tick", time="2024-01-01T03:00:00Z", subject="sweep", data=b"opaque"
    )
    assert ScheduleTick.from_cloudevent(event).to_dict() == {"scheduled_time": "2024-01-01T03:00:00Z", "name": "sweep"}
    with_time = event.replace(data={"time": "2024-01-01T02:59:59Z"})
    assert ScheduleTick.from_cloudevent(with_time).scheduled_time == "2024-01-01T02:59:59Z"


# -- MessageMeta and Context ------------------------------------------------------------------------


def test_message_meta_and_delivery_count() -> None:
    meta = MessageMeta("m1", 3, {"a": "1"}, "2024-01-01T00:00:00Z")
    ctx = Context(function_name="f", message=meta)
    assert ctx.delivery_count == 3
    again = ctx.with_attempt(4)
    assert (again.attempt, again.delivery_count, again.message.attributes) == (4, 4, {"a": "1"})  # type: ignore[union-attr]
    assert meta.delivery_count == 3  # the original is untouched
    assert Context(attempt=2).delivery_count == 2
    assert MessageMeta().attributes == {} and repr(MessageMeta("m", 2)) == "MessageMeta('m', delivery_count=2)"


def test_context_remaining_time_and_logger() -> None:
    import time

    assert Context().remaining_ms() is None
    assert Context(deadline=time.time() - 5).remaining_ms() == 0
    assert 8000 < (Context(deadline=time.time() + 9).remaining_ms() or 0) <= 9000
    assert Context(function_name="resize").logger.name == "portable_fn.function.resize"


def test_s3_via_eventbridge_reads_bucket_and_object() -> None:
    event = CloudEvent(
        id="17793124-05d4-b198-2fde-7ededc63b103",
        source="aws.s3",
        type="Object Created",
        time="2021-11-12T00:00:00Z",
        data={
            "version": "0",
            "bucket": {"name": "example-bucket"},
            "object": {"key": "example-key", "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184"},
        },
    )
    assert StorageObject.from_cloudevent(event) == StorageObject(
        "example-bucket", "example-key", 5, "b1946ac92492d2347c6235b4d2611184", None, "created", "2021-11-12T00:00:00Z"
    )


@pytest.mark.parametrize(
    ("count", "attempt"), [(0, 1), (-5, 1), (1, 1), (7, 7), (2**31 - 1, 2**31 - 1), (2**40, 2**31 - 1)]
)
def test_a_delivery_count_no_transport_means_is_brought_into_the_attempts_range(count: int, attempt: int) -> None:
    """SQS's ApproximateReceiveCount was taken as it came (0 and -5 were attempts 0 and -5 on AWS, 1 on GCP
    and Azure), and 2**40 reached `deadletterattempt`, a 32-bit CloudEvents Integer."""
    assert MessageMeta("m", count).delivery_count == attempt


def test_an_sqs_record_s_odd_receive_count_is_the_attempt_gcp_and_azure_give() -> None:
    from portable_fn_aws.records import sqs_message_meta

    record = {"messageId": "m", "attributes": {"ApproximateReceiveCount": "0"}}
    assert sqs_message_meta(record).delivery_count == 1

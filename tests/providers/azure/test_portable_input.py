"""What a handler sees on Azure is what it sees on the other clouds (the portability contract, rules 3-6),
through the generated function_app.py and the objects the worker builds with the library's converters:
a tick named by when it was due, one identity for a blob event whichever trigger delivers it, a topic
message's metadata, and times as the sender wrote them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import azure.functions as func
import pytest
from azure.functions.blob import BlobConverter
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.timer import TimerRequestConverter

from portable_fn.runtime import StorageObject

from .conftest import DATA
from .host_objects import with_dead_letters

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


class HostContext(func.Context):
    invocation_id = property(lambda self: "inv")
    function_name = property(lambda self: "f")
    function_directory = property(lambda self: "/home/site/wwwroot")
    trace_context = property(lambda self: None)
    retry_context = property(lambda self: None)
    thread_local_storage = property(lambda self: None)


@pytest.fixture
def functions(every_app: Any, indexed: Any, every_module: Any) -> dict[str, Any]:
    return {
        name: (lambda f: lambda *args: f(*with_dead_letters(f, args), HostContext()))(fn.get_user_function())
        for name, fn in indexed(every_app).items()
    }


def _timer(status: dict[str, str], past_due: bool = False) -> Any:
    """The worker's TimerRequest for the host's TimerInfo JSON."""
    info = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status, "IsPastDue": past_due}
    return TimerRequestConverter.decode(Datum(json.dumps(info), "json"), trigger_metadata={})


@pytest.mark.parametrize(
    "due, past_due",
    [
        ("2026-05-01T10:15:00+00:00", False),
        ("2026-05-01T10:15:00.0000000+00:00", False),
        ("2026-05-01T10:15:00", False),  # a naive time is the host's local time: UTC on Azure
        ("2026-05-01T12:15:00+02:00", True),  # a missed occurrence, fired when the host came back
    ],
)
def test_a_tick_is_the_occurrence_that_was_due(
    functions: dict[str, Any], every_module: Any, due: str, past_due: bool
) -> None:
    """The host advances ScheduleStatus.Next only after the invocation: it names the occurrence being fired
    (a missed one too), whatever the clock says when the function runs."""
    functions["every_quarter"](
        _timer(
            {
                "Last": "2026-05-01T10:00:00.0016437+00:00",
                "Next": due,
                "LastUpdated": "2026-05-01T10:00:00.0016437+00:00",
            },
            past_due,
        )
    )
    tick = every_module.SEEN[-1][1]
    assert tick.data.to_dict() == {
        "scheduled_time": "2026-05-01T10:15:00Z",
        "schedule": "rate(15 minutes)",
        "name": "every_quarter",
    }
    assert (tick.id, tick.time) == ("every_quarter:2026-05-01T10:15:00Z", "2026-05-01T10:15:00Z")


@pytest.mark.parametrize(
    "due, named",
    [
        ("0500-01-01T00:00:00Z", "0500-01-01T00:00:00Z"),  # four digits: "%Y" wrote "500", which no reader took
        ("0001-01-01T00:00:00+01:00", None),  # before the first moment UTC holds: the current minute
        ("9999-12-31T23:59:59-01:00", None),  # after the last one
        ("not a time", None),
    ],
)
def test_a_tick_whose_due_time_utc_cannot_hold_runs_as_the_current_minute(
    functions: dict[str, Any], every_module: Any, due: str, named: str | None
) -> None:
    functions["every_quarter"](_timer({"Next": due}))  # raised InvalidEventError / OverflowError out of the entry
    tick = every_module.SEEN[-1][1]
    if named is not None:
        assert tick.time == named
    else:
        assert tick.time.endswith(":00Z") and tick.time[:4] == str(datetime.now(timezone.utc).year)


def _blob(name: str, uri: str, properties: dict[str, Any]) -> Any:
    """The worker's InputStream for a blob trigger (Event Grid source): the host's trigger metadata."""
    metadata = {
        "BlobTrigger": Datum(name, "string"),
        "Uri": Datum(uri, "string"),
        "Properties": Datum(json.dumps(properties), "json"),
        "Metadata": Datum("{}", "json"),
    }
    return BlobConverter.decode(Datum(b"\xff\xd8", "bytes"), trigger_metadata=metadata)


def _grid(body: dict[str, Any]) -> Any:
    return EventGridEventInConverter.decode(Datum(json.dumps(body), "json"), trigger_metadata={})


def test_one_blob_has_one_identity_whichever_trigger_delivers_its_event(
    functions: dict[str, Any], every_module: Any
) -> None:
    """The blob trigger (created) and the Event Grid trigger (deleted) name the same blob alike: the blob
    service endpoint as the source, JSON data, the ETag without the HTTP quotes; a BlobCreated that reaches
    the Event Grid path has the id the blob trigger gives the same upload, its ETag."""
    url = "https://acct.blob.core.windows.net/photos/raw/My%20cat%20%2B%C3%BC.jpg"
    functions["on_photo"](
        _blob(
            "photos/raw/My cat +ü.jpg",
            url,
            {
                "ContentType": "image/jpeg",
                "ETag": '"0x8D96061B33FE1D2"',
                "ContentLength": 2,
                "BlobType": "Block",
                "LastModified": "2021-08-16T02:58:18+00:00",
            },
        )
    )
    created = every_module.SEEN[-1][1]
    example = json.loads((EXAMPLES / "event-grid-schema" / "blob_created.json").read_text(encoding="utf-8"))
    subject = "/blobServices/default/containers/photos/blobs/raw/My cat +ü.jpg"
    for event_type in ("Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted"):
        body = {
            **example,
            "eventType": event_type,
            "subject": subject,
            "data": {**example["data"], "url": url, "eTag": "0x8D96061B33FE1D2"},
        }
        functions["on_photo_deleted"](_grid(body))
        delivered = every_module.SEEN[-1][1]
        assert (delivered.source, delivered.subject, delivered.datacontenttype) == (
            "https://acct.blob.core.windows.net",
            created.subject,
            "application/json",
        )
        assert delivered.id == (created.id if event_type.endswith("Created") else example["id"])
        assert delivered.data.key == created.data.key == "raw/My cat +ü.jpg"
    assert created.data.etag == created.id == "0x8D96061B33FE1D2"
    assert created.data == StorageObject(
        "photos", "raw/My cat +ü.jpg", 2, "0x8D96061B33FE1D2", "image/jpeg", "created", "2021-08-16T02:58:18Z"
    )


def test_a_topic_message_has_its_message_metadata(functions: dict[str, Any], every_module: Any) -> None:
    """An Event Grid topic delivers messages as a queue does: ctx.message is there, its id the event's, its
    delivery count the attempt; Event Grid says nothing of when it was published."""
    sent = {
        "specversion": "1.0",
        "id": "evt-42",
        "source": "//shop/checkout",
        "type": "shop.order.paid",
        "time": "2026-05-01T09:59:59.5Z",
        "tenant": "acme",
        "data": {"order": "o-1"},
    }
    functions["on_news"](_grid(sent))
    event, ctx = every_module.SEEN[-1][1]
    assert (ctx.message.message_id, ctx.message.delivery_count, ctx.attempt) == ("evt-42", 1, 1)
    assert (ctx.message.attributes, ctx.message.published_time) == ({}, None)
    assert event.to_dict() == sent  # every attribute and extension, the time as it was sent

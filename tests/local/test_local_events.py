"""The local native -> CloudEvent mapping, against golden files in data/events/ (<case>.in/.out.json)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from portable_fn.local.events import message_events, schedule_event, storage_event
from portable_fn.runtime import CloudEvent, InvalidEventError, ScheduleTick, StorageObject

DATA = Path(__file__).resolve().parent / "data" / "events"
CASES = sorted(p.name[: -len(".in.json")] for p in DATA.glob("*.in.json"))


def convert(case: dict[str, Any]) -> list[CloudEvent[Any]]:
    fixed = {"id": case["id"]}
    when = datetime.fromisoformat(case["time"])
    if "message" in case:
        m = case["message"]
        body = base64.b64decode(m["body_base64"]) if "body_base64" in m else m["body"].encode("utf-8")
        return message_events(m["kind"], m["name"], m["headers"], body, time=when, **fixed)
    if "storage" in case:
        s = case["storage"]
        return [storage_event(s["change"], s["bucket"], s["key"], s["size"], s["etag"], time=when, **fixed)]
    s = case["schedule"]
    return [schedule_event(s["function"], s["expression"], datetime.fromisoformat(s["scheduled"]), **fixed)]


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 10
    assert all((DATA / f"{c}.out.json").is_file() for c in CASES)


@pytest.mark.parametrize("case", CASES)
def test_native_input_becomes_the_expected_cloudevent(case: str) -> None:
    given = json.loads((DATA / f"{case}.in.json").read_text(encoding="utf-8"))
    expected = json.loads((DATA / f"{case}.out.json").read_text(encoding="utf-8"))
    assert [e.to_dict() for e in convert(given)] == expected


def test_a_batch_of_cloudevents_is_delivered_as_sent() -> None:
    sent = [{"specversion": "1.0", "id": f"b{i}", "source": "/s", "type": "t", "data": i} for i in range(3)]
    body = json.dumps(sent).encode()
    events = message_events("queue", "q", {"Content-Type": "application/cloudevents-batch+json"}, body)
    assert [e.to_dict() for e in events] == sent


@pytest.mark.parametrize(
    ("headers", "body", "problem"),
    [
        ({"content-type": "application/json"}, b"{not json", "not valid JSON"),
        ({"content-type": "application/cloudevents+json"}, b'{"specversion": "1.0", "id": "x"}', "'source'"),
        ({"ce-specversion": "0.3", "ce-id": "1", "ce-source": "/s", "ce-type": "t"}, b"", "specversion"),
    ],
)
def test_unreadable_messages_are_refused_with_the_reason(headers: dict[str, str], body: bytes, problem: str) -> None:
    with pytest.raises(InvalidEventError, match=problem):
        message_events("queue", "q", headers, body)


def test_storage_events_read_as_storage_objects() -> None:
    given = json.loads((DATA / "storage-deleted.in.json").read_text())["storage"]
    event = storage_event(given["change"], given["bucket"], given["key"], given["size"], given["etag"])
    view = StorageObject.from_cloudevent(event)
    assert (view.bucket, view.key, view.size, view.etag, view.content_type, view.event) == (
        "uploads",
        "in/photo.JPG",
        3,
        given["etag"],
        "image/jpeg",
        "deleted",
    )


def test_schedule_events_read_as_ticks() -> None:
    event = schedule_event("sweep", "rate(5 minutes)", datetime.fromisoformat("2024-05-02T03:05:00+00:00"))
    tick = ScheduleTick.from_cloudevent(event)
    assert (tick.scheduled_time, tick.schedule, tick.name) == ("2024-05-02T03:05:00Z", "rate(5 minutes)", "sweep")
    assert event.time == tick.scheduled_time

"""The SDK event functions-framework hands over -> the portable CloudEvent, whatever the SDK object is.

functions-framework passes the `cloudevents` 1.x line's `http.CloudEvent`; the shim reads its attribute
dict directly (its `get_attributes()` builds a read-only proxy per call), and any other event object
(another SDK line, a pydantic event) through `get_attributes()` and `get_data()` or `.data`. Each
conformance input must read the same every way."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from cloudevents.http import CloudEvent as HttpEvent
from portable_fn_gcp.events import MESSAGE_TYPE, from_sdk_message, schedule_tick

from portable_fn.runtime import CloudEvent, InvalidEventError, ScheduleTick
from portable_fn.runtime.triggers import Schedule

DATA = Path(__file__).parents[2] / "data" / "gcp" / "functions-framework-conformance" / "events" / "generate" / "data"
INPUTS = sorted(DATA.glob("*-cloudevent-input.json"))


class Proxied:
    """An SDK event shaped as the cloudevents 2.x line is read: get_attributes() and get_data() only."""

    def __init__(self, attributes: dict[str, Any], data: Any) -> None:
        self._attributes = MappingProxyType(attributes)  # not a dict: not the 1.x shortcut
        self._data = data

    def get_attributes(self) -> Any:
        return self._attributes

    def get_data(self) -> Any:
        return self._data


class DataAttribute:
    """get_attributes() and a `data` attribute, no get_data()."""

    def __init__(self, attributes: dict[str, Any], data: Any) -> None:
        self.attributes, self.data = attributes, data

    def get_attributes(self) -> Any:
        return dict(self.attributes)


def read(native: Any) -> tuple[dict[str, Any], Any]:
    event, meta = from_sdk_message(native)
    return event.to_dict(), meta and (
        meta.message_id,
        meta.delivery_count,
        dict(meta.attributes or {}),
        meta.published_time,
    )


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_sdk_event_shape_reads_the_same(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    data = body.pop("data", None)
    attributes = {k: v for k, v in body.items()}
    http_event = HttpEvent(attributes, data)
    assert http_event._attributes.__class__ is dict  # the shortcut is taken for functions-framework's event
    expected = read(http_event)
    assert read(Proxied(dict(http_event.get_attributes()), data)) == expected
    assert read(DataAttribute(dict(http_event.get_attributes()), data)) == expected
    assert expected[0]["id"] == body["id"]


def test_an_object_that_is_no_sdk_event_is_refused_by_name() -> None:
    with pytest.raises(InvalidEventError, match="passed a dict, not a CloudEvent"):
        from_sdk_message({"id": "1"})


@pytest.mark.parametrize(
    "declared, published, due",
    [
        ("rate(5 minutes)", "2026-05-01T10:05:00.412Z", "2026-05-01T10:05:00Z"),
        ("rate(5 minutes)", "2026-05-01T10:09:59.999999999Z", "2026-05-01T10:05:00Z"),
        ("rate(6 hours)", "2026-05-01T12:00:03Z", "2026-05-01T12:00:00Z"),
        ("cron(30 3 * * *)", "2026-05-01T03:30:00.2Z", "2026-05-01T03:30:00Z"),
        ("cron(30 3 * * *)", "2026-05-01T03:31:05+00:00", "2026-05-01T03:30:00Z"),  # published late
        ("cron(0 0 1 * *)", "2026-05-01T00:00:01.5Z", "2026-05-01T00:00:00Z"),
        ("cron(30 3 * * *)", "2026-05-01T05:00:00Z", "2026-05-01T05:00:00Z"),  # no firing within the hour: as published
        # Years before 1000 keep four digits (strftime wrote "999-06-01T03:00:00Z", which no reader takes), and
        # the search for the firing stops at the first minute there is.
        ("cron(0 3 * * *)", "0999-06-01T03:00:05Z", "0999-06-01T03:00:00Z"),
        ("rate(5 minutes)", "0500-01-01T00:07:00Z", "0500-01-01T00:05:00Z"),
        ("cron(0 3 * * *)", "0001-01-01T00:00:05Z", "0001-01-01T00:00:05Z"),
    ],
)
def test_a_cloud_scheduler_message_becomes_the_tick_that_was_due(declared: str, published: str, due: str) -> None:
    trigger = Schedule(declared)
    message = CloudEvent(
        id="1",
        source="//pubsub.googleapis.com/projects/p/topics/t",
        type=MESSAGE_TYPE,
        time=published,
        data={"name": "app-dev-nightly", "schedule": declared},
    )
    tick = schedule_tick(message, trigger, "nightly")
    assert (tick.id, tick.time) == ("1", due)
    assert tick.data == {"scheduled_time": due, "schedule": declared, "name": "nightly"}
    assert ScheduleTick.from_cloudevent(tick).to_dict() == tick.data


def test_a_tick_before_the_first_moment_there_is_is_a_400_not_an_exception() -> None:
    from portable_fn_gcp.events import MESSAGE_PUBLISHED
    from portable_fn_gcp.shim import deliver_cloudevent

    from portable_fn import function, schedule
    from portable_fn.runtime import spec_of

    @function(trigger=schedule("rate(7 minutes)"), dead_letter=False)
    def seven(event: CloudEvent[ScheduleTick]) -> None:
        raise AssertionError("no tick to run")

    published = "0001-01-01T00:00:05Z"  # the latest firing of a 7-minute rate would be in year 0
    message = {"message": {"data": "e30=", "messageId": "m-1", "publishTime": published}, "subscription": "s"}
    google = CloudEvent(
        id="m-1",
        source="//pubsub.googleapis.com/projects/p/topics/t",
        type=MESSAGE_PUBLISHED,
        time=published,
        datacontenttype="application/json",
        data=message,
    )
    answer = deliver_cloudevent(spec_of(seven), google, None)
    assert answer.status == 400 and "the tick cannot be read" in (answer.reason or "")

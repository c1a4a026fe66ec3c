"""CloudEvent: validation of every attribute, immutability, replace, pickling, equality, JSON format."""

from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from portable_fn.runtime import CloudEvent, InvalidEventError
from portable_fn.runtime.cloudevent import _check_time, from_native

REQUIRED = {"id": "1", "source": "/orders", "type": "com.example.order.created"}


def make(**changes: Any) -> CloudEvent[Any]:
    return CloudEvent(**{**REQUIRED, **changes})


# -- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["id", "source", "type"])
@pytest.mark.parametrize("value", ["", None, 7, b"x"])
def test_a_required_attribute_must_be_a_non_empty_string(name: str, value: Any) -> None:
    with pytest.raises(InvalidEventError, match=f"'{name}' is required") as info:
        make(**{name: value})
    assert info.value.attribute == name


@pytest.mark.parametrize("name", ["id", "source", "type", "specversion"])
def test_a_missing_required_attribute_is_named(name: str) -> None:
    obj = {"specversion": "1.0", **REQUIRED}
    del obj[name]
    with pytest.raises(InvalidEventError, match=f"'{name}' is missing") as info:
        CloudEvent.from_dict(obj)
    assert info.value.attribute == name


@pytest.mark.parametrize("specversion", ["0.3", "1", "2.0", 1.0])
def test_only_specversion_1_0_is_accepted(specversion: Any) -> None:
    with pytest.raises(InvalidEventError, match="only CloudEvents 1.0") as info:
        make(specversion=specversion)
    assert info.value.attribute == "specversion"


@pytest.mark.parametrize("name", ["datacontenttype", "dataschema", "subject"])
@pytest.mark.parametrize("value", ["", 3, b"x"])
def test_an_optional_attribute_must_be_a_non_empty_string_when_present(name: str, value: Any) -> None:
    with pytest.raises(InvalidEventError, match=f"'{name}' must be a non-empty string") as info:
        make(**{name: value})
    assert info.value.attribute == name


@pytest.mark.parametrize(
    "time",
    [
        "2018-04-05",
        "2018-04-05T17:31Z",
        "2018-04-05T17:31:00",
        "yesterday",
        "2018-04-05T17:31:00+0100",
        "2018-13-05T17:31:00Z",
        "2018-02-30T17:31:00Z",
        "2018-04-05T24:00:00Z",
        "2018-04-05T17:61:00Z",
        "2018-04-05T17:31:00+24:00",
        "0000-01-01T00:00:00Z",  # RFC 3339's grammar has a year 0000; no datetime (so no `timestamp`) does
        1522949460,
        "",
    ],
)
def test_bad_time_is_refused(time: Any) -> None:
    with pytest.raises(InvalidEventError, match="RFC 3339") as info:
        make(time=time)
    assert info.value.attribute == "time"


@pytest.mark.parametrize(
    "time",
    [
        "2018-04-05T17:31:00Z",
        "2018-04-05t17:31:00.123456789z",
        "2018-04-05T17:31:00-07:30",
        "1990-12-31T23:59:60Z",  # a leap second is valid RFC 3339
    ],
)
def test_time_is_kept_exactly_as_written(time: str) -> None:
    assert make(time=time).time == time


@pytest.mark.parametrize("year", [1900, 2000, 2023, 2024, 2100])
def test_a_day_is_accepted_exactly_when_the_calendar_has_it(year: int) -> None:
    """Every day number 01-31 of every month, against the calendar (leap years, 1900 and 2100 not)."""
    for month in range(1, 13):
        for day in range(1, 32):
            time = f"{year:04d}-{month:02d}-{day:02d}T10:00:00Z"
            try:
                date(year, month, day)
            except ValueError:
                with pytest.raises(InvalidEventError, match="RFC 3339"):
                    make(time=time)
                with pytest.raises(InvalidEventError, match="RFC 3339"):
                    _check_time(time)
            else:
                assert make(time=time).time == _check_time(time) == time


def test_a_datetime_time_becomes_rfc3339() -> None:
    assert make(time=datetime(2018, 4, 5, 17, 31, tzinfo=timezone.utc)).time == "2018-04-05T17:31:00Z"
    assert make(time=datetime(2018, 4, 5, 17, 31)).time == "2018-04-05T17:31:00Z"  # naive means UTC
    plus2 = datetime(2018, 4, 5, 17, 31, tzinfo=timezone(timedelta(hours=2)))
    assert make(time=plus2).time == "2018-04-05T17:31:00+02:00"
    assert make(time="2018-04-05T17:31:00.5+02:00").timestamp == plus2 + timedelta(milliseconds=500)


@pytest.mark.parametrize(
    "name", ["Upper", "with-dash", "with_underscore", "", "é", "id", "time", "data", "data_base64", 5]
)
def test_bad_extension_names_are_refused(name: Any) -> None:
    with pytest.raises(InvalidEventError, match="extension name") as info:
        make(extensions={name: "x"})
    assert info.value.attribute == str(name)


@pytest.mark.parametrize("value", [None, 1.5, ["a"], {"a": 1}])
def test_bad_extension_values_are_refused(value: Any) -> None:
    with pytest.raises(InvalidEventError, match="'ext'") as info:
        make(extensions={"ext": value})
    assert info.value.attribute == "ext"


def test_extensions_of_every_cloudevents_type_are_kept() -> None:
    event = make(extensions={"s": "x", "i": -3, "b": False, "bin": b"\x00", "0a": "digits are fine"})
    assert event.get("bin") == b"\x00" and event.get("b") is False and event.get("missing", 9) == 9
    assert event.attributes()["i"] == -3


# -- immutability, replace, pickling, equality --------------------------------------------------------


def test_events_are_immutable() -> None:
    event = make()
    with pytest.raises(AttributeError, match="replace"):
        event.id = "2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del event.source
    with pytest.raises(AttributeError):
        event.other = 1  # type: ignore[attr-defined]
    assert event.id == "1"


def test_replace_changes_a_copy_and_validates_it() -> None:
    event = make(subject="a", extensions={"x": "1"})
    changed = event.replace(subject="b", data={"n": 1}, extensions={"y": "2"})
    assert (changed.subject, changed.data, dict(changed.extensions)) == ("b", {"n": 1}, {"y": "2"})
    assert (event.subject, event.data, dict(event.extensions)) == ("a", None, {"x": "1"})
    with pytest.raises(InvalidEventError):
        event.replace(id="")
    with pytest.raises(TypeError, match="unknown fields \\['colour'\\]"):
        event.replace(colour="red")


def test_events_pickle_to_an_equal_event() -> None:
    event = make(subject="s", time="2018-04-05T17:31:00Z", data=b"\x00", extensions={"n": 1, "b": b"1"})
    copy = pickle.loads(pickle.dumps(event))
    assert copy == event and copy is not event
    assert copy.extensions == {"n": 1, "b": b"1"}


def test_equality_covers_every_attribute_extension_and_data() -> None:
    event = make(subject="s", extensions={"x": "1"}, data={"a": 1})
    assert event == make(subject="s", extensions={"x": "1"}, data={"a": 1})
    for other in (
        event.replace(subject="t"),
        event.replace(extensions={"x": "2"}),
        event.replace(data={"a": 2}),
        event.replace(time="2018-04-05T17:31:00Z"),
        event.replace(datacontenttype="application/json"),
    ):
        assert event != other
    assert event != dict(event.attributes())
    with pytest.raises(TypeError):
        hash(event)


def test_extensions_cannot_be_changed_through_the_mapping_passed_in() -> None:
    extensions = {"x": "1"}
    event = make(extensions=extensions)
    extensions["x"] = "2"
    assert event.extensions == {"x": "1"}


# -- JSON event format --------------------------------------------------------------------------------


def test_json_format_keeps_json_data_and_base64s_bytes() -> None:
    assert make(data={"a": 1}).to_dict()["data"] == {"a": 1}
    assert make(data=b"\x00\xff").to_dict()["data_base64"] == "AP8="
    assert "data" not in make().to_dict() and "data_base64" not in make().to_dict()
    assert CloudEvent.from_json(make(data="é").to_json().encode()) == make(data="é")


def test_from_dict_refuses_data_and_data_base64_together() -> None:
    with pytest.raises(InvalidEventError, match="both") as info:
        CloudEvent.from_dict({"specversion": "1.0", **REQUIRED, "data": 1, "data_base64": "AA=="})
    assert info.value.attribute == "data_base64"


@pytest.mark.parametrize("value", ["not base64!", 5])
def test_from_dict_refuses_bad_base64(value: Any) -> None:
    with pytest.raises(InvalidEventError, match="data_base64") as info:
        CloudEvent.from_dict({"specversion": "1.0", **REQUIRED, "data_base64": value})
    assert info.value.attribute == "data_base64"


@pytest.mark.parametrize("text", ["[]", "null", "{", ""])
def test_from_json_refuses_what_is_not_an_event_object(text: str) -> None:
    with pytest.raises(InvalidEventError, match="JSON"):
        CloudEvent.from_json(text)


# -- from_native: what provider decoders build per record ----------------------------------------------

NATIVE = {"id": "m-1", "source": "arn:aws:sqs:us-east-2:123456789012:orders", "type": "com.amazonaws.sqs.message"}
TIME = "2018-12-17T21:37:29.183Z"


class EpochMs:
    """A `(format, raw)` formatter that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, raw: str) -> str:
        self.calls += 1
        return (
            datetime.fromtimestamp(int(raw) / 1000, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )


def native(
    time: Any = TIME, extensions: Any = None, data: Any = None, subject: str | None = None, **required: Any
) -> CloudEvent[Any]:
    attrs = {**NATIVE, **required}
    return from_native(
        attrs["id"], attrs["source"], attrs["type"], "application/json", time, extensions, data, subject=subject
    )


def built(**changes: Any) -> CloudEvent[Any]:
    return CloudEvent(**{**NATIVE, "datacontenttype": "application/json", "time": TIME, **changes})


@pytest.mark.parametrize("name", ["id", "source"])
@pytest.mark.parametrize("value", ["", None, 7, b"x"])
def test_from_native_checks_id_and_source(name: str, value: Any) -> None:
    with pytest.raises(InvalidEventError, match=f"'{name}' is required") as info:
        native(**{name: value})
    assert info.value.attribute == name


@pytest.mark.parametrize(
    ("extensions", "attribute"),
    [
        ({"Partition-Key": "g"}, "Partition-Key"),
        ({"time": "x"}, "time"),
        ({"partitionkey": None}, "partitionkey"),
        ({"partitionkey": 1.5}, "partitionkey"),
    ],
)
def test_from_native_checks_the_extensions(extensions: dict[str, Any], attribute: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        native(extensions=extensions)
    assert info.value.attribute == attribute


def test_from_native_keeps_the_extensions_it_is_given() -> None:
    extensions = {"partitionkey": "group-1"}
    assert native(extensions=extensions).extensions is extensions  # not copied: the decoder made it
    assert native(extensions=None).extensions == {} == native(extensions={}).extensions


def test_from_native_is_a_cloudevent_like_any_other() -> None:
    event = native(data={"a": 1}, extensions={"partitionkey": "g"})
    assert event.__class__ is CloudEvent and event.specversion == "1.0" and event.dataschema is None
    assert event == built(data={"a": 1}, extensions={"partitionkey": "g"})
    with pytest.raises(AttributeError, match="replace"):
        event.time = "2020-01-01T00:00:00Z"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="no attribute 'colour'"):
        event.colour  # type: ignore[attr-defined]  # noqa: B018


def test_a_deferred_time_is_formatted_on_first_read_only() -> None:
    epoch_ms = EpochMs()
    event = native(time=(epoch_ms, "1545082649183"))
    assert epoch_ms.calls == 0  # building the event formats nothing
    assert event.time == TIME and event.time == TIME
    assert epoch_ms.calls == 1  # formatted once, then kept
    with pytest.raises(AttributeError):
        event.time = "2020-01-01T00:00:00Z"  # type: ignore[misc]


@pytest.mark.parametrize(
    "read",
    [
        lambda e: e.to_dict(),
        lambda e: e.to_json(),
        lambda e: repr(e),
        lambda e: e.attributes(),
        lambda e: pickle.dumps(e),
        lambda e: e.get("time"),
        lambda e: e.timestamp,
        lambda e: e.with_data(None).time,
        lambda e: e.replace(subject="s").time,
    ],
)
def test_an_event_with_a_deferred_time_reads_as_one_built_with_the_time(read: Any) -> None:
    epoch_ms = EpochMs()
    deferred = native(time=(epoch_ms, "1545082649183"), data={"n": 1}, extensions={"partitionkey": "g"})
    same = built(data={"n": 1}, extensions={"partitionkey": "g"})
    assert read(deferred) == read(same)
    assert epoch_ms.calls == 1


def test_an_event_with_a_deferred_time_equals_and_pickles_like_one_built_with_the_time() -> None:
    deferred = native(time=(lambda raw: TIME, "x"), data={"n": 1})  # a lambda: the pickle cannot carry it
    assert deferred == built(data={"n": 1}) and built(data={"n": 1}) == deferred
    assert deferred != built(data={"n": 1}, time="2018-12-17T21:37:29.184Z")
    copy = pickle.loads(pickle.dumps(native(time=(lambda raw: TIME, "x"), data={"n": 1})))
    assert copy == built(data={"n": 1}) and copy.time == TIME
    assert pickle.dumps(native(time=(lambda raw: TIME, "x"))) == pickle.dumps(built())


def test_from_native_without_a_time_and_with_a_time_string() -> None:
    assert native(time=None).time is None and native(time=None) == built(time=None)
    assert native(time=TIME).time == TIME


def test_from_native_subject() -> None:
    event = native(subject="docs/report.pdf")
    assert event.subject == "docs/report.pdf" and event == built(subject="docs/report.pdf")
    assert event.to_dict() == built(subject="docs/report.pdf").to_dict()
    assert native().subject is None and native() != event


def test_checked_is_the_constructor_with_positional_attributes() -> None:
    from portable_fn.runtime.cloudevent import checked

    extensions = {"traceparent": "00-1-2-01"}
    event = checked(
        "1", "/s", "t", "1.0", "application/json", None, "sub", "2024-02-29T10:00:00Z", extensions, {"n": 1}
    )
    assert event == CloudEvent(
        id="1",
        source="/s",
        type="t",
        datacontenttype="application/json",
        subject="sub",
        time="2024-02-29T10:00:00Z",
        extensions=extensions,
        data={"n": 1},
    )
    assert event.extensions is not extensions and type(event) is CloudEvent
    with pytest.raises(InvalidEventError, match="'time'"):
        checked("1", "/s", "t", "1.0", None, None, None, "2023-02-29T10:00:00Z", None, None)
    with pytest.raises(InvalidEventError, match="'type'"):
        checked("1", "/s", "", "1.0", None, None, None, None, None, None)


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2026-05-01T10:00:00Z", 0),
        ("2026-05-01T10:00:00.5Z", 500000),
        ("2026-05-01T10:00:00.123z", 123000),
        ("2026-05-01T10:00:00.1234567Z", 123456),
        ("2026-05-01T10:00:00.123456789+02:00", 123456),
    ],
)
def test_rfc3339_times_read_with_any_fraction_on_every_python(text: str, micros: int) -> None:
    """Python 3.10's fromisoformat reads 3 or 6 fraction digits only; RFC 3339 (and Azure's 7) allow any."""
    from portable_fn.runtime.cloudevent import parse_rfc3339

    moment = parse_rfc3339(text)
    assert moment.microsecond == micros and moment.utcoffset() is not None


@pytest.mark.parametrize(
    ("time", "last_microsecond"),
    [
        ("1990-12-31T23:59:60Z", datetime(1990, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)),
        ("2016-12-31T23:59:60.5+01:00", datetime(2016, 12, 31, 22, 59, 59, 999999, tzinfo=timezone.utc)),
    ],
)
def test_a_leap_second_reads_as_the_last_microsecond_of_its_minute(time: str, last_microsecond: datetime) -> None:
    # Valid RFC 3339 and kept as written, but `event.timestamp` raised ValueError in the handler.
    event = make(time=time)
    assert event.time == time and event.timestamp == last_microsecond


def test_json_nested_as_deep_as_every_reader_reads_is_read() -> None:
    from portable_fn.runtime.cloudevent import MAX_JSON_DEPTH, parse_json

    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(nested) is not None
    assert parse_json(f'"{nested}{nested}"') == nested * 2  # brackets in a string are text, not nesting


@pytest.mark.parametrize("depth", [501, 990, 5000])
def test_json_nested_past_the_depth_every_reader_stops_at_is_refused_alike(depth: int) -> None:
    # 990 levels were read, then crashed the function that dead-lettered them (writing runs deeper in the stack).
    from portable_fn.runtime.cloudevent import MAX_JSON_DEPTH, loads, parse_json

    nested = "[" * depth + "]" * depth
    with pytest.raises(ValueError, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        parse_json(nested)
    with pytest.raises(InvalidEventError, match="deeper than"):
        loads(nested.encode(), "The body")


def test_a_native_source_that_is_not_a_uri_reference_is_percent_encoded_or_refused() -> None:
    # An ARN with a space was delivered as is, then `replace()` (dead-lettering it) refused it: an exception.
    event = from_native("1", "arn:aws:sqs:eu-west-1:1:my queue", "t", None, None, None, None)
    assert event.source == "arn:aws:sqs:eu-west-1:1:my%20queue" and event.replace(subject="s").source == event.source
    with pytest.raises(InvalidEventError, match="URI-reference"):
        from_native("1", "::::", "t", None, None, None, None)

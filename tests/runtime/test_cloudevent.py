"""CloudEvent: validation of every attribute, immutability, replace, pickling, equality, JSON format."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from portable_fn.runtime import CloudEvent, InvalidEventError

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


@pytest.mark.parametrize("time", [
    "2018-04-05", "2018-04-05T17:31Z", "2018-04-05T17:31:00", "yesterday", "2018-04-05T17:31:00+0100",
    "2018-13-05T17:31:00Z", "2018-02-30T17:31:00Z", "2018-04-05T24:00:00Z", "2018-04-05T17:61:00Z",
    "2018-04-05T17:31:00+24:00", 1522949460, "",
])
def test_bad_time_is_refused(time: Any) -> None:
    with pytest.raises(InvalidEventError, match="RFC 3339") as info:
        make(time=time)
    assert info.value.attribute == "time"


@pytest.mark.parametrize("time", [
    "2018-04-05T17:31:00Z", "2018-04-05t17:31:00.123456789z", "2018-04-05T17:31:00-07:30",
    "1990-12-31T23:59:60Z",  # a leap second is valid RFC 3339
])
def test_time_is_kept_exactly_as_written(time: str) -> None:
    assert make(time=time).time == time


def test_a_datetime_time_becomes_rfc3339() -> None:
    assert make(time=datetime(2018, 4, 5, 17, 31, tzinfo=timezone.utc)).time == "2018-04-05T17:31:00Z"
    assert make(time=datetime(2018, 4, 5, 17, 31)).time == "2018-04-05T17:31:00Z"  # naive means UTC
    plus2 = datetime(2018, 4, 5, 17, 31, tzinfo=timezone(timedelta(hours=2)))
    assert make(time=plus2).time == "2018-04-05T17:31:00+02:00"
    assert make(time="2018-04-05T17:31:00.5+02:00").timestamp == plus2 + timedelta(milliseconds=500)


@pytest.mark.parametrize("name", ["Upper", "with-dash", "with_underscore", "", "é", "id", "time", "data",
                                  "data_base64", 5])
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
    for other in (event.replace(subject="t"), event.replace(extensions={"x": "2"}),
                  event.replace(data={"a": 2}), event.replace(time="2018-04-05T17:31:00Z"),
                  event.replace(datacontenttype="application/json")):
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

"""The HTTP protocol binding: round trips of random events through every mode, and the edge cases."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portable_fn.runtime import CloudEvent, InvalidEventError
from portable_fn.runtime.http_binding import (
    BATCH,
    STRUCTURED,
    decode_header_value,
    encode_header_value,
    from_http,
    from_http_batch,
    mode,
    to_batch,
    to_binary,
    to_structured,
    undeclared_data,
)

EVENT = CloudEvent(id="1", source="/orders", type="com.example.order.created")
BINARY = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/orders", "ce-type": "com.example.order.created"}


# -- round trips --------------------------------------------------------------------------------------


@pytest.mark.slow  # 200 generated events through binary mode
@settings(max_examples=200)
@given(st.data())
def test_binary_mode_round_trips(ce: Any, forms: Any, data: st.DataObject) -> None:
    event = data.draw(ce.events())
    headers, body = to_binary(event)
    assert all(v.isascii() and v.isprintable() for v in headers.values()), headers
    assert from_http(headers, body) == forms.binary(event)


@pytest.mark.slow  # 200 generated events through the JSON format
@settings(max_examples=200)
@given(st.data())
def test_structured_mode_round_trips(ce: Any, forms: Any, data: st.DataObject) -> None:
    event = data.draw(ce.events())
    headers, body = to_structured(event)
    assert headers == {"content-type": STRUCTURED}
    assert from_http(headers, body) == forms.structured(event)
    assert CloudEvent.from_json(event.to_json()) == forms.structured(event)


@pytest.mark.slow  # 60 generated batches
@settings(max_examples=60)
@given(st.data())
def test_batch_mode_round_trips(ce: Any, forms: Any, data: st.DataObject) -> None:
    events = data.draw(st.lists(ce.events(), max_size=5))
    headers, body = to_batch(events)
    assert headers == {"content-type": BATCH}
    assert from_http_batch(headers, body) == [forms.structured(e) for e in events]


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_header_values_are_percent_encoded_and_back(text: str) -> None:
    encoded = encode_header_value(text)
    assert all(0x21 <= ord(c) <= 0x7E and c not in ' "' for c in encoded)
    assert decode_header_value(encoded) == text


def test_header_encoding_follows_the_binding_examples() -> None:
    # The binding spec's own example (3.1.3.2): "Euro € 😀" -> "Euro%20%E2%82%AC%20%F0%9F%98%80".
    assert encode_header_value("Euro € 😀") == "Euro%20%E2%82%AC%20%F0%9F%98%80"
    assert encode_header_value('a"b%c') == "a%22b%25c"
    assert encode_header_value(True) == "true"
    assert encode_header_value(b"\x00\xff") == "AP8="


def test_batch_with_no_events_is_an_empty_list() -> None:
    assert from_http_batch(*to_batch([])) == []


def test_a_single_event_message_reads_as_a_batch_of_one() -> None:
    assert from_http_batch(*to_structured(EVENT)) == [EVENT]
    assert from_http_batch(*to_binary(EVENT)) == [EVENT]


# -- modes and headers --------------------------------------------------------------------------------


def test_header_names_are_case_insensitive() -> None:
    headers = {k.upper(): v for k, v in BINARY.items()} | {"Content-Type": "text/plain"}
    event = from_http(headers, b"hi")
    assert event == EVENT.replace(datacontenttype="text/plain", data="hi")
    assert from_http({"CONTENT-TYPE": "Application/CloudEvents+JSON"}, EVENT.to_json()) == EVENT


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (BINARY, "binary"),
        ({"content-type": "application/cloudevents+json; charset=utf-8"}, "structured"),
        ({"content-type": "application/cloudevents-batch+json"}, "batch"),
        ({"content-type": "application/json"}, None),
    ],
)
def test_mode_is_told_from_the_headers(headers: dict[str, str], expected: str | None) -> None:
    assert mode(headers) == expected


def test_a_message_that_is_no_cloudevent_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="not a CloudEvent") as info:
        from_http({"content-type": "application/json"}, b"{}")
    assert info.value.attribute == "specversion"


def test_unknown_structured_format_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="'application/cloudevents\\+xml' are not supported"):
        from_http({"content-type": "application/cloudevents+xml"}, b"<event/>")


def test_a_batch_read_as_one_event_points_to_from_http_batch() -> None:
    with pytest.raises(InvalidEventError, match="from_http_batch"):
        from_http(*to_batch([EVENT]))


@pytest.mark.parametrize("body", [b"{}", b'[{"id": "1"}]', b"not json", b""])
def test_a_bad_batch_body_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidEventError):
        from_http_batch({"content-type": BATCH}, body)


def test_other_headers_do_not_become_attributes() -> None:
    event = from_http(BINARY | {"user-agent": "curl", "x-ce-id": "2", "cex-foo": "bar"}, b"")
    assert event == EVENT


def test_a_header_with_broken_percent_encoding_names_its_attribute() -> None:
    with pytest.raises(InvalidEventError, match="ce-subject") as info:
        from_http(BINARY | {"ce-subject": "%C3"}, b"")
    assert info.value.attribute == "subject"


def test_a_missing_required_header_is_named() -> None:
    headers = {k: v for k, v in BINARY.items() if k != "ce-source"}
    with pytest.raises(InvalidEventError) as info:
        from_http(headers, b"")
    assert info.value.attribute == "source"


# -- data in binary mode ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", "", None])
def test_an_empty_body_is_no_data(body: Any) -> None:
    assert from_http(BINARY | {"content-type": "application/json"}, body).data is None
    assert from_http(BINARY, body).data is None


def test_text_is_decoded_with_its_charset() -> None:
    text = "Grüße 🌎"
    for charset in ("utf-8", "utf-16", "latin-1"):
        body = text.encode(charset, errors="replace") if charset == "latin-1" else text.encode(charset)
        ct = f'text/plain; charset="{charset}"'
        assert from_http(BINARY | {"content-type": ct}, body).data == body.decode(charset)
    assert from_http(BINARY | {"content-type": "text/plain"}, text.encode()).data == text


def test_text_in_a_charset_it_cannot_be_read_in_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="cannot be read as text") as info:
        from_http(BINARY | {"content-type": "text/plain; charset=utf-8"}, b"\xff\xfe\xfa")
    assert info.value.attribute == "datacontenttype"
    with pytest.raises(InvalidEventError, match="bogus"):
        from_http(BINARY | {"content-type": "text/plain; charset=bogus"}, b"hi")


def test_text_data_that_its_charset_cannot_hold_is_refused_when_sending() -> None:
    event = EVENT.replace(datacontenttype="text/plain; charset=us-ascii", data="🌎")
    with pytest.raises(InvalidEventError, match="us-ascii") as info:
        to_binary(event)
    assert info.value.attribute == "datacontenttype"


@pytest.mark.parametrize("body", [b"{", b"\xff", b"{'a': 1}", b"NaN-ish"])
def test_invalid_json_body_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidEventError, match="not valid JSON"):
        from_http(BINARY | {"content-type": "application/json"}, body)
    with pytest.raises(InvalidEventError, match="not valid JSON"):
        from_http({"content-type": STRUCTURED}, body)


@pytest.mark.parametrize("content_type", ["application/json", "text/json", "application/geo+json; x=1"])
def test_json_media_types_are_parsed(content_type: str) -> None:
    assert from_http(BINARY | {"content-type": content_type}, b'{"a": [1]}').data == {"a": [1]}


def test_opaque_and_untyped_bodies_stay_bytes() -> None:
    assert from_http(BINARY | {"content-type": "image/png"}, b"\x89PNG").data == b"\x89PNG"
    assert from_http(BINARY, b'{"a": 1}').data == b'{"a": 1}'


def test_binary_mode_writes_json_data_with_its_content_type() -> None:
    headers, body = to_binary(EVENT.replace(data={"a": "é"}))
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"a": "é"}
    headers, body = to_binary(EVENT.replace(data=b"\x00"))
    assert "content-type" not in headers and body == b"\x00"


def test_structured_mode_writes_bytes_as_data_base64() -> None:
    _, body = to_structured(EVENT.replace(data=b"\x00\xff", extensions={"sig": b"\x01"}))
    assert json.loads(body) == {**EVENT.attributes(), "sig": "AQ==", "data_base64": "AP8="}


@pytest.mark.parametrize(
    ("body", "data", "content_type"),
    [
        (b"", None, None),
        ("", None, None),
        (b'{"id": "o-1"}', {"id": "o-1"}, "application/json"),
        ('["a", 1]', ["a", 1], "application/json"),
        ("plain text, héllo\n\ttabbed".encode(), "plain text, héllo\n\ttabbed", "text/plain; charset=utf-8"),
        ("plain text, héllo", "plain text, héllo", "text/plain; charset=utf-8"),
        (b"\x00\x01\xfe\xff binary", b"\x00\x01\xfe\xff binary", "application/octet-stream"),
        (b"\xff\xfe", b"\xff\xfe", "application/octet-stream"),
        ("bell\x07", b"bell\x07", "application/octet-stream"),
        (b"{not json", "{not json", "text/plain; charset=utf-8"),
        # JSON after a byte order mark: parsed from bytes (Pub/Sub, queues) and now from text (SQS) alike
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}, "application/json"),
        ('\ufeff{"a": 1}', {"a": 1}, "application/json"),
    ],
)
def test_an_undeclared_body_reads_alike_as_bytes_or_text(
    body: bytes | str, data: object, content_type: str | None
) -> None:
    """The one rule every cloud and the dev host use for a message whose sender declared no media type."""
    assert undeclared_data(body) == (data, content_type)


def test_an_event_holding_half_a_surrogate_pair_is_written_in_every_mode() -> None:
    """What a GCP dead letter is made of: the event a handler dead-lettered held `"\\udc00"` in its data and its
    id (JSON reads both), and writing it raised, so functions-framework answered its HTML 500 for ever."""
    event = CloudEvent(id="m\udc00", source="/s", type="t", data={"x": "\udc00"})
    headers, body = to_binary(event)
    assert json.loads(body) == {"x": "\udc00"} and headers["ce-id"].isascii()
    assert json.loads(to_structured(event)[1])["data"] == {"x": "\udc00"}

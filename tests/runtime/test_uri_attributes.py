"""`source` is a URI-reference and `dataschema` a URI (RFC 3986), in every way an event is made; JSON
nested too deeply to parse is an InvalidEventError (a 400), never a RecursionError."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portable_fn.runtime import CloudEvent, InvalidEventError
from portable_fn.runtime.cloudevent import uri_problem, uri_reference
from portable_fn.runtime.http import Request
from portable_fn.runtime.http_binding import STRUCTURED, encode_header_value, from_http, from_http_batch

# The CloudEvents spec's own examples of `source`, and other shapes the providers send.
SOURCES = [
    "https://github.com/cloudevents",
    "mailto:cncf-wg-serverless@lists.cncf.io",
    "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    "cloudevents/spec/pull/123",
    "/sensors/tn-1234567/alerts",
    "1-555-123-4567",
    "arn:aws:sqs:us-east-1:123456789012:orders",
    "//storage.googleapis.com/projects/_/buckets/photos",
    "/a%20b",
    "//[::1]:8080/x",
    "?q=1",
    "#frag",
]
NOT_SOURCES = {
    "a b": "' '",
    "/orders\n": "'\\n'",
    "/caf\u00e9": "'é'",
    "<x>": "'<'",
    '/a"b': "'\"'",
    "/a%2": "'%'",
    "/a%zz": "'%'",
    "1http://x": "scheme",
    ":x": "scheme",
    "a#b#c": "'#'",
    "/x[0]": "'['",
    "/a\\b": "'\\\\'",
    "/{id}": "'{'",
}
SCHEMAS = ["https://example.com/schemas/order.json", "urn:example:order", "https://x/s.json#/defs/a"]
NOT_SCHEMAS = ["/schemas/order.json", "order.json", "//example.com/s.json", "https://x/a b"]


def binary(**attrs: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": "1",
        "ce-type": "t",
        "ce-source": "/s",
        **{"ce-" + k: encode_header_value(v) for k, v in attrs.items()},
    }


def structured(**attrs: str) -> tuple[dict[str, str], bytes]:
    body = {"specversion": "1.0", "id": "1", "type": "t", "source": "/s", **attrs}
    return {"content-type": STRUCTURED}, json.dumps(body).encode()


@pytest.mark.parametrize("source", SOURCES)
def test_uri_references_are_sources(source: str) -> None:
    assert uri_problem(source) is None
    assert CloudEvent(id="1", source=source, type="t").source == source
    assert from_http(binary(source=source), b"").source == source
    assert from_http(*structured(source=source)).source == source


@pytest.mark.parametrize(("source", "named"), NOT_SOURCES.items())
def test_a_source_that_is_no_uri_reference_is_refused_saying_why(source: str, named: str) -> None:
    for make in (
        lambda: CloudEvent(id="1", source=source, type="t"),
        lambda: from_http(*structured(source=source)),
        lambda: from_http_batch(
            {"content-type": "application/cloudevents-batch+json"},
            json.dumps([{"specversion": "1.0", "id": "1", "type": "t", "source": source}]),
        ),
    ):
        with pytest.raises(InvalidEventError, match="'source' must be a URI-reference") as info:
            make()
        assert info.value.attribute == "source"
        assert named in str(info.value)


@pytest.mark.parametrize("header", ["a%20b", "%3Cx%3E", "/a%25zz"])
def test_a_binary_mode_source_is_checked_after_percent_decoding(header: str) -> None:
    with pytest.raises(InvalidEventError, match="URI-reference") as info:
        from_http({**binary(), "ce-source": header}, b"")
    assert info.value.attribute == "source"


@pytest.mark.parametrize("schema", SCHEMAS)
def test_absolute_uris_are_dataschemas(schema: str) -> None:
    assert CloudEvent(id="1", source="/s", type="t", dataschema=schema).dataschema == schema
    assert from_http(binary(dataschema=schema), b"").dataschema == schema
    assert from_http(*structured(dataschema=schema)).dataschema == schema


@pytest.mark.parametrize("schema", NOT_SCHEMAS)
def test_a_dataschema_that_is_no_absolute_uri_is_refused(schema: str) -> None:
    for make in (
        lambda: CloudEvent(id="1", source="/s", type="t", dataschema=schema),
        lambda: from_http(*structured(dataschema=schema)),
    ):
        with pytest.raises(InvalidEventError, match="'dataschema' must be an absolute URI") as info:
            make()
        assert info.value.attribute == "dataschema"


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "read",
    [
        lambda: from_http({**binary(), "content-type": "application/json"}, DEEP),
        lambda: from_http({"content-type": STRUCTURED}, '{"data":' + DEEP + "}"),
        lambda: from_http_batch({"content-type": "application/cloudevents-batch+json"}, DEEP),
        lambda: Request("POST", "/", body=DEEP).json(),
        lambda: CloudEvent.from_json('{"data":' + DEEP + "}"),
    ],
    ids=["binary", "structured", "batch", "request", "from_json"],
)
def test_json_nested_too_deeply_is_invalid_input(read: Any) -> None:
    with pytest.raises(InvalidEventError, match="too deeply"):
        read()


@pytest.mark.parametrize(
    ("native", "expected"),
    [
        ("arn:aws:sns:us-east-2:123456789012:orders", "arn:aws:sns:us-east-2:123456789012:orders"),
        ("arn:aws:sns:us-east-2:123456789012:sns-la ...", "arn:aws:sns:us-east-2:123456789012:sns-la%20..."),
        ("my app/é", "my%20app/%C3%A9"),
        ("50% off", "50%25%20off"),
    ],
)
def test_a_native_source_becomes_a_uri_reference(native: str, expected: str) -> None:
    """A decoder's `source` from a native field is kept when it is a URI-reference, else percent-encoded,
    so a record with an odd ARN is delivered instead of failed."""
    assert uri_reference(native) == expected
    assert uri_problem(expected) is None
    assert CloudEvent(id="1", source=uri_reference(native), type="t").source == expected

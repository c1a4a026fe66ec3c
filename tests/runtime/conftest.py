"""Hypothesis strategies for valid CloudEvents, shared by the HTTP binding and SDK bridge tests.

Strategies are handed out by the `ce` fixture (tests draw from them with `st.data()`), so no test module
imports another. Every strategy builds events whose data agrees with their `datacontenttype`, because
only those can survive binary mode unchanged: JSON values under JSON media types, text under text media
types, bytes under opaque ones.
"""

from __future__ import annotations

import base64
import functools
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import strategies as st

from portable_fn.runtime import CloudEvent
from portable_fn.runtime.cloudevent import CONTEXT_ATTRIBUTES
from portable_fn.runtime.http_binding import decode_header_value, encode_header_value

# Characters the percent-encoding of header values must get right, and some it must leave alone.
HOSTILE = [
    "%",
    "%25",
    "%C3%A9",
    "%zz",
    "%C3",
    " ",
    '"',
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x7f",
    "é",
    "🌎",
    "\u2028",
    "\ufeff",
    "ß",
    "+",
    "/",
    ":",
    ";",
    ",",
    "=",
    "'",
    "\\",
    "~",
]

JSON_TYPES = ["application/json", "application/json; charset=utf-8", "text/json", "application/vnd.example+json"]
TEXT_TYPES = ["text/plain", "text/plain; charset=utf-8", "text/csv", "application/xml; charset=utf-8"]
OPAQUE_TYPES = ["application/octet-stream", "image/png"]

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def _hostile_text(min_size: int = 1) -> st.SearchStrategy[str]:
    chars = st.one_of(st.sampled_from(HOSTILE), st.characters(exclude_categories=("Cs",)))
    return st.lists(chars, min_size=min_size, max_size=12).map("".join).filter(lambda s: len(s) >= min_size)


# URI prefixes a source or dataschema may start with; the rest is hostile text, percent-encoded.
URI_PREFIXES = ["", "/", "//example.com/", "https://example.com/a?b=1#", "urn:example:", "mailto:", "x-1.a+b:"]


def _uri_references(absolute: bool = False) -> st.SearchStrategy[str]:
    """RFC 3986 URI-references (with `absolute`, URIs) made of hostile text, percent-encoded."""
    prefixes = [p for p in URI_PREFIXES if ":" in p] if absolute else URI_PREFIXES
    return st.builds(
        lambda prefix, text: prefix + quote(text, safe="/?=&+,;'~!$*()@"), st.sampled_from(prefixes), _hostile_text()
    )


def _rfc3339(upper_only: bool, max_fraction: int) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: st.DrawFn) -> str:
        moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
        text = moment.isoformat(timespec="seconds")
        digits = draw(st.integers(0, max_fraction))
        if digits:
            text += "." + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
        minutes = draw(st.one_of(st.none(), st.integers(-23 * 60 - 59, 23 * 60 + 59)))
        if minutes is None:
            text += "Z"
        else:
            sign, value = ("-", -minutes) if minutes < 0 else ("+", minutes)
            text += f"{sign}{value // 60:02d}:{value % 60:02d}"
        if not upper_only and draw(st.booleans()):
            text = text.lower()
        return text

    return build()


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        _hostile_text(0),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_hostile_text(0), inner, max_size=4)),
        max_leaves=10,
    )


class EventStrategies:
    """What the `ce` fixture hands out; `sdk_safe=True` variants stay inside what SDKs can carry."""

    def events(
        self,
        *,
        upper_time: bool = False,
        sdk_safe: bool = False,
        with_absent_type: bool = True,
    ) -> st.SearchStrategy[CloudEvent[Any]]:
        """Valid events with hostile strings; `sdk_safe` drops bytes/bool extensions and keeps times
        parseable by dateutil (at most 6 fraction digits, upper case)."""
        return _events(upper_time or sdk_safe, sdk_safe, with_absent_type)


def _extension_values(sdk_safe: bool) -> st.SearchStrategy[Any]:
    if sdk_safe:
        return st.one_of(_hostile_text(), INT32)
    return st.one_of(_hostile_text(), INT32, st.booleans(), st.binary(max_size=8))


def _data_and_type(with_absent_type: bool) -> st.SearchStrategy[tuple[Any, str | None]]:
    json_types = st.sampled_from(JSON_TYPES + ([None] if with_absent_type else []))
    opaque_types = st.sampled_from(OPAQUE_TYPES + ([None] if with_absent_type else []))
    return st.one_of(
        st.tuples(st.none(), st.one_of(st.none(), st.sampled_from(JSON_TYPES + TEXT_TYPES))),
        st.tuples(_json_values().filter(lambda v: v is not None), json_types),
        st.tuples(_hostile_text(), st.sampled_from(TEXT_TYPES)),
        st.tuples(st.binary(min_size=1, max_size=24), opaque_types),
    )


@functools.cache  # built once per variant: building strategies per example cost more than drawing them
def _events(upper_time: bool, sdk_safe: bool, with_absent_type: bool) -> st.SearchStrategy[CloudEvent[Any]]:
    names = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True).filter(
        lambda n: n not in CONTEXT_ATTRIBUTES and n != "data"
    )
    optional_text = st.one_of(st.none(), _hostile_text())
    data_and_type, text, uri = _data_and_type(with_absent_type), _hostile_text(), _uri_references()
    dataschema = st.one_of(st.none(), _uri_references(absolute=True))
    time = st.one_of(st.none(), _rfc3339(upper_time, 6 if sdk_safe else 9))
    extensions = st.dictionaries(names, _extension_values(sdk_safe), max_size=4)

    @st.composite
    def build(draw: st.DrawFn) -> CloudEvent[Any]:
        data, content_type = draw(data_and_type)
        return CloudEvent(
            id=draw(text),
            source=draw(uri),
            type=draw(text),
            subject=draw(optional_text),
            dataschema=draw(dataschema),
            time=draw(time),
            datacontenttype=content_type,
            data=data,
            extensions=draw(extensions),
        )

    return build()


@pytest.fixture(scope="session")
def ce() -> EventStrategies:
    """Hypothesis strategies for valid CloudEvents."""
    return EventStrategies()


def binary_form(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """What binary mode can carry of `event`: extensions become their header strings, and data without a
    datacontenttype gets the `application/json` it was sent as (bytes excepted)."""
    extensions = {k: decode_header_value(encode_header_value(v)) for k, v in event.extensions.items()}
    content_type = event.datacontenttype
    if content_type is None and event.data is not None and not isinstance(event.data, bytes):
        content_type = "application/json"
    return event.replace(extensions=extensions, datacontenttype=content_type)


def structured_form(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """What the JSON format can carry of `event`: Binary extensions become base64 strings."""
    extensions = {
        k: base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for k, v in event.extensions.items()
    }
    return event.replace(extensions=extensions)


@pytest.fixture(scope="session")
def forms() -> Any:
    """`binary_form` and `structured_form`: the expected result of a round trip through each mode."""
    import types

    return types.SimpleNamespace(binary=binary_form, structured=structured_form)

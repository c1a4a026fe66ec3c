"""`parse_json` is `json.loads`: the same value, or the same error (message, document and position), for
str and bytes, JSON or not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portable_fn.runtime.cloudevent import parse_json

CASES: list[str | bytes] = [
    '{"a":1}',
    b'{"a":[1,2.5,"x"]}',
    "test message",
    b"test message",
    "",
    b"",
    " {}",
    "{} ",
    "{}x",
    "{",
    '"unterminated',
    '{"a":}',
    "\ufeff{}",
    b"\xef\xbb\xbf{}",
    "nul",
    "NaN",
    "-",
    "[1,]",
    "tru",
    '{"a":1}'.encode("utf-16"),
    '{"a":1}'.encode("utf-16-le"),
    '"\\ud800"',
    b"\xff\xfe",
    b'"caf\xc3\xa9"',
    b'"\xe9"',
    "1e5",
    "0.1",
    "[]",
    "null",
    "\x00",
]


def outcome(parse: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "value", parse(text)
    except json.JSONDecodeError as exc:
        return "json error", (exc.msg, exc.doc, exc.pos)
    except ValueError as exc:  # UnicodeDecodeError from json.loads on bytes
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", CASES)
def test_the_same_value_or_error_as_json_loads(text: str | bytes) -> None:
    assert outcome(parse_json, text) == outcome(json.loads, text)


@given(
    st.one_of(
        st.text(),
        st.binary(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
            lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
            max_leaves=8,
        ).map(json.dumps),
    )
)
def test_any_text_parses_as_json_loads_parses_it(text: str | bytes) -> None:
    assert outcome(parse_json, text) == outcome(json.loads, text)
    if isinstance(text, str):
        assert outcome(parse_json, text.encode("utf-8", "surrogatepass")) == outcome(
            json.loads, text.encode("utf-8", "surrogatepass")
        )


def test_an_integer_longer_than_python_reads_is_refused_in_our_words() -> None:
    """Python's message told a sender to call sys.set_int_max_str_digits(), which only the receiver can."""
    with pytest.raises(ValueError, match="integer of more than 4,300 digits") as caught:
        parse_json('{"n": ' + "1" * 5000 + "}")
    assert "sys." not in str(caught.value)

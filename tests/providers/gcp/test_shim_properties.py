"""Property test of the Cloud Functions shim: the real corpus (functions-framework-conformance, in
tests/data/gcp: every CloudEvent input as the binary-mode request Eventarc sends, every legacy
background event, and the Pub/Sub push bodies those events carry), mutated, sent through the real
functions-framework app of the generated main.py (flask's test client, the framework's whole WSGI path)
and, for SDK events the framework cannot make (attributes of any type, as another SDK line could hand
over), straight to the entry point.

Whatever the mutation (a value replaced by another JSON type, a key dropped or added, a huge number, a
value nested), the answer is a well-formed outcome and nothing else leaves the entry point:

- 2xx, or a 4xx; a 4xx the shim answers is JSON `{"error": "<why>"}` (the framework's own refusals of
  what is no CloudEvent at all are its HTML pages); never a 5xx, as these handlers never ask for a retry;
- no exception raised inside portable_fn escapes (the framework's app propagates unanswered exceptions
  here instead of answering its 500; one raised by the framework before it calls the entry point, such
  as the `cloudevents` SDK failing on a mutated header, is the framework's and not counted);
- no allocation grows with a number found in the input.
"""

from __future__ import annotations

import copy
import json
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from portable_fn_gcp.shim import entry_point
from werkzeug.exceptions import HTTPException

from .conftest import CONFORMANCE

MAX_PEAK = 4 * 1024 * 1024  # far above what one of these events needs, far below any number drawn
BIG = [10**12, 10**9, 2**63, -(10**12), 10**30, 0, -1]
TARGETS = ["quiet", "typed", "stored"]  # a plain CloudEvent, CloudEvent[dict], CloudEvent[StorageObject]


def load(path: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


BINARY = {p.name: load(p) for p in sorted(CONFORMANCE.glob("*-cloudevent-input.json"))}
LEGACY = {p.name: load(p) for p in sorted(CONFORMANCE.glob("*-legacy-input.json"))}
PUSH = {name: event["data"] for name, event in BINARY.items() if name.startswith("pubsub")}

odd = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(BIG),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "1.0",
            "0.3",
            "9" * 40,
            "not base64!",
            "%",
            "%FF",
            "caf%C3%A9",
            "{",
            "[]",
            "/",
            "application/json",
            "text/plain; charset=nope",
            "application/cloudevents+json",
            "google.cloud.pubsub.topic.v1.messagePublished",
            "2024-13-45T99:00:00Z",
            "\x00",
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(
        st.sampled_from(["content-type", "ce-specversion", "ce-id", "a"]) | st.text(max_size=4),
        st.integers() | st.none() | st.sampled_from(["1.0", "x"]),
        max_size=3,
    ),
)


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """`value` with one change somewhere inside: a member replaced by an odd value, removed, added, nested
    in a list or an object, or changed further down."""
    if isinstance(value, dict) and value and depth < 5:
        key = draw(st.sampled_from(sorted(value)))
        how = draw(st.sampled_from(["replace", "drop", "inside", "inside", "add", "nest"]))
        changed = dict(value)
        if how == "replace":
            changed[key] = draw(odd)
        elif how == "drop":
            del changed[key]
        elif how == "add":
            changed[
                draw(st.sampled_from(["attributes", "content-type", "orderingKey", "deliveryAttempt", "subject", "x"]))
            ] = draw(odd)
        elif how == "nest":
            changed[key] = draw(st.sampled_from([[value[key]], {"value": value[key]}]))
        else:
            changed[key] = draw(mutated(value[key], depth + 1))
        return changed
    if isinstance(value, list) and value and depth < 5:
        index = draw(st.integers(0, len(value) - 1))
        item = draw(odd) if draw(st.booleans()) else draw(mutated(value[index], depth + 1))
        return [*value[:index], item, *value[index + 1 :]]
    if isinstance(value, str) and value and draw(st.booleans()):
        return draw(st.sampled_from([value[: len(value) // 2], value + value[:3], value.upper(), f"{value}%"]))
    return draw(odd)


@st.composite
def events(draw: st.DrawFn, corpus: dict[str, Any]) -> Any:
    """An event of `corpus` changed in one to three places."""
    value: Any = copy.deepcopy(corpus[draw(st.sampled_from(sorted(corpus)))])
    for _ in range(draw(st.integers(1, 3))):
        value = draw(mutated(value))
    return value


def header(value: Any) -> str:
    """A header value for an attribute of any type (HTTP cannot carry line breaks or NUL)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("\r", " ").replace("\n", " ").replace("\x00", " ")


def binary_request(event: Any) -> tuple[dict[str, str], bytes]:
    """The binary-mode request for a (mutated) CloudEvent in the JSON format, as Eventarc sends one."""
    if not isinstance(event, dict):
        return {"content-type": "application/json"}, json.dumps(event).encode()
    attributes = {k: v for k, v in event.items() if k != "data"}
    media = attributes.pop("datacontenttype", "application/json")
    headers = {f"ce-{name}": header(value) for name, value in attributes.items()}
    headers["content-type"] = header(media)
    data = event.get("data")
    return headers, (data.encode() if isinstance(data, str) else json.dumps(data).encode())


def answered(client: Any, headers: dict[str, str], body: bytes) -> Any:
    """The framework's answer; an exception raised inside portable_fn fails the test, and so does an
    allocation peak that grew with the input."""
    tracemalloc.start()
    try:
        return client.post("/", data=body, headers=headers)
    except Exception as exc:
        frames = []
        tb = exc.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        if any("portable_fn" in name for name in frames):
            raise  # ours: an event that cannot be read must be a 4xx, not an exception
        return None  # functions-framework's own crash before the entry point was called (its 500)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MAX_PEAK, f"{peak} bytes allocated for one event"


def well_formed(reply: Any) -> None:
    if reply is None:
        return
    assert 200 <= reply.status_code < 300 or 400 <= reply.status_code < 500, (reply.status_code, reply.data[:300])
    if 400 <= reply.status_code < 500 and reply.mimetype == "application/json":
        body = json.loads(reply.data)
        assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"], body


@given(event=events(BINARY), target=st.sampled_from(TARGETS))
def test_a_mutated_eventarc_request_is_answered(event: Any, target: str, framework_client: Any) -> None:
    well_formed(answered(framework_client(target), *binary_request(event)))


ATTRIBUTE_NAMES = ["content-type", "ce-specversion", "ce-id", "ce-source", "ce-type", "ce-subject", "origin"]
attribute_maps = st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES), odd | st.just("1.0"), max_size=4) | odd


@given(attributes=attribute_maps, name=st.sampled_from(sorted(PUSH)), target=st.sampled_from(TARGETS))
def test_a_pubsub_message_with_attributes_of_any_type_is_answered(
    attributes: Any, name: str, target: str, framework_client: Any
) -> None:
    """Message attributes are where Pub/Sub's string-only rule is broken most easily (and where a
    content-type or a carried CloudEvent's `ce-*` attributes are read)."""
    event = copy.deepcopy(BINARY[name])
    event["data"]["message"]["attributes"] = attributes
    well_formed(answered(framework_client(target), *binary_request(event)))


@given(event=events(LEGACY), target=st.sampled_from(TARGETS))
def test_a_mutated_legacy_event_is_answered(event: Any, target: str, framework_client: Any) -> None:
    well_formed(answered(framework_client(target), {"content-type": "application/json"}, json.dumps(event).encode()))


@given(event=events(PUSH), target=st.sampled_from(TARGETS))
def test_a_mutated_pubsub_push_body_is_answered(event: Any, target: str, framework_client: Any) -> None:
    well_formed(answered(framework_client(target), {"content-type": "application/json"}, json.dumps(event).encode()))


# -- SDK events the framework cannot make: attributes of any type ---------------------------------------


class SdkEvent:
    """An SDK event read through `get_attributes()` and `get_data()` (the cloudevents 2.x line's shape)."""

    def __init__(self, attributes: Any, data: Any) -> None:
        self.attributes, self.data_ = attributes, data  # not `_attributes`: the 1.x line's shortcut

    def get_attributes(self) -> Any:
        return self.attributes

    def get_data(self) -> Any:
        return self.data_


ENTRY_POINTS: dict[str, Any] = {}


@given(event=events(BINARY), target=st.sampled_from(TARGETS))
def test_a_mutated_sdk_event_is_acknowledged_or_refused(event: Any, target: str, probe_app: Any) -> None:
    handle = ENTRY_POINTS.get(target) or ENTRY_POINTS.setdefault(target, entry_point(probe_app.function(target)))
    attributes = {k: v for k, v in event.items() if k != "data"} if isinstance(event, dict) else event
    data = event.get("data") if isinstance(event, dict) else None
    tracemalloc.start()
    try:
        assert handle(SdkEvent(attributes, data)) is None
    except HTTPException as exc:  # what flask answers: a 400 naming the problem
        assert exc.code == 400 and exc.response is not None, exc
        assert isinstance(json.loads(exc.response.get_data())["error"], str)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MAX_PEAK, f"{peak} bytes allocated for one event"


@pytest.mark.parametrize("name", sorted(BINARY))
def test_the_corpus_itself_is_answered(name: str, framework_client: Any) -> None:
    target = "stored" if name.startswith("storage") else "quiet"
    assert answered(framework_client(target), *binary_request(BINARY[name])).status_code == 200

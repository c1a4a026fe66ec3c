"""Property test of the Azure shim: the real payload corpus (tests/data/azure: Event Grid events in both
schemas, from azure-rest-api-specs and azure-functions-python-library), mutated and built into real
`azure.functions` objects, run through the functions of the generated function_app.py as the library
indexes them (`get_functions()`).

Whatever the mutation, the entry point never lets an unexpected exception out: it returns, or raises
`DeliveryFailed` (how the host is told to redeliver); a poison message is a dead letter in the shared
shape (a structured CloudEvent with the three `deadletter*` extensions); an HTTP answer is an
HttpResponse with a status and, for a refusal, a JSON body naming the problem; and no allocation grows
with a number found in the input (a count, a length, a body that is an integer).
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.functions.servicebus import ServiceBusMessage
from azure.functions.timer import TimerRequest
from hypothesis import assume, given
from hypothesis import strategies as st
from portable_fn_azure.shim import DeliveryFailed

from portable_fn.app import load_app
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info

from .conftest import DATA, EVERY, import_function_app
from .host_objects import Captured, HostContext

OUTCOMES = Path(__file__).resolve().parent / "apps" / "outcomes"
CORPUS = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(DATA.rglob("*.json"))]
MAX_PEAK = 4 * 1024 * 1024  # far above what one of these events needs, far below any number drawn
BIG = [10**9, 2**31, 2**63, -1, 0]

odd = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(BIG),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["", "%", "a b+c%20ü", "\x00", "{}", "[1]", "2024-13-45T99:00:00Z"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """`value` with one change somewhere inside: a member replaced by an odd value, removed, or added."""
    if isinstance(value, dict) and value and depth < 4:
        key = draw(st.sampled_from(sorted(value)))
        how = draw(st.sampled_from(["replace", "drop", "inside", "add"]))
        changed = dict(value)
        if how == "replace":
            changed[key] = draw(odd)
        elif how == "drop":
            del changed[key]
        elif how == "inside":
            changed[key] = draw(mutated(value[key], depth + 1))
        else:
            changed[draw(st.text(max_size=8))] = draw(odd)
        return changed
    if isinstance(value, list) and value and depth < 4:
        index = draw(st.integers(0, len(value) - 1))
        return [*value[:index], draw(mutated(value[index], depth + 1)), *value[index + 1 :]]
    return draw(odd)


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    """A corpus event changed in one to three places."""
    value = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 3))):
        value = draw(mutated(value))
    return value


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A queue or Service Bus body: a mutated event or its data as JSON, a structured CloudEvent whose
    attributes were mutated, or bytes that are no JSON (or no UTF-8)."""
    kind = draw(st.sampled_from(["event", "data", "number", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=40))
    if kind == "number":
        return str(draw(st.sampled_from(BIG))).encode()
    value = draw(payloads())
    if kind == "data" and isinstance(value, dict):
        value = value.get("data")
    return json.dumps(value).encode()


times = st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.utc)))
counts = st.one_of(st.none(), st.sampled_from(BIG), st.integers(-3, 10))


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Callable[..., Any]]:
    """Every function of the every-trigger app, of the outcomes app, and of the outcomes app on Service
    Bus, by name, as the library indexes them."""
    every, outcomes = load_app(EVERY), load_app(OUTCOMES)
    bus, every_bus = load_app(OUTCOMES), load_app(EVERY)
    for app in (bus, every_bus):
        app.config = app.config.model_copy(
            update={"azure": {**app.config.azure, "queue_transport": "service_bus", "topic_transport": "service_bus"}}
        )
    found: dict[str, Callable[..., Any]] = {}
    for prefix, app in (("", every), ("", outcomes), ("bus_", bus), ("bus_", every_bus)):
        module = import_function_app(app, tmp_path_factory.mktemp(f"{prefix}{app.name}"))
        for fn in module.app.get_functions():
            found[prefix + fn.get_function_name()] = fn.get_user_function()
    return found


def _run(function: Callable[..., Any], *args: Any) -> Any:
    """Call the function as the worker does; an exception other than DeliveryFailed fails the test, and
    so does an allocation peak that grew with the input."""
    tracemalloc.start()
    try:
        return function(*args, HostContext())
    except DeliveryFailed as exc:
        assert "did not acknowledge" in str(exc)
        return exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MAX_PEAK, f"{peak} bytes allocated for one event"


@pytest.fixture(autouse=True)
def _forget_seen() -> Iterator[None]:
    yield
    import every_trigger
    import outcomes

    every_trigger.SEEN.clear()
    outcomes.SEEN.clear()


def _library_event(body: Any) -> Any:
    try:
        return EventGridEventInConverter.decode(Datum(json.dumps(body), "json"), trigger_metadata={})
    except Exception:  # the worker could not build it: no function would be called
        assume(False)


def _assert_dead_letter(value: Any) -> None:
    """A poison message is the shared dead-letter shape, in the JSON format, read back as that event."""
    if value is None:
        return
    assert isinstance(value, str)
    event = CloudEvent.from_json(value)
    info = dead_letter_info(event)
    assert info is not None and info["reason"] and isinstance(info["attempt"], int)


@given(body=payloads(), name=st.sampled_from(["on_news", "on_photo_deleted", "act_on_event"]))
def test_an_event_grid_event_never_escapes(functions: dict[str, Any], body: Any, name: str) -> None:
    dead = Captured()
    _run(functions[name], _library_event(body), dead)
    _assert_dead_letter(dead.value)


@given(
    body=bodies(),
    msg_id=st.one_of(st.none(), st.text(max_size=8)),
    count=counts,
    inserted=times,
    name=st.sampled_from(["work", "slow", "act_on_message"]),
)
def test_a_queue_message_never_escapes(
    functions: dict[str, Any], body: bytes, msg_id: str | None, count: int | None, inserted: datetime | None, name: str
) -> None:
    poison = Captured()
    message = QueueMessage(id=msg_id, body=body, dequeue_count=count, insertion_time=inserted)
    _run(functions[name], message, poison)
    _assert_dead_letter(poison.value)


@given(
    body=bodies(),
    properties=st.one_of(
        payloads(),
        st.dictionaries(
            st.sampled_from(
                ["cloudEvents:specversion", "cloudEvents:id", "cloudEvents:type", "cloudEvents_source", "x"]
            ),
            odd,
            max_size=4,
        ),
    ),
    content_type=st.one_of(
        st.none(),
        st.sampled_from(["application/json", "text/plain", "application/xml", "application/cloudevents+json", "", ";"]),
    ),
    count=counts,
    enqueued=times,
    subject=st.one_of(st.none(), st.text(max_size=5)),
    name=st.sampled_from(["bus_act_on_message", "bus_act_on_event", "bus_work", "bus_on_news"]),
)
def test_a_service_bus_message_never_escapes(
    functions: dict[str, Any],
    body: bytes,
    properties: Any,
    content_type: str | None,
    count: int | None,
    enqueued: datetime | None,
    subject: str | None,
    name: str,
) -> None:
    message = ServiceBusMessage(
        body=body,
        message_id="sb-1",
        application_properties=properties,
        user_properties={},
        content_type=content_type,
        delivery_count=count,
        enqueued_time_utc=enqueued,
        subject=subject,
        label=subject,
    )
    dead = Captured()
    _run(functions[name], message, dead)
    _assert_dead_letter(dead.value)


@given(
    properties=payloads(),
    name=st.one_of(st.none(), st.text(max_size=12), st.just("photos/raw/a b+ü.jpg")),
    uri=st.one_of(st.none(), st.text(max_size=12), st.just("https://a.blob.core.windows.net/photos/raw/a%20b.jpg")),
    length=counts,
)
def test_a_blob_never_escapes(
    functions: dict[str, Any], properties: Any, name: str | None, uri: str | None, length: int | None
) -> None:
    blob = func.blob.InputStream(
        data=b"x",
        name=name,
        uri=uri,
        length=length,
        blob_properties=properties.get("data") if isinstance(properties, dict) else properties,
    )
    dead = Captured()
    _run(functions["on_photo"], blob, dead)
    _assert_dead_letter(dead.value)


@given(past_due=odd)
def test_a_timer_never_escapes(functions: dict[str, Any], past_due: Any) -> None:
    dead = Captured()
    _run(functions["every_quarter"], TimerRequest(past_due=past_due), dead)
    _assert_dead_letter(dead.value)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "get", "BREW", ""]),
    path=st.sampled_from(["/items/7", "/items", "/files/a/b", "/events", "/act", "/", "/nope/x", "/items/%ZZ"]),
    query=st.sampled_from(["", "?tag=a&tag=b", "?%", "?a=%FF"]),
    headers=st.dictionaries(
        st.sampled_from(["content-type", "ce-specversion", "ce-id", "ce-source", "ce-type", "content-length", "x"]),
        st.sampled_from(["1.0", "application/json", "", "%", "10000000000", "ü"]),
        max_size=5,
    ),
    body=bodies(),
    name=st.sampled_from(["get_item", "add_item", "files", "receive_event", "act"]),
)
def test_an_http_request_gets_a_well_formed_answer(
    functions: dict[str, Any], method: str, path: str, query: str, headers: dict[str, str], body: bytes, name: str
) -> None:
    request = func.HttpRequest(
        method,
        f"https://x.azurewebsites.net{path}{query}",
        headers=headers,
        body=body,
        route_params={"item_id": "7"} if name == "get_item" else {},
    )
    answer = _run(functions[name], request)
    assert isinstance(answer, func.HttpResponse) and 200 <= answer.status_code < 600
    if answer.status_code >= 400:
        assert json.loads(answer.get_body())["error"]

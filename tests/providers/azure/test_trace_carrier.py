"""The trace an Azure invocation continues, through the generated function_app.py and real `azure.functions`
objects: a request's `traceparent` / `tracestate` headers, else the host's `context.trace_context` (which
the shim reads only when the trace is asked for)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

from portable_fn.app import App, load_app

from .host_objects import Captured, HostContext

TRACED = Path(__file__).resolve().parent / "apps" / "traced"
CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
HOST = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


class TracedContext(HostContext):
    """The worker's Context carrying the host's W3C trace context for the invocation."""

    def __init__(self, traceparent: str, tracestate: str = "") -> None:
        super().__init__("traced")
        self._trace = SimpleNamespace(trace_parent=traceparent, trace_state=tracestate, attributes={})

    trace_context = property(lambda self: self._trace)


@pytest.fixture
def functions(indexed: Callable[[App], dict[str, Any]]) -> dict[str, Any]:
    app = load_app(TRACED)  # puts the app's directory on sys.path
    import traced

    traced.TRACES.clear()
    return {name: fn.get_user_function() for name, fn in indexed(app).items()}


def _traces() -> list[Any]:
    import traced

    return traced.TRACES


def _request(headers: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest("POST", "https://x/traced", body=b"{}", headers=headers)


def test_a_request_continues_the_callers_trace_from_its_headers(functions: dict[str, Any]) -> None:
    headers = {"Traceparent": CALLER, "Tracestate": "congo=t61rcWkgMzE"}
    answer = functions["traced_request"](_request(headers), TracedContext(HOST, "host=1"))
    assert answer.status_code == 200 and json.loads(answer.get_body()) == {"traced": True}
    [trace] = _traces()
    assert (trace.trace_id, trace.parent_id, trace.sampled, trace.tracestate) == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        True,
        "congo=t61rcWkgMzE",
    )
    assert len(trace.span_id) == 16 and trace.span_id != "b7ad6b7169203331"  # the invocation's own span


def test_a_request_without_trace_headers_continues_the_hosts_trace(functions: dict[str, Any]) -> None:
    functions["traced_request"](_request({"Content-Type": "application/json"}), TracedContext(HOST, "host=1"))
    [trace] = _traces()
    assert (trace.trace_id, trace.parent_id, trace.sampled, trace.tracestate) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        False,
        "host=1",
    )


def test_a_request_with_no_trace_anywhere_starts_one(functions: dict[str, Any]) -> None:
    functions["traced_request"](_request({}), HostContext("traced"))
    [trace] = _traces()
    assert trace.parent_id is None and len(trace.trace_id) == 32 and trace.trace_id != "0" * 32


def test_a_queue_message_continues_the_hosts_trace_when_the_host_records_it(functions: dict[str, Any]) -> None:
    message = QueueMessage(id="m-1", body=b'{"n": 1}', dequeue_count=1)
    poison = Captured()
    functions["traced_message"](message, poison, TracedContext(HOST[:-2] + "01"))
    functions["traced_message"](message, poison, TracedContext(HOST))  # not sampled: nothing records it
    recorded, unrecorded = _traces()
    assert (recorded.trace_id, recorded.parent_id, poison.value) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        None,
    )
    assert unrecorded.parent_id is None and unrecorded.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736"

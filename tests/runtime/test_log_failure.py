"""`logs.log_failure`: a record that was not acknowledged is one line, with its call's facts, its traceback
when the handler crashed, and what becomes of it; once written, the exception lets go of its frames."""

from __future__ import annotations

import gc
import logging
import weakref
from contextlib import AbstractContextManager
from typing import Any

import pytest

from portable_fn.runtime import CloudEvent, Retry, function, queue
from portable_fn.runtime.logs import log_failure
from portable_fn.runtime.pipeline import Call, Invocation, Middleware, current_call, remove, run, use, within

from .. import json_lines

kept: list[weakref.ref[Any]] = []


class Marker:
    """Something only the handler's frame refers to."""


@function(trigger=queue("orders"))
def take(event: CloudEvent) -> None:
    marker = Marker()
    kept.append(weakref.ref(marker))
    if event.data["do"] == "crash":
        raise ValueError(f"order {event.id} cannot be fulfilled")
    if event.data["do"] == "retry":
        raise Retry("stock arrives tomorrow")


def written(name: str = "shop") -> AbstractContextManager[list[dict[str, Any]]]:
    """The JSON lines logger `name` writes, as on aws (`tests/json_lines.py`)."""
    return json_lines.written(name, "aws")


def batch(*actions: str) -> tuple[Invocation, list[Call]]:
    invocation = Invocation(take.__portable_fn__, "aws", "req-1")  # type: ignore[attr-defined]
    calls = [
        invocation.add(CloudEvent(id=f"e{i}", source="//shop", type="order", data={"do": action}), attempt=3)
        for i, action in enumerate(actions)
    ]
    invocation.logs_failures = True
    return invocation, calls


def test_a_crash_is_one_error_line_with_its_traceback_and_the_calls_facts() -> None:
    invocation, calls = batch("ack", "crash")
    results = run(invocation)
    with written() as lines:
        log_failure(calls[1], "function %s: event %s -> %s (%s)", "take", "e1", "retry", "kept", logger="shop")
    (line,) = lines
    assert line["message"] == "function take: event e1 -> retry (kept)"
    assert (line["level"], line["logger"]) == ("ERROR", "shop")
    assert (line["function"], line["invocation_id"], line["event_id"], line["attempt"]) == ("take", "req-1", "e1", 3)
    assert (line["errorType"], line["errorMessage"]) == ("ValueError", "order e1 cannot be fulfilled")
    assert line["exception"].startswith("Traceback") and "in take" in line["exception"]
    path, where, _ = line["location"].rsplit(":", 2)  # the caller of log_failure
    assert (path, where) == (__file__, "test_a_crash_is_one_error_line_with_its_traceback_and_the_calls_facts")
    assert isinstance(results[1].error, ValueError)  # the exception stays; only its frames go
    assert results[1].error.__traceback__ is None


def test_the_handlers_own_retry_is_one_warning_without_a_traceback() -> None:
    invocation, calls = batch("retry")
    run(invocation)
    with written() as lines:
        log_failure(calls[0], "event %s: %s", "e0", calls[0].result.reason, logger="shop")  # type: ignore[union-attr]
    (line,) = lines
    assert (line["level"], line["message"], line["event_id"]) == ("WARNING", "event e0: stock arrives tomorrow", "e0")
    assert "exception" not in line


def test_once_logged_a_failed_batch_is_freed_without_the_garbage_collector() -> None:
    kept.clear()
    gc.collect()
    gc.disable()
    try:
        invocation, calls = batch("ack", "crash", "ack")
        run(invocation)
        with written():
            log_failure(calls[1], "failed", logger="shop")
        del invocation, calls
        assert [ref() for ref in kept] == [None, None, None]  # the crashed frame's marker too
    finally:
        gc.enable()


def test_without_the_line_the_frames_are_kept_for_whoever_reads_the_error() -> None:
    invocation, _ = batch("crash")
    (result,) = run(invocation)
    assert result.error is not None and result.error.__traceback__ is not None


def test_within_makes_a_call_the_current_one_for_what_it_runs() -> None:
    _, calls = batch("ack")
    assert within(calls[0], current_call) is calls[0]
    assert current_call() is None


@pytest.mark.parametrize("logs_failures", [True, False])
def test_the_pipeline_logs_a_crash_itself_only_when_the_shim_does_not(
    logs_failures: bool, caplog: pytest.LogCaptureFixture
) -> None:
    invocation, _ = batch("crash")
    invocation.logs_failures = logs_failures
    with caplog.at_level(logging.ERROR, logger="portable_fn"):
        run(invocation)
    crashes = [r.getMessage() for r in caplog.records if r.name == "portable_fn"]
    assert crashes == ([] if logs_failures else ["function take: event e0 raised ValueError"])


class Broken(Middleware):
    def before(self, call: Call) -> None:
        raise RuntimeError("store down")


@pytest.mark.parametrize("logs_failures", [True, False])
def test_a_middleware_that_fails_a_record_is_logged_once(logs_failures: bool, caplog: pytest.LogCaptureFixture) -> None:
    broken = use(Broken())
    try:
        invocation, calls = batch("ack")
        invocation.logs_failures = logs_failures
        with caplog.at_level(logging.DEBUG, logger="portable_fn"):
            (result,) = run(invocation)
            if logs_failures:
                log_failure(calls[0], "event e0 -> %s: %s", result.outcome, result.reason)
    finally:
        remove(broken)
    assert (result.outcome, result.reason) == ("retry", "middleware failed: RuntimeError: store down")
    (line,) = [r for r in caplog.records if r.name == "portable_fn"]
    assert line.levelname == "ERROR" and line.exc_info is not None and str(line.exc_info[1]) == "store down"
    expected = "event e0 -> retry: middleware failed: RuntimeError: store down"
    assert line.getMessage() == (expected if logs_failures else "function take: middleware raised RuntimeError")

"""The dev log's function lines: readable, with the facts the clouds' JSON lines carry.

The functions of tests/runtime/handlers/logs_app.py run through the real invocation pipeline with
`LoggingMiddleware`, as the local host runs them; `FunctionLogs` writes to a list.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

from portable_fn.local.function_logs import FunctionLogs
from portable_fn.runtime import CloudEvent, pipeline, spec_of
from portable_fn.runtime.logs import LoggingMiddleware
from portable_fn.runtime.pipeline import Call, Invocation, Middleware
from portable_fn.runtime.tracing import TraceContext

from .conftest import LOCAL_APPS, Running

APP = Path(__file__).parents[1] / "runtime" / "handlers" / "logs_app.py"
TRACE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "b7ad6b7169203331", True)
STAMP = r"\d\d:\d\d:\d\d\.\d\d\d"


def load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("local_function_logs_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


logs_app = load_app()


class FixedTrace(Middleware):
    def before(self, call: Call) -> None:
        call.trace = TRACE


@pytest.fixture
def running() -> Iterator[None]:
    """The pipeline runs the trace and LoggingMiddleware alone (what the runtime registered put back after)."""
    registered, chain = pipeline.middleware(), (FixedTrace(), LoggingMiddleware())
    for item in registered:
        pipeline.remove(item)
    for item in chain:
        pipeline.use(item)
    yield
    for item in chain:
        pipeline.remove(item)
    for item in registered:
        pipeline.use(item)


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger as an app that configured no logging has it (pytest's handlers put back after)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers = []
    root.setLevel(logging.WARNING)
    try:
        yield root
    finally:
        root.handlers = handlers
        root.setLevel(level)


def ship(*records: dict[str, object]) -> Invocation:
    found = spec_of(logs_app.ship)
    assert found is not None
    invocation = Invocation(found, "local", "inv-1")
    for i, data in enumerate(records):
        invocation.add(CloudEvent(id=f"e{i}", source="//shop", type="shop.order", data=data), attempt=2)
    pipeline.run(invocation)
    return invocation


def dev_log(run: Callable[[], object]) -> list[str]:
    """The dev log lines written while `run` runs, FunctionLogs attached as the host attaches it."""
    shown: list[str] = []
    logs = FunctionLogs(shown.append)
    with bare_root():
        logs.attach()
        try:
            run()
        finally:
            logs.detach()
    return shown


def test_a_line_shows_the_call_facts(running: None) -> None:
    invocations: list[Invocation] = []
    shown = dev_log(lambda: invocations.append(ship({"order": 7})))
    facts = f"invocation=inv-1 event=e0 trace={TRACE.trace_id} span={TRACE.span_id} attempt=2" + (
        " cold_start" if invocations[0].cold_start else ""
    )
    assert len(shown) == 3, shown
    assert re.fullmatch(rf"{STAMP} ship \[log\] INFO shipping 7  {facts} order=7 box=<unserialisable>", shown[0])
    # the app's own logger, during the call; and a thread started with a copy of the context
    assert re.fullmatch(rf"{STAMP} ship \[log\] WARNING stock low for 7  {facts} logger=shop.orders", shown[1])
    assert re.fullmatch(rf"{STAMP} ship \[log\] INFO from a thread  {facts} logger=shop.orders", shown[2])


def test_an_exception_follows_its_line(running: None) -> None:
    shown = dev_log(lambda: ship({"order": 8, "fail": True}))
    (failed,) = [line for line in shown if " lookup failed " in line]
    first, *traceback = failed.splitlines()
    assert first.endswith("logger=shop.orders") and traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1] == "KeyError: 'sku'"


def test_outside_a_call_only_what_python_would_show() -> None:
    def log() -> None:
        logging.getLogger("urllib3.connectionpool").info("starting new connection")
        logging.getLogger("shop.startup").warning("no stock file")

    (line,) = dev_log(log)
    assert re.fullmatch(rf"{STAMP} shop.startup \[log\] WARNING no stock file  logger=shop.startup", line)


def test_log_level_from_the_environment(running: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    shown = dev_log(lambda: ship({"order": 9}))
    assert any(" DEBUG picked 9 " in line for line in shown), shown


def test_detach_puts_everything_back() -> None:
    function_logger = logging.getLogger("portable_fn.function")
    before = (function_logger.level, function_logger.propagate, function_logger.handlers[:])
    logs = FunctionLogs(lambda line: None)
    with bare_root() as root:
        logs.attach()
        logs.attach()  # once
        assert root.handlers == [logs] and function_logger.handlers == [*before[2], logs]
        assert root.level == function_logger.level == logging.INFO
        logs.detach()
        assert (function_logger.level, function_logger.propagate, function_logger.handlers) == before
        assert root.handlers == [] and root.level == logging.WARNING


def test_two_hosts_in_one_process_put_everything_back_whichever_stops_first() -> None:
    """The second host saved what the first had set (INFO, not propagating) and put that back when it stopped
    last: every later test on the worker lost its function loggers' lines to the root."""
    function_logger = logging.getLogger("portable_fn.function")
    before = (function_logger.level, function_logger.propagate, function_logger.handlers[:])
    first, second = FunctionLogs(lambda line: None), FunctionLogs(lambda line: None)
    with bare_root():
        first.attach()
        second.attach()
        first.detach()
        assert function_logger.propagate is False and function_logger.handlers == [*before[2], second]
        second.detach()
        assert (function_logger.level, function_logger.propagate, function_logger.handlers) == before


def test_an_app_that_configured_logging_keeps_its_root() -> None:
    own = logging.StreamHandler()
    logs = FunctionLogs(lambda line: None)
    with bare_root() as root:
        root.addHandler(own)
        logs.attach()
        try:
            assert root.handlers == [own] and root.level == logging.WARNING
            assert logs in logging.getLogger("portable_fn.function").handlers
        finally:
            logs.detach()


def test_the_dev_host_shows_the_facts_of_a_request(start_host: Callable[..., Running]) -> None:
    """End to end: a request with a W3C traceparent to the dev host; its ctx.logger line names the trace."""
    dev = start_host(LOCAL_APPS / "strict")
    traceparent = f"00-{TRACE.trace_id}-{TRACE.parent_id}-01"
    assert dev.client.request("GET", "/log", headers={"traceparent": traceparent}).status == 200
    (line,) = [line for line in dev.logs if " [log] " in line]
    assert re.fullmatch(
        rf"{STAMP} logs \[log\] INFO hello from the logger of logs  invocation=\S+ "
        rf"trace={TRACE.trace_id} span=[0-9a-f]{{16}} attempt=1( cold_start)?",
        line,
    ), line

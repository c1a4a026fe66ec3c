"""Structured logs: real `logging` through the JSON formatter, the same keys on every cloud, plus each
cloud's correlation fields, the facts reaching the user's own loggers, threads and tasks.

Functions run through the real invocation pipeline (`pipeline.run` / `pipeline.serve`) with
`LoggingMiddleware` registered after a middleware that sets the trace as the tracing middleware does.
On AWS the real awslambdaric logging setup (`bootstrap._setup_logging`, its handler, filter and framed
telemetry sink) is what the formatter is installed on.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from awslambdaric import bootstrap
from awslambdaric.lambda_runtime_log_utils import JsonFormatter as LambdaJsonFormatter
from awslambdaric.lambda_runtime_log_utils import LogFormat

from portable_fn.runtime import ACK, CloudEvent, Request, Result, pipeline
from portable_fn.runtime.errors import ConfigError
from portable_fn.runtime.log_format import JsonFormatter, rfc3339
from portable_fn.runtime.logs import LoggingMiddleware, configure, configure_deployed, current_facts, log_level
from portable_fn.runtime.pipeline import Call, Invocation, Middleware
from portable_fn.runtime.tracing import TraceContext

from .test_dispatch import load_handlers, spec

logs_app = load_handlers("logs_app")

TRACE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "b7ad6b7169203331", True)
RECORD_SPAN = "5fb397be34d26b51"
COMMON = [
    "time",
    "level",
    "message",
    "logger",
    "function",
    "invocation_id",
    "event_id",
    "trace_id",
    "span_id",
    "cold_start",
    "provider",
    "attempt",
]


class FixedTrace(Middleware):
    """Sets the trace where the tracing middleware does: the invocation's span, then the call's."""

    def start(self, invocation: Invocation) -> None:
        invocation.trace = TRACE

    def before(self, call: Call) -> None:
        call.trace = TRACE._replace(span_id=RECORD_SPAN)


@contextmanager
def only(*chain: Middleware) -> Iterator[None]:
    """The pipeline runs `chain` alone (what the runtime registered is put back after)."""
    registered = pipeline.middleware()
    for item in registered:
        pipeline.remove(item)
    for item in chain:
        pipeline.use(item)
    try:
        yield
    finally:
        for item in chain:
            pipeline.remove(item)
        for item in registered:
            pipeline.use(item)


@pytest.fixture
def middleware() -> Iterator[LoggingMiddleware]:
    logging_middleware = LoggingMiddleware()
    with only(FixedTrace(), logging_middleware):
        yield logging_middleware


@contextmanager
def isolated_root() -> Iterator[logging.Logger]:
    """The real root logger with no handlers (pytest's own put back after), its level restored."""
    root = logging.getLogger()
    handlers, level, converter = root.handlers[:], root.level, logging.Formatter.converter
    root.handlers = []
    try:
        yield root
    finally:
        root.handlers = handlers
        root.setLevel(level)
        logging.Formatter.converter = converter  # awslambdaric sets it to gmtime


def ship_invocation(provider: str, *records: dict[str, Any], invocation_id: str = "inv-1") -> Invocation:
    """An invocation of `logs_app.ship` with `records`, as `provider` delivers them (attempt 2)."""
    invocation = Invocation(spec(logs_app.ship), provider, invocation_id)
    for i, data in enumerate(records):
        invocation.add(CloudEvent(id=f"e{i}", source="//shop", type="shop.order", data=data), attempt=2)
    return invocation


def ship(provider: str, *records: dict[str, Any], invocation_id: str = "inv-1") -> Invocation:
    """Run `logs_app.ship` over `records` as `provider` delivers them (attempt 2)."""
    invocation = ship_invocation(provider, *records, invocation_id=invocation_id)
    pipeline.run(invocation)
    return invocation


def line_of(code: str) -> int:
    """The line of logs_app that holds `code`."""
    source = Path(logs_app.__file__).read_text().splitlines()
    return next(number for number, text in enumerate(source, 1) if code in text)


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


def by_message(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["message"]: line for line in found}


# -- the same keys everywhere -------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["aws", "gcp", "azure"])
def test_every_line_has_the_same_keys_and_the_call_facts(
    provider: str, middleware: LoggingMiddleware, capsys: pytest.CaptureFixture[str]
) -> None:
    with isolated_root() as root:
        configure(provider, root=root, environ={})
        invocation = ship(provider, {"order": 7})
    found = by_message(lines(capsys.readouterr().out))
    assert set(found) == {"shipping 7", "stock low for 7", "from a thread"}, found
    for line in found.values():
        assert list(line)[: len(COMMON)] == COMMON
        assert line["function"] == "ship" and line["provider"] == provider
        assert (line["invocation_id"], line["event_id"], line["attempt"]) == ("inv-1", "e0", 2)
        assert (line["trace_id"], line["span_id"]) == (TRACE.trace_id, RECORD_SPAN)
        assert line["cold_start"] is invocation.cold_start
    shipping = found["shipping 7"]
    assert (shipping["level"], shipping["logger"]) == ("INFO", "portable_fn.function.ship")
    assert (shipping["order"], shipping["box"]) == (7, "<unserialisable>")  # extra=, stringified if need be
    assert found["stock low for 7"]["logger"] == "shop.orders"  # the user's own logger


def test_time_is_rfc3339_utc_with_milliseconds() -> None:
    assert rfc3339(0.0) == "1970-01-01T00:00:00.000Z"
    assert rfc3339(1733477755.1239) == "2024-12-06T09:35:55.123Z"
    assert rfc3339(1733477755.9999) == "2024-12-06T09:35:55.999Z"


def test_an_exception_is_one_line_with_its_traceback(
    middleware: LoggingMiddleware, capsys: pytest.CaptureFixture[str]
) -> None:
    with isolated_root() as root:
        configure("gcp", root=root, environ={})
        ship("gcp", {"order": 8, "fail": True})
    out = capsys.readouterr().out
    failed = by_message(lines(out))["lookup failed"]
    assert failed["level"] == "ERROR" and failed["severity"] == "ERROR"
    assert failed["exception"].startswith("Traceback") and "KeyError: 'sku'" in failed["exception"]
    assert failed["event_id"] == "e0"
    crash = by_message(lines(out))["function ship: event e0 raised RuntimeError"]  # the pipeline's, on a cloud
    assert crash["level"] == "ERROR" and "RuntimeError" in crash["exception"] and crash["event_id"] == "e0"
    assert len(out.splitlines()) == 5  # each traceback stays inside its line


def test_outside_a_call_the_keys_are_there_and_null(capsys: pytest.CaptureFixture[str]) -> None:
    with isolated_root() as root:
        configure("azure", root=root, environ={})
        logging.getLogger("shop.startup").warning("loading")
    (line,) = lines(capsys.readouterr().out)
    assert list(line)[: len(COMMON)] == COMMON
    assert line["provider"] == "azure" and line["message"] == "loading"
    assert [line[key] for key in COMMON[4:10]] == [None] * 6
    assert "operation_Id" not in line


def test_the_facts_are_put_back_after_each_call_and_invocation(middleware: LoggingMiddleware) -> None:
    seen: list[Any] = []

    class Watch(Middleware):
        def after(self, call: Call) -> None:
            seen.append(current_facts().event_id)  # type: ignore[union-attr]

        def finish(self, invocation: Invocation) -> None:
            seen.append(current_facts().event_id)  # type: ignore[union-attr]

    watch = pipeline.use(Watch())
    try:
        with isolated_root():
            ship("aws", {"order": 1}, {"order": 2})
    finally:
        pipeline.remove(watch)
    assert seen == ["e0", "e1", None]  # each call's own, then the invocation's
    assert current_facts() is None


def test_a_call_answered_before_the_logging_middleware_ran() -> None:
    class Answer(Middleware):  # as idempotency answers a duplicate
        def before(self, call: Call) -> None:
            call.result = Result(ACK, None, None, None, call.event_id)

    with only(Answer(), LoggingMiddleware()), isolated_root():
        assert [result.outcome for result in pipeline.run(ship_invocation("aws", {"order": 1}))] == ["ack"]
    assert current_facts() is None


def test_two_logging_middlewares_each_put_back_their_own() -> None:
    with only(FixedTrace(), LoggingMiddleware(), LoggingMiddleware()), isolated_root():
        ship("aws", {"order": 1}, {"order": 2})
    assert current_facts() is None


# -- threads and tasks ----------------------------------------------------------------------------


def test_async_handler_tasks_and_to_thread_carry_the_facts(
    middleware: LoggingMiddleware, capsys: pytest.CaptureFixture[str]
) -> None:
    invocation = Invocation(spec(logs_app.ship_async), "gcp", "exec-9")
    invocation.add(CloudEvent(id="a1", source="//shop", type="shop.order", data={}))
    with isolated_root() as root:
        configure("gcp", root=root, environ={})
        pipeline.run(invocation)
    found = by_message(lines(capsys.readouterr().out))
    assert set(found) == {"from to_thread", "from a task"}
    for line in found.values():
        assert (line["function"], line["invocation_id"], line["event_id"]) == ("ship_async", "exec-9", "a1")


def test_http_calls_log_without_an_event_id(middleware: LoggingMiddleware, capsys: pytest.CaptureFixture[str]) -> None:
    invocation = Invocation(spec(logs_app.status), "azure", "az-inv-1")
    invocation.request(Request("GET", "/status"))
    with isolated_root() as root:
        configure("azure", root=root, environ={})
        assert pipeline.serve(invocation).status == 200
    (line,) = lines(capsys.readouterr().out)
    assert (line["logger"], line["invocation_id"], line["event_id"]) == ("root", "az-inv-1", None)
    assert line["operation_Id"] == TRACE.trace_id


# -- Google Cloud Logging ---------------------------------------------------------------------------


def test_gcp_cloud_logging_fields(middleware: LoggingMiddleware, capsys: pytest.CaptureFixture[str]) -> None:
    with isolated_root() as root:
        configure("gcp", root=root, environ={"GOOGLE_CLOUD_PROJECT": "shop-prod", "LOG_LEVEL": "debug"})
        ship("gcp", {"order": 7})
    found = by_message(lines(capsys.readouterr().out))
    picked = found["picked 7"]  # DEBUG, from LOG_LEVEL
    assert picked["severity"] == "DEBUG"
    assert found["stock low for 7"]["severity"] == "WARNING"
    assert picked["logging.googleapis.com/trace"] == f"projects/shop-prod/traces/{TRACE.trace_id}"
    assert picked["logging.googleapis.com/spanId"] == RECORD_SPAN
    assert picked["logging.googleapis.com/trace_sampled"] is True


def test_gcp_without_a_project_leaves_the_trace_field_out(
    middleware: LoggingMiddleware, capsys: pytest.CaptureFixture[str]
) -> None:
    with isolated_root() as root:
        configure("gcp", root=root, environ={})
        ship("gcp", {"order": 7})
    line = by_message(lines(capsys.readouterr().out))["shipping 7"]
    assert "logging.googleapis.com/trace" not in line
    assert line["trace_id"] == TRACE.trace_id and line["logging.googleapis.com/spanId"] == RECORD_SPAN


def test_gcp_custom_levels_take_the_severity_below() -> None:
    formatter = JsonFormatter("gcp", {})
    logger = logging.getLogger("tests.logs.levels")
    record = logger.makeRecord(logger.name, 25, __file__, 1, "notice-ish", (), None)
    assert formatter.fields(record)["severity"] == "INFO"
    record = logger.makeRecord(logger.name, 5, __file__, 1, "trace-ish", (), None)
    assert formatter.fields(record)["severity"] == "DEFAULT"


# -- AWS Lambda, with the real awslambdaric logging setup -----------------------------------------


def read_frames(fd: int) -> list[tuple[bytes, str]]:
    """(frame type, message) of each frame of Lambda's telemetry log protocol read from `fd`."""
    data = os.read(fd, 1 << 20)
    frames = []
    while data:
        kind, length = data[:4], int.from_bytes(data[4:8], "big")
        frames.append((kind, data[16 : 16 + length].decode()))
        data = data[16 + length :]
    return frames


@contextmanager
def lambda_logging(log_format: int, level: str = "") -> Iterator[tuple[logging.Logger, int]]:
    """The root logger as awslambdaric sets it up on a telemetry log fd; yields it and the read end."""
    read, write = os.pipe()
    with isolated_root() as root, bootstrap.FramedTelemetryLogSink(write) as sink:
        bootstrap._setup_logging(log_format, level, sink)
        yield root, read
    os.close(read)


def test_aws_json_format_through_awslambdaric(middleware: LoggingMiddleware) -> None:
    with lambda_logging(LogFormat.JSON, "INFO") as (root, read):
        (handler,) = root.handlers
        configure("aws", root=root, environ={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
        assert root.handlers == [handler] and isinstance(handler.formatter, JsonFormatter)
        ship("aws", {"order": 7, "fail": True}, invocation_id="8f5a3c1e-req")
        frames = read_frames(read)
    found = {json.loads(text)["message"]: (kind, text) for kind, text in frames}
    assert set(found) == {
        "shipping 7",
        "stock low for 7",
        "from a thread",
        "lookup failed",
        "function ship: event e0 raised RuntimeError",
    }
    for kind, text in found.values():
        assert text.endswith("\n") and text.count("\n") == 1
        line = json.loads(text)
        assert line["requestId"] == line["invocation_id"] == "8f5a3c1e-req"
        assert line["timestamp"] == line["time"]
        # the JSON frame of the line's level, as awslambdaric's own formatter sends
        assert kind == bootstrap._JSON_FRAME_TYPES[logging.getLevelName(line["level"])]
    failed = json.loads(found["lookup failed"][1])
    assert (failed["errorType"], failed["errorMessage"]) == ("KeyError", "'sku'")
    assert failed["stackTrace"][0].startswith(f'  File "{logs_app.__file__}", line ')
    assert failed["location"] == f"{logs_app.__file__}:ship:{line_of('orders_log.exception')}"


def test_aws_lines_hold_every_key_of_lambdas_own_json_format(middleware: LoggingMiddleware) -> None:
    """One record through awslambdaric's JsonFormatter and ours: every key it writes is in ours, with the
    same value (its timestamp has whole seconds, ours milliseconds)."""
    theirs: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            theirs.append(self.format(record))

    with lambda_logging(LogFormat.JSON) as (root, read):
        configure("aws", root=root, environ={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
        reference = Collect()
        reference.setFormatter(LambdaJsonFormatter())
        reference.addFilter(bootstrap.LambdaLoggerFilter())
        root.addHandler(reference)
        ship("aws", {"order": 7, "fail": True}, invocation_id="req-2")
        ours = {json.loads(text)["message"]: json.loads(text) for _, text in read_frames(read)}
    for text in theirs:
        expected = json.loads(text)
        line = ours[expected["message"]]
        assert expected.pop("requestId") == ""  # awslambdaric's global is set by its own loop only
        assert time.strptime(expected.pop("timestamp"), "%Y-%m-%dT%H:%M:%SZ")
        assert {key: line[key] for key in expected} == expected


def test_aws_text_format_lines_end_with_a_newline(
    middleware: LoggingMiddleware, capsys: pytest.CaptureFixture[str]
) -> None:
    with isolated_root() as root:
        bootstrap._setup_logging(LogFormat.TEXT, "", bootstrap.StandardLogSink())
        configure("aws", root=root, environ={})
        ship("aws", {"order": 7})
    found = lines(capsys.readouterr().out)  # StandardLogSink writes each line as it is
    assert [line["message"] for line in found] == ["shipping 7", "stock low for 7", "from a thread"]


def test_a_dict_message_stays_an_object(capsys: pytest.CaptureFixture[str]) -> None:
    with isolated_root() as root:
        configure("aws", root=root, environ={})
        logs_app.log_structured({"order": 7, "items": [1, 2]})
    (line,) = lines(capsys.readouterr().out)
    assert line["message"] == {"order": 7, "items": [1, 2]}


# -- configure and the level ---------------------------------------------------------------------


def test_configure_once_per_process() -> None:
    with isolated_root() as root:
        configure("gcp", root=root, environ={})
        (handler,) = root.handlers
        formatter = handler.formatter
        configure("gcp", root=root, environ={"LOG_LEVEL": "ERROR"})
        assert root.handlers == [handler] and handler.formatter is formatter
        assert root.level == logging.ERROR


def test_local_and_test_providers_are_left_alone() -> None:
    with isolated_root() as root:
        root.setLevel(logging.WARNING)
        configure("local", root=root, environ={"LOG_LEVEL": "DEBUG"})
        configure("test", root=root, environ={})
        assert root.handlers == [] and root.level == logging.WARNING


@pytest.mark.parametrize(
    ("level", "environ", "expected"),
    [
        (None, {}, logging.INFO),
        ("debug", {"LOG_LEVEL": "ERROR"}, logging.DEBUG),
        (None, {"LOG_LEVEL": "warn", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, logging.WARNING),
        (None, {"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, logging.DEBUG),
        (None, {"AWS_LAMBDA_LOG_LEVEL": "FATAL"}, logging.CRITICAL),
        (logging.ERROR, {}, logging.ERROR),
    ],
)
def test_log_level(level: Any, environ: dict[str, str], expected: int) -> None:
    assert log_level(level, environ) == expected


def test_an_invalid_level_names_the_setting_and_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        log_level(None, {"LOG_LEVEL": "verbose"})
    assert str(raised.value).startswith(
        "Log level 'verbose' (from LOG_LEVEL) is unknown. Use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )
    with isolated_root() as root, pytest.raises(ConfigError, match=r"'loud' \(from the app's config\)"):
        configure("aws", "loud", root=root, environ={})


@pytest.mark.slow  # imports in a fresh interpreter
def test_the_middleware_does_not_import_logging() -> None:
    """Every function imports `logs`; `logging` (about 6 ms cold) only where `configure` installs the
    formatter, on clouds whose runtimes imported it already."""
    code = "import sys, portable_fn.runtime.logs; print(sorted({'logging', 'traceback'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert loaded.strip() == "[]"


def test_gcp_under_functions_frameworks_execution_id_logging(middleware: LoggingMiddleware) -> None:
    """With LOG_EXECUTION_ID, functions-framework's root handler writes through its
    LoggingHandlerAddExecutionId stream, which adds the execution id label to a JSON line: ours stays whole."""
    from functions_framework import execution_id

    out = io.StringIO()
    token = execution_id.execution_context_var.set(execution_id.ExecutionContext("exec-42", None))
    try:
        with isolated_root() as root:
            root.addHandler(logging.StreamHandler(execution_id.LoggingHandlerAddExecutionId(out)))
            configure("gcp", root=root, environ={"GOOGLE_CLOUD_PROJECT": "shop-prod"})
            ship("gcp", {"order": 7}, invocation_id="exec-42")
    finally:
        execution_id.execution_context_var.reset(token)
    found = by_message(lines(out.getvalue()))
    assert set(found) == {"shipping 7", "stock low for 7", "from a thread"}
    for line in found.values():
        assert line["logging.googleapis.com/labels"] == {"execution_id": "exec-42"}
        assert line["invocation_id"] == "exec-42" and line["severity"] in ("INFO", "WARNING")
        assert line["logging.googleapis.com/trace"] == f"projects/shop-prod/traces/{TRACE.trace_id}"


def test_a_call_that_logs_nothing_reads_no_transport_metadata(middleware: LoggingMiddleware) -> None:
    """A call's attempt may need its record's metadata read (`Invocation.meta_of`); the facts read it only
    when a line is written."""
    read: list[object] = []

    def meta_of(native: object) -> None:
        read.append(native)

    invocation = Invocation(spec(logs_app.ship_async), "aws", "req-3", meta_of=meta_of)
    invocation.add(CloudEvent(id="q1", source="//shop", type="shop.order", data={}), "native-record")
    with isolated_root():  # no handler: nothing is written, nothing formatted
        logging.getLogger().setLevel(logging.CRITICAL)
        pipeline.run(invocation)
    assert read == []


# -- configure_deployed: what each shim calls at cold start --------------------------------------------


@pytest.mark.parametrize(
    ("provider", "marker"),
    [
        ("aws", "AWS_LAMBDA_FUNCTION_NAME"),
        ("gcp", "K_SERVICE"),
        ("gcp", "FUNCTION_TARGET"),
        ("azure", "FUNCTIONS_WORKER_RUNTIME"),
        ("azure", "WEBSITE_SITE_NAME"),
    ],
)
def test_on_its_cloud_a_shim_turns_json_logs_on(provider: str, marker: str) -> None:
    root = logging.getLogger(f"test.deployed.{provider}.{marker}")
    root.handlers[:] = [logging.StreamHandler(io.StringIO())]
    assert configure_deployed(provider, {marker: "x", "LOG_LEVEL": "debug"}, root=root)
    assert isinstance(root.handlers[0].formatter, JsonFormatter) and root.level == logging.DEBUG


@pytest.mark.parametrize("provider", ["aws", "gcp", "azure", "local"])
def test_anywhere_else_importing_a_shim_leaves_logging_alone(provider: str) -> None:
    root = logging.getLogger(f"test.elsewhere.{provider}")
    handler = logging.StreamHandler(io.StringIO())
    root.handlers[:] = [handler]
    assert not configure_deployed(provider, {"LOG_LEVEL": "debug"}, root=root)
    assert handler.formatter is None and root.level == logging.NOTSET


def test_a_log_level_no_one_can_read_starts_the_function_at_info_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    root = logging.getLogger("test.deployed.bad-level")
    root.handlers[:] = [logging.StreamHandler(io.StringIO())]
    with caplog.at_level(logging.ERROR, logger="portable_fn"):
        assert configure_deployed("aws", {"AWS_LAMBDA_FUNCTION_NAME": "f", "LOG_LEVEL": "verbose"}, root=root)
    assert root.level == logging.INFO
    assert "'verbose'" in caplog.text and "Logging at INFO instead" in caplog.text


# -- a handler's crash, logged on the clouds ------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "raised", "logged"),
    [
        ("aws", ValueError("no stock"), True),
        ("gcp", KeyError("sku"), True),
        ("azure", ValueError("x"), True),
        ("aws", None, False),
        ("local", ValueError("no stock"), False),
        ("test", ValueError("no stock"), False),
    ],
)
def test_on_a_cloud_an_event_handler_crash_is_logged_with_its_traceback_and_facts(
    provider: str, raised: BaseException | None, logged: bool, caplog: pytest.LogCaptureFixture
) -> None:
    from portable_fn.runtime import Retry, function, queue
    from portable_fn.runtime.pipeline import Invocation, run

    @function(trigger=queue("orders"))
    def take(event: CloudEvent) -> None:
        raise raised if raised is not None else Retry("stock arrives tomorrow")

    invocation = Invocation(take.__portable_fn__, provider, "inv-7")  # type: ignore[attr-defined]
    invocation.add(CloudEvent(id="e-1", source="//shop", type="order", data={}))
    with caplog.at_level(logging.ERROR, logger="portable_fn"):
        (result,) = run(invocation)
    assert result.outcome == "retry"
    crashes = [r for r in caplog.records if r.name == "portable_fn" and "raised" in r.getMessage()]
    if not logged:
        assert crashes == []
        return
    (record,) = crashes
    assert record.getMessage() == f"function take: event e-1 raised {type(raised).__name__}"
    assert record.exc_info is not None and record.exc_info[1] is raised
    assert record.exc_info[2] is not None  # the traceback, down to the handler

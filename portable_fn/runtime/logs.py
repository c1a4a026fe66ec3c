"""Structured logs: one JSON object per line on every cloud, with the same keys, plus each cloud's own.

`LoggingMiddleware` puts the running call's facts (function, invocation id, event id, trace, attempt, ...)
in a context variable, so every logger sees them: `ctx.logger`, the user's own `logging.getLogger(...)`
loggers, async tasks and threads run with a copy of the context (`asyncio.to_thread`,
`contextvars.copy_context().run`). `JsonFormatter` writes them; `configure(provider)` puts it on the
handlers the cloud's runtime installed on the root logger, so nothing is written twice:

- AWS: awslambdaric's handler (it adds the request id and writes to Lambda's telemetry log sink); the line
  also holds the keys of Lambda's own JSON log format (`AWS_LAMBDA_LOG_FORMAT=JSON`).
- GCP: Cloud Logging reads `severity`, `logging.googleapis.com/trace`, `.../spanId`, `.../trace_sampled`
  from a JSON line on stdout; functions-framework's handler when `LOG_EXECUTION_ID` installed one.
- Azure: the Python worker's handler sends the line to the host, which tags it with the invocation;
  `operation_Id` is the trace id, as Application Insights names it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigError
from .pipeline import Call, Invocation, Middleware

__all__ = ["Facts", "JsonFormatter", "LoggingMiddleware", "configure", "current_facts", "log_level"]

CLOUDS = ("aws", "gcp", "azure")


class Facts:
    """What every log line says about the call it was written in."""

    __slots__ = ("function", "invocation_id", "event_id", "trace_id", "span_id", "sampled", "cold_start",
                 "provider", "attempt")

    def __init__(self, function: str, invocation_id: str, provider: str, cold_start: bool, *,
                 event_id: str | None = None, trace: Any = None, attempt: int | None = None) -> None:
        self.function = function
        self.invocation_id = invocation_id
        self.event_id = event_id
        self.trace_id: str | None = getattr(trace, "trace_id", None)
        self.span_id: str | None = getattr(trace, "span_id", None)
        self.sampled: bool | None = getattr(trace, "sampled", None)
        self.cold_start = cold_start
        self.provider = provider
        self.attempt = attempt

    @classmethod
    def of_invocation(cls, invocation: Invocation) -> Facts:
        return cls(invocation.spec.name, invocation.invocation_id, invocation.provider, invocation.cold_start,
                   trace=invocation.trace)

    @classmethod
    def of_call(cls, call: Call) -> Facts:
        invocation = call.invocation
        trace = call.trace if call.trace is not None else invocation.trace
        return cls(invocation.spec.name, invocation.invocation_id, invocation.provider, invocation.cold_start,
                   event_id=call.event_id, trace=trace, attempt=call.attempt)


_current: contextvars.ContextVar[Facts | None] = contextvars.ContextVar("portable_fn_log_facts",
                                                                        default=None)
_NO_FACTS = Facts("", "", "", False)


def current_facts() -> Facts | None:
    """The facts of the call (or invocation) running in this context, if any."""
    return _current.get()


class LoggingMiddleware(Middleware):
    """Sets the log facts for each invocation and each call; puts back what was there after."""

    def start(self, invocation: Invocation) -> None:
        invocation.state[__name__] = {"invocation": _current.set(Facts.of_invocation(invocation))}

    def before(self, call: Call) -> None:
        tokens = call.invocation.state.setdefault(__name__, {})
        tokens[call.index] = _current.set(Facts.of_call(call))

    def after(self, call: Call) -> None:
        # on_error hooks run before after(), so what they log still carries the call's facts
        token = call.invocation.state.get(__name__, {}).pop(call.index, None)
        if token is not None:  # None: an earlier middleware answered the call before ours ran
            _current.reset(token)

    def finish(self, invocation: Invocation) -> None:
        token = invocation.state.get(__name__, {}).pop("invocation", None)
        if token is not None:
            _current.reset(token)


# -- the formatter --------------------------------------------------------------------------------

# what a LogRecord holds on its own; anything else on it came from the user's `extra=`
_RECORD_ATTRIBUTES = frozenset((
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
    "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
    "threadName", "processName", "process", "taskName", "message", "asctime",
    "aws_request_id", "tenant_id",  # awslambdaric's filter adds these; they are written as requestId, tenantId
))

# Cloud Logging's LogSeverity for Python's levels (a custom level takes the one below it)
_SEVERITIES = ((logging.CRITICAL, "CRITICAL"), (logging.ERROR, "ERROR"), (logging.WARNING, "WARNING"),
               (logging.INFO, "INFO"), (logging.DEBUG, "DEBUG"))

# The frame types of Lambda's telemetry log protocol for a JSON line, by level; awslambdaric's handler
# sends a record's `_frame_type` (awslambdaric/lambda_runtime_log_utils.py, `_JSON_FRAME_TYPES`)
_LAMBDA_JSON_FRAMES = {level: frame.to_bytes(4, "big") for level, frame in (
    (0, 0xA55A0002), (10, 0xA55A000A), (20, 0xA55A000E), (30, 0xA55A0012), (40, 0xA55A0016),
    (50, 0xA55A001A))}

CloudFields = Callable[["JsonFormatter", logging.LogRecord, Facts, dict[str, Any]], None]


class JsonFormatter(logging.Formatter):
    """One JSON object per record: the same keys on every cloud, then the cloud's own, then `extra=`.

    Keys: time (RFC 3339, UTC, milliseconds), level, message, logger, function, invocation_id,
    event_id, trace_id, span_id, cold_start, provider, attempt (null outside a call), and exception
    when there is one. `end` is appended to each line (Lambda's handler writes the text as it is).
    """

    def __init__(self, provider: str, environ: Mapping[str, str] | None = None, end: str = "") -> None:
        super().__init__()
        env = os.environ if environ is None else environ
        self.provider = provider
        self.end = end
        self.project = gcp_project(env)
        self.lambda_json = env.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
        self._cloud_fields = _CLOUD_FIELDS.get(provider)

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), ensure_ascii=False, default=str) + self.end

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record as the dict written on the line."""
        facts = _current.get() or _NO_FACTS
        fields: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname,
            "message": _message(record),
            "logger": record.name,
            "function": facts.function or None,
            "invocation_id": facts.invocation_id or None,
            "event_id": facts.event_id,
            "trace_id": facts.trace_id,
            "span_id": facts.span_id,
            "cold_start": facts.cold_start if facts.function else None,
            "provider": facts.provider or self.provider,
            "attempt": facts.attempt,
        }
        if _has_exception(record):
            fields["exception"] = self.formatException(record.exc_info)  # type: ignore[arg-type]
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        if self._cloud_fields is not None:
            self._cloud_fields(self, record, facts, fields)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in fields and not key.startswith("_"):
                fields[key] = value
        return fields


def rfc3339(created: float) -> str:
    """`created` (epoch seconds) as RFC 3339 in UTC with milliseconds: 2026-12-06T09:35:55.123Z."""
    seconds = int(created)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{int((created - seconds) * 1000):03d}Z"


def _message(record: logging.LogRecord) -> Any:
    # a dict logged on its own stays an object, as in Lambda's JSON log format
    if isinstance(record.msg, dict) and not record.args:
        return record.msg
    return record.getMessage()


def _has_exception(record: logging.LogRecord) -> bool:
    return bool(record.exc_info) and record.exc_info[0] is not None  # type: ignore[index]


def _aws_fields(formatter: JsonFormatter, record: logging.LogRecord, facts: Facts,
                fields: dict[str, Any]) -> None:
    """Lambda's JSON log format keys: timestamp, requestId, tenantId, and errorType, errorMessage,
    stackTrace, location for an exception (awslambdaric/lambda_runtime_log_utils.py, JsonFormatter)."""
    fields["timestamp"] = fields["time"]
    request_id = facts.invocation_id or getattr(record, "aws_request_id", None)
    if request_id:
        fields["requestId"] = request_id
    tenant_id = getattr(record, "tenant_id", None)
    if tenant_id is not None:
        fields["tenantId"] = tenant_id
    if _has_exception(record):
        _, error, tb = record.exc_info  # type: ignore[misc]
        fields["errorType"] = type(error).__name__
        fields["errorMessage"] = str(error)
        fields["stackTrace"] = traceback.format_tb(tb)
        fields["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
    if formatter.lambda_json:  # awslambdaric's handler tells the platform this line is JSON, and its level
        record._frame_type = _LAMBDA_JSON_FRAMES[min(50, max(0, record.levelno)) // 10 * 10]


def _gcp_fields(formatter: JsonFormatter, record: logging.LogRecord, facts: Facts,
                fields: dict[str, Any]) -> None:
    """Cloud Logging's special fields of a structured log line."""
    fields["severity"] = next((name for level, name in _SEVERITIES if record.levelno >= level), "DEFAULT")
    if facts.trace_id and formatter.project:
        fields["logging.googleapis.com/trace"] = f"projects/{formatter.project}/traces/{facts.trace_id}"
    if facts.span_id:
        fields["logging.googleapis.com/spanId"] = facts.span_id
    if facts.sampled is not None:
        fields["logging.googleapis.com/trace_sampled"] = facts.sampled


def _azure_fields(formatter: JsonFormatter, record: logging.LogRecord, facts: Facts,
                  fields: dict[str, Any]) -> None:
    """Application Insights' operation_Id: the trace id of the invocation's trace context."""
    if facts.trace_id:
        fields["operation_Id"] = facts.trace_id


_CLOUD_FIELDS: dict[str, CloudFields] = {"aws": _aws_fields, "gcp": _gcp_fields, "azure": _azure_fields}


def gcp_project(environ: Mapping[str, str]) -> str | None:
    """The Google Cloud project from the environment (no metadata server call), or None."""
    for name in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"):
        if environ.get(name):
            return environ[name]
    return None


# -- configuration --------------------------------------------------------------------------------

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL,
           # Lambda's AWS_LAMBDA_LOG_LEVEL names, and the standard library's aliases
           "TRACE": logging.DEBUG, "WARN": logging.WARNING, "FATAL": logging.CRITICAL}


def log_level(level: str | int | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The level to log at: `level` (the app's config), else LOG_LEVEL, else AWS_LAMBDA_LOG_LEVEL,
    else INFO. An unknown name is a ConfigError listing the valid ones."""
    env = os.environ if environ is None else environ
    for source, value in (("the log level", level), ("LOG_LEVEL", env.get("LOG_LEVEL")),
                          ("AWS_LAMBDA_LOG_LEVEL", env.get("AWS_LAMBDA_LOG_LEVEL"))):
        if isinstance(value, int):
            return value
        if value:
            return _level_named(source, value)
    return logging.INFO


def _level_named(source: str, value: str) -> int:
    level = _LEVELS.get(value.strip().upper())
    if level is None:
        raise ConfigError(f"{source} {value!r} is not a log level. Use one of DEBUG, INFO, WARNING, ERROR, "
                          "CRITICAL (any case; TRACE, WARN and FATAL are read as DEBUG, WARNING, CRITICAL).")
    return level


def configure(provider: str, level: str | int | None = None, *, root: logging.Logger | None = None,
              environ: Mapping[str, str] | None = None) -> None:
    """On a cloud, make every handler on the root logger write JSON lines, and set the root's level.

    The handlers are the ones the cloud's runtime installed (awslambdaric, the Azure worker,
    functions-framework); with none, one writing to stdout is added. Calling it again changes nothing
    but the level. Locally (`local`, `test`) it does nothing: `dev` prints readable lines.
    """
    if provider not in CLOUDS:
        return
    env = os.environ if environ is None else environ
    root = logging.getLogger() if root is None else root
    root.setLevel(log_level(level, env))
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    for handler in root.handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter(provider, env, end=_line_end(handler)))


def _line_end(handler: logging.Handler) -> str:
    # awslambdaric's handlers write the formatted text as it is; its own formatters end it with "\n"
    return "\n" if type(handler).__module__.startswith("awslambdaric") else ""

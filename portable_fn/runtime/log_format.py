"""`JsonFormatter`: a log record as one JSON object, the same keys on every cloud, then the cloud's own.

Imported by `logs.configure` on a cloud (and by the dev host, which shows the same facts), never by the
runtime on its own: see `logs` for the keys, and for where each cloud's runtime meets this formatter.
Once a function has read a secret, every field of every line (the message with its arguments, the
exception, `extra=` fields) has that secret's value replaced by `[secret NAME]` (`redaction.redact`).
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .logs import Facts, current_facts
from .redaction import REDACTIONS, redact

if TYPE_CHECKING:
    from .tracing import TraceContext

__all__ = ["JsonFormatter", "gcp_project", "rfc3339"]

# a value JSON cannot hold is written as its str(), never a lost line
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

# what a LogRecord holds on its own; anything else on it came from the user's `extra=`
_RECORD_ATTRIBUTES = frozenset(
    (
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "taskName",
        "message",
        "asctime",
        "aws_request_id",
        "tenant_id",  # awslambdaric's filter adds these; they are written as requestId, tenantId
    )
)

# Cloud Logging's LogSeverity for Python's levels (a custom level takes the one below it)
_SEVERITIES = (
    (logging.CRITICAL, "CRITICAL"),
    (logging.ERROR, "ERROR"),
    (logging.WARNING, "WARNING"),
    (logging.INFO, "INFO"),
    (logging.DEBUG, "DEBUG"),
)

# The frame types of Lambda's telemetry log protocol for a JSON line, by level; awslambdaric's handler
# sends a record's `_frame_type` (awslambdaric/lambda_runtime_log_utils.py, `_JSON_FRAME_TYPES`)
_LAMBDA_JSON_FRAMES = {
    level: frame.to_bytes(4, "big")
    for level, frame in (
        (0, 0xA55A0002),
        (10, 0xA55A000A),
        (20, 0xA55A000E),
        (30, 0xA55A0012),
        (40, 0xA55A0016),
        (50, 0xA55A001A),
    )
}

CloudFields = Callable[["JsonFormatter", logging.LogRecord, "TraceContext | None", dict[str, Any]], None]


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
        self._outside_a_call = {
            "function": None,
            "invocation_id": None,
            "event_id": None,
            "trace_id": None,
            "span_id": None,
            "cold_start": None,
            "provider": provider,
            "attempt": None,
        }

    def format(self, record: logging.LogRecord) -> str:
        return _encode(self.fields(record)) + self.end

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record as the dict written on the line."""
        facts = current_facts()
        fields: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname,
            "message": _message(record),
            "logger": record.name,
        }
        fields.update(_call_fields(facts) if facts is not None else self._outside_a_call)
        if _has_exception(record):
            fields["exception"] = self.formatException(record.exc_info)  # type: ignore[arg-type]
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        if self._cloud_fields is not None:
            self._cloud_fields(self, record, facts.trace if facts is not None else None, fields)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in fields and not key.startswith("_"):
                fields[key] = value
        if REDACTIONS:  # a secret was read in this process: no value of one leaves in any field
            return _redacted(fields)  # type: ignore[no-any-return]
        return fields


def _call_fields(facts: Facts) -> dict[str, Any]:
    trace = facts.trace
    return {
        "function": facts.function,
        "invocation_id": facts.invocation_id or None,
        "event_id": facts.event_id,
        "trace_id": trace.trace_id,
        "span_id": trace.span_id,
        "cold_start": facts.cold_start,
        "provider": facts.provider,
        "attempt": facts.attempt,
    }


def _redacted(value: Any) -> Any:
    """`value` (a field, a dict or list of them) with every secret value read here replaced by its marker;
    anything else JSON would write as its str() is replaced by that str() when it holds one."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_redacted(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    shown = redact(text)
    return value if shown == text else shown


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


def _aws_fields(
    formatter: JsonFormatter, record: logging.LogRecord, trace: TraceContext | None, fields: dict[str, Any]
) -> None:
    """Lambda's JSON log format keys: timestamp, requestId, tenantId, and errorType, errorMessage,
    stackTrace, location for an exception (awslambdaric/lambda_runtime_log_utils.py, JsonFormatter)."""
    fields["timestamp"] = fields["time"]
    request_id = fields["invocation_id"] or getattr(record, "aws_request_id", None)
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


def _gcp_fields(
    formatter: JsonFormatter, record: logging.LogRecord, trace: TraceContext | None, fields: dict[str, Any]
) -> None:
    """Cloud Logging's special fields of a structured log line."""
    fields["severity"] = next((name for level, name in _SEVERITIES if record.levelno >= level), "DEFAULT")
    if fields["trace_id"] and formatter.project:
        fields["logging.googleapis.com/trace"] = f"projects/{formatter.project}/traces/{fields['trace_id']}"
    if fields["span_id"]:
        fields["logging.googleapis.com/spanId"] = fields["span_id"]
    if trace is not None:
        fields["logging.googleapis.com/trace_sampled"] = trace.sampled


def _azure_fields(
    formatter: JsonFormatter, record: logging.LogRecord, trace: TraceContext | None, fields: dict[str, Any]
) -> None:
    """Application Insights' operation_Id: the trace id of the invocation's trace context."""
    if fields["trace_id"]:
        fields["operation_Id"] = fields["trace_id"]


_CLOUD_FIELDS: dict[str, CloudFields] = {"aws": _aws_fields, "gcp": _gcp_fields, "azure": _azure_fields}


def gcp_project(environ: Mapping[str, str]) -> str | None:
    """The Google Cloud project from the environment (no metadata server call), or None."""
    for name in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"):
        if environ.get(name):
            return environ[name]
    return None

"""Structured logs: one JSON object per line on every cloud, with the same keys, plus each cloud's own.

The facts of the running call (function, invocation id, event id, trace, attempt, ...) come from context
variables (the pipeline's current call, and the invocation `LoggingMiddleware` started), so every logger
sees them: `ctx.logger`, the user's own `logging.getLogger(...)` loggers, async tasks, and threads run
with a copy of the context (`asyncio.to_thread`, `contextvars.copy_context().run`).
`log_format.JsonFormatter` writes them; `configure(provider)` puts it on the handlers the cloud's runtime
installed on the root logger, so nothing is written twice, and with no secret's value in it (a handler
that logs one shows `[secret NAME]`: `redaction.redact`):

- AWS: awslambdaric's handler (it adds the request id and writes to Lambda's telemetry log sink); the line
  also holds the keys of Lambda's own JSON log format (`AWS_LAMBDA_LOG_FORMAT=JSON`).
- GCP: Cloud Logging reads `severity`, `logging.googleapis.com/trace`, `.../spanId`, `.../trace_sampled`
  from a JSON line on stdout; functions-framework's handler when `LOG_EXECUTION_ID` installed one.
- Azure: the Python worker's handler sends the line to the host, which tags it with the invocation;
  `operation_Id` is the trace id, as Application Insights names it.

This module does not import `logging` (about 6 ms where nothing has yet): the middleware runs in every
function, the formatter only where `configure` installs it, and every cloud's runtime has imported
`logging` by then.
"""

from __future__ import annotations

import contextvars
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, InvalidEventError
from .outcomes import DeadLetter, Retry
from .pipeline import Call, Invocation, Middleware, current_call, within

if TYPE_CHECKING:
    import logging

    from .tracing import TraceContext

__all__ = [
    "Facts",
    "LoggingMiddleware",
    "configure",
    "configure_deployed",
    "current_facts",
    "log_failure",
    "log_level",
]

CLOUDS = ("aws", "gcp", "azure")


class Facts:
    """What every log line says about the call (or the invocation) it was written in.

    Read from the invocation and the call when a line is written, not before: most calls log nothing,
    and a call's attempt may need its transport metadata read.
    """

    __slots__ = ("invocation", "call")

    def __init__(self, invocation: Invocation, call: Call | None = None) -> None:
        self.invocation = invocation
        self.call = call

    @property
    def function(self) -> str:
        return self.invocation.spec.name

    @property
    def invocation_id(self) -> str:
        return self.invocation.invocation_id

    @property
    def provider(self) -> str:
        return self.invocation.provider

    @property
    def cold_start(self) -> bool:
        return self.invocation.cold_start

    @property
    def event_id(self) -> str | None:
        return self.call.event_id if self.call is not None else None

    @property
    def attempt(self) -> int | None:
        return self.call.attempt if self.call is not None else None

    @property
    def trace(self) -> TraceContext:
        """The call's trace context (`trace_id`, `span_id`, `sampled`), else the invocation's."""
        if self.call is not None and self.call.trace is not None:
            return self.call.trace
        return self.invocation.trace


_invocation: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "portable_fn_log_invocation", default=None
)


def current_facts() -> Facts | None:
    """The facts of the call running in this context (the pipeline's current call), else of the
    invocation `LoggingMiddleware` started, if any."""
    call = current_call()
    if call is not None:
        return Facts(call.invocation, call)
    invocation = _invocation.get()
    return Facts(invocation) if invocation is not None else None


class LoggingMiddleware(Middleware):
    """Gives what is logged between the calls of an invocation (by other middleware, by the shim) the
    invocation's facts; while a call runs, the pipeline's current call gives them, so this costs nothing
    per record."""

    def __init__(self) -> None:
        self._key = f"{__name__}.{id(self)}"  # this instance's token in `Invocation.state`

    def start(self, invocation: Invocation) -> None:
        invocation.state[self._key] = _invocation.set(invocation)

    def on_error(self, call: Call, error: BaseException) -> None:
        """On a cloud, an event handler that raised on its own (not Retry, DeadLetter or invalid data) is
        logged at ERROR with its traceback, in the call, unless its shim writes the record's one line
        (`Invocation.logs_failures`, `log_failure`). `dev` shows the traceback its own way; a request's
        crash is logged where it becomes a 500."""
        invocation = call.invocation
        if call.request is not None or invocation.provider not in CLOUDS or invocation.logs_failures:
            return
        if _signalled(error):
            return
        import logging

        logging.getLogger("portable_fn").error(
            "function %s: event %s raised %s",
            invocation.spec.name,
            call.event_id,
            type(error).__name__,
            exc_info=error,
        )

    def finish(self, invocation: Invocation) -> None:
        token = invocation.state.pop(self._key, None)
        if token is not None:
            _invocation.reset(token)


def log_failure(call: Call, message: str, *args: Any, logger: str = "portable_fn") -> None:
    """The one line of an event the handler did not acknowledge, written by the shim once it knows what
    becomes of it (`message % args` says so: retried, dead-lettered, reported as a batch item failure, with
    the attempt), with the call's facts. A crash is an ERROR with its traceback; the handler's own Retry or
    DeadLetter, or data it could not read, is a WARNING.

    The line holds the traceback from then on, so the exception lets go of its frames: they reach every call
    of the batch, which reference counting then frees as soon as the shim answers (not the garbage
    collector). `call.result.error` is still the exception."""
    import logging

    error = call.result.error if call.result is not None else None
    crashed = error is not None and not _signalled(error)
    level = logging.ERROR if crashed else logging.WARNING
    log = logging.getLogger(logger).log
    # stacklevel: the line's location is the shim's call of `log_failure`, not `within` or this function
    within(call, log, level, message, *args, exc_info=error if crashed else None, stacklevel=3)
    if error is not None:
        error.__traceback__ = None


def _signalled(error: BaseException) -> bool:
    """A handler's own word on the outcome (Retry, DeadLetter) or data it could not read: no crash."""
    return isinstance(error, (Retry, DeadLetter, InvalidEventError))


# -- configuration --------------------------------------------------------------------------------

# the standard library's level numbers (logging.DEBUG ...), and Lambda's AWS_LAMBDA_LOG_LEVEL names
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50, "TRACE": 10, "WARN": 30, "FATAL": 50}


def log_level(level: str | int | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The level to log at: `level` (the app's config), else LOG_LEVEL, else AWS_LAMBDA_LOG_LEVEL,
    else INFO. An unknown name is a ConfigError listing the valid ones."""
    env = os.environ if environ is None else environ
    for source, value in (
        ("the app's config", level),
        ("LOG_LEVEL", env.get("LOG_LEVEL")),
        ("AWS_LAMBDA_LOG_LEVEL", env.get("AWS_LAMBDA_LOG_LEVEL")),
    ):
        if isinstance(value, int):
            return value
        if value:
            return _level_named(source, value)
    return _LEVELS["INFO"]


def _level_named(source: str, value: str) -> int:
    level = _LEVELS.get(value.strip().upper())
    if level is None:
        raise ConfigError(
            f"Log level {value!r} (from {source}) is unknown. Use one of DEBUG, INFO, WARNING, "
            "ERROR, CRITICAL (any case; TRACE, WARN and FATAL are read as DEBUG, WARNING, CRITICAL)."
        )
    return level


def configure(
    provider: str,
    level: str | int | None = None,
    *,
    root: logging.Logger | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """On a cloud, make every handler on the root logger write JSON lines, and set the root's level.

    The handlers are the ones the cloud's runtime installed (awslambdaric, the Azure worker,
    functions-framework); with none, one writing to stdout is added. Calling it again changes nothing
    but the level. Locally (`local`, `test`) it does nothing: `dev` prints readable lines.
    """
    if provider not in CLOUDS:
        return
    import logging

    from .log_format import JsonFormatter

    env = os.environ if environ is None else environ
    root = logging.getLogger() if root is None else root
    root.setLevel(log_level(level, env))
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    for handler in root.handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter(provider, env, end=_line_end(handler)))


# A variable each cloud's runtime sets in the function's process, and nothing else does: the shims call
# `configure_deployed` at cold start, which leaves a test (or any other process importing a shim) alone.
DEPLOYED_MARKERS = {
    "aws": ("AWS_LAMBDA_FUNCTION_NAME",),
    "gcp": ("K_SERVICE", "FUNCTION_TARGET"),
    "azure": ("FUNCTIONS_WORKER_RUNTIME", "WEBSITE_SITE_NAME", "AzureWebJobsScriptRoot"),
}


def configure_deployed(provider: str, environ: Mapping[str, str] | None = None, **options: Any) -> bool:
    """`configure(provider)` when this process is a function running on that cloud (its runtime's own
    variable is set, `DEPLOYED_MARKERS`); True when it did. The level comes from `LOG_LEVEL` (the app's
    `env`) or Lambda's `AWS_LAMBDA_LOG_LEVEL`; a level no one can read is reported, not raised, so a
    typo in a setting never stops a function from starting."""
    env = os.environ if environ is None else environ
    if not any(env.get(marker) for marker in DEPLOYED_MARKERS.get(provider, ())):
        return False
    try:
        configure(provider, environ=env, **options)
    except ConfigError as exc:
        configure(provider, "INFO", environ=env, **options)
        import logging

        logging.getLogger("portable_fn").error("%s Logging at INFO instead.", exc)
    return True


def _line_end(handler: logging.Handler) -> str:
    # awslambdaric's handlers write the formatted text as it is; its own formatters end it with "\n"
    return "\n" if type(handler).__module__.startswith("awslambdaric") else ""

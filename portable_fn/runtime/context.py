"""`Context`: what a handler may want to know about the invocation it is running in."""

from __future__ import annotations

import time as _time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .views import MessageMeta

if TYPE_CHECKING:  # what these load is loaded by then, or on first use (logging)
    import weakref
    from logging import Logger

    from .channels import Channel
    from .cloudevent import CloudEvent
    from .pipeline import Call
    from .tracing import TraceContext
    from .triggers import Queue, Topic


class Context:
    """Invocation facts, the same fields on every provider.

    `invocation_id`, `function_name`, `provider`, `attempt` (1 on first delivery), `deadline` (epoch
    seconds, or None when unknown), `message` (transport metadata of a queue/topic message), `raw` (the
    provider's native context), `trace` (the invocation's trace context: `trace_id`, `span_id`,
    `parent_id`, `links`, `headers()` for an outgoing call), `tenant` (the tenant the call serves, or None:
    `portable_fn.runtime.tenants`) and `logger`; `emit(...)` sends an event.
    """

    __slots__ = (
        "invocation_id",
        "function_name",
        "provider",
        "attempt",
        "deadline",
        "message",
        "raw",
        "tenant",
        "_trace",
        "_call",
        "_logger",
    )

    def __init__(
        self,
        invocation_id: str = "",
        function_name: str = "",
        provider: str = "local",
        attempt: int = 1,
        deadline: float | None = None,
        message: MessageMeta | None = None,
        raw: Any = None,
        tenant: str | None = None,
    ) -> None:
        self.invocation_id = invocation_id
        self.function_name = function_name
        self.provider = provider
        self.attempt = attempt
        self.deadline = deadline
        self.message = message
        self.raw = raw
        self.tenant = tenant  # a shim that knows it sets it (AWS tenant isolation); else TenantMiddleware
        self._trace: TraceContext | None = None
        self._call: weakref.ref[Call] | None = None  # the pipeline's call this context belongs to
        self._logger: Logger | None = None

    @property
    def trace(self) -> TraceContext | None:
        """The invocation's trace context (`tracing.TraceContext`), worked out on first use from what the
        transport carried; None outside an invocation."""
        if self._trace is None and self._call is not None:
            call = self._call()
            if call is not None:
                self._trace = call.trace
        return self._trace

    @trace.setter
    def trace(self, value: TraceContext | None) -> None:
        self._trace = value

    @property
    def delivery_count(self) -> int:
        """How many times this message has been delivered, this time included."""
        return self.message.delivery_count if self.message is not None else self.attempt

    def remaining_ms(self) -> int | None:
        """Milliseconds left before the provider stops the invocation (None when unknown)."""
        if self.deadline is None:
            return None
        return max(0, int((self.deadline - _time.time()) * 1000))

    @property
    def logger(self) -> Logger:
        """A `logging.Logger` named after the function (the logging module is imported on first use)."""
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(f"portable_fn.function.{self.function_name}")
        return self._logger

    def emit(
        self,
        target: Topic | Queue | Channel,
        data: Any = None,
        *,
        type: str,
        subject: str | None = None,
        source: str | None = None,
        datacontenttype: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> CloudEvent[Any]:
        """Send a CloudEvent to `target`, a topic or queue the function declares in `uses=`: published when
        this invocation succeeds (`portable_fn.runtime.emit`). Returns the event."""
        from .emit import emit_from
        from .pipeline import current_call

        call = self._call() if self._call is not None else current_call()
        return emit_from(call, target, data, type, subject, source, datacontenttype, extensions)

    def with_attempt(self, attempt: int) -> Context:
        """A copy for another delivery of the same message."""
        message = self.message
        if message is not None:
            message = MessageMeta(
                message.message_id, attempt, message.attributes, message.published_time, message.subscription
            )
        copy = Context(self.invocation_id, self.function_name, self.provider, attempt, self.deadline, message, self.raw)
        copy.tenant, copy._trace, copy._call = self.tenant, self._trace, self._call
        return copy

    def __repr__(self) -> str:
        return f"Context({self.function_name!r}, provider={self.provider!r}, attempt={self.attempt})"

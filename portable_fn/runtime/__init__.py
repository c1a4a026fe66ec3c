"""The portable runtime: everything that ships inside a deployed function. Standard library only.

Users import these names from `portable_fn`; provider shims import them from here.
"""

from __future__ import annotations

from .cloudevent import CloudEvent
from .context import Context
from .errors import (
    DataValidationError,
    DeclarationError,
    InvalidEventError,
    PortableFnError,
)
from .function import FunctionOptions, FunctionSpec, function, spec_of
from .http import Headers, QueryParams, Request, Response
from .http_binding import from_http, from_http_batch, to_batch, to_binary, to_structured
from .outcomes import ACK, DEAD_LETTER, RETRY, DeadLetter, Result, Retry
from .pipeline import call_batch, call_event, call_http
from .triggers import Http, Queue, Schedule, Storage, Topic, cron, http, queue, schedule, storage, topic
from .views import MessageMeta, ScheduleTick, StorageObject

__all__ = [
    "ACK", "DEAD_LETTER", "RETRY", "CloudEvent", "Context", "DataValidationError", "DeadLetter",
    "DeclarationError", "FunctionOptions", "FunctionSpec", "Headers", "Http", "InvalidEventError",
    "MessageMeta", "PortableFnError", "QueryParams", "Queue", "Request", "Response", "Result", "Retry",
    "Schedule", "ScheduleTick", "Storage", "StorageObject", "Topic", "call_batch", "call_event",
    "call_http", "cron", "from_http", "from_http_batch", "function", "http", "queue", "schedule",
    "spec_of", "storage", "to_batch", "to_binary", "to_structured", "topic",
]

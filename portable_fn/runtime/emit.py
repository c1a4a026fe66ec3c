"""Emit: a function sends CloudEvents to the topics and queues it declares, once its invocation succeeds.

    order_events = topic("order-events")

    @function(trigger=queue("orders"), uses=[order_events.publish()])
    def fulfil(event: CloudEvent[Order], ctx: Context) -> None:
        ctx.emit(order_events, data={"id": event.data.id}, type="shop.order.paid")

`emit` builds the event and holds it; `OutboxMiddleware` publishes what a call held when the call succeeded
(ACK, or an HTTP status below 500), one `Publisher.publish` per channel. A call that fails publishes nothing;
a publish that fails turns the call into a retry (503 for a request), so nothing is lost. Outside an
invocation (a script), `emit` publishes at once.

What every emitted event carries:

| attribute     | value                                                                                        |
|---------------|----------------------------------------------------------------------------------------------|
| `id`          | sha256 of (function, the trigger's stable key, emit index): a redelivered call emits the     |
|               | same ids. Stable keys: an event's source and id, a request's `Idempotency-Key` (and tenant); |
|               | else random                                                                                  |
| `source`      | `/apps/<PORTABLE_FN_APP>/functions/<function>` unless given                                  |
| `traceparent` | the emitting invocation's span (`tracestate` too), so the receiver continues the trace       |
| `pfnhops`     | the triggering event's `pfnhops` + 1 (1 from a request or an event without it); past          |
|               | `PORTABLE_FN_MAX_HOPS` (16) `emit` raises `DeadLetter`: an event loop ends dead-lettered     |
| `tenantid`    | the tenant the emitting call serves (`runtime.tenants`), unless the caller set it            |

Once per success: a duplicate delivery of an event whose call succeeded and published runs the handler
again (unless the function is idempotent, when it is replayed without running) and emits the same events;
a ledger in the `pfn-outbox` state, keyed by function and trigger key, says they were published already, so
they are not published twice. A function that never emits pays one dict lookup per call for all this.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .channels import QUEUE, TOPIC, Channel, PublishError, _verb, publisher
from .cloudevent import CloudEvent
from .dispatch import retry_after
from .errors import PortableFnError
from .http import Response
from .outcomes import RETRY, DeadLetter, Result, Retry
from .pipeline import Call, Middleware, current_call
from .resources import WRITE, UndeclaredResourceError, check_access
from .state import MAX_KEY_CHARS, Record, State, new_version
from .tenants import EXTENSION as TENANT_EXTENSION
from .tenants import tenant_of

if TYPE_CHECKING:
    from logging import Logger

    from .function import FunctionSpec
    from .triggers import Queue, Topic

OUTBOX = State("pfn-outbox", internal=True)  # the ledger: which calls' events were published
HOPS = "pfnhops"
MAX_HOPS_ENV = "PORTABLE_FN_MAX_HOPS"
DEFAULT_MAX_HOPS = 16
LEDGER_TTL_S = 7 * 24 * 3600.0  # longer than any cloud redelivers a message
PUBLISH_RETRY_S = 1.0
_HELD = __name__  # the events held per call index, in `Invocation.state`
_STEPS = __name__ + ".steps"  # events emitted so far per workflow step key, in `Invocation.state`


def emit(
    target: Topic | Queue | Channel,
    data: Any = None,
    *,
    type: str,
    subject: str | None = None,
    source: str | None = None,
    datacontenttype: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> CloudEvent[Any]:
    """Send a CloudEvent to `target` (a `topic(...)` / `queue(...)` the function declares in `uses=`):
    published when the running call succeeds, at once outside an invocation. Returns the event."""
    return emit_from(current_call(), target, data, type, subject, source, datacontenttype, extensions)


def emit_from(
    call: Call | None,
    target: Topic | Queue | Channel,
    data: Any,
    type: str,
    subject: str | None,
    source: str | None,
    datacontenttype: str | None,
    extensions: Mapping[str, Any] | None,
) -> CloudEvent[Any]:
    """`emit` for `call` (`Context.emit` passes its own; None: not in an invocation)."""
    channel = channel_of(target)
    if call is None:
        event = _event(None, 0, data, type, subject, source, datacontenttype, extensions)
        publisher().publish(channel, [event])
        return event
    _check_declared(call, channel)
    step = _workflow_step()
    if step is not None:  # a workflow step is its own unit of retry: publish now, with ids its reruns repeat
        counts = call.invocation.state.setdefault(_STEPS, {})
        index = counts[step] = counts.get(step, -1) + 1
        event = _event(call, index, data, type, subject, source, datacontenttype, extensions, key=f"step#{step}")
        publisher().publish(channel, [event])
        return event
    held = call.invocation.state.setdefault(_HELD, {}).setdefault(call.index, [])
    event = _event(call, len(held), data, type, subject, source, datacontenttype, extensions)
    held.append((channel, event))
    return event


def channel_of(target: Topic | Queue | Channel) -> Channel:
    """The channel a `topic(...)` / `queue(...)` trigger value (or a Channel) names."""
    if isinstance(target, Channel):
        return target
    kind = getattr(target, "kind", None)
    if kind in ("topic", "queue") and isinstance(getattr(target, "name", None), str):
        return Channel(kind, target.name, fifo=bool(getattr(target, "fifo", False)))
    raise PortableFnError(
        f"emit({target!r}, ...): emit to a topic or queue, such as order_events = topic('order-events') "
        "declared with uses=[order_events.publish()]."
    )


def max_hops() -> int:
    """How many functions an event may pass through (`PORTABLE_FN_MAX_HOPS`, default 16)."""
    text = os.environ.get(MAX_HOPS_ENV)
    if not text:
        return DEFAULT_MAX_HOPS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise PortableFnError(
            f"{MAX_HOPS_ENV}={text!r} is not a whole number of at least 1; set max_hops = N under "
            "[tool.portable-fn] in pyproject.toml and deploy again."
        )
    return value


def hops_of(call: Call | None) -> int:
    """The hop count of what triggered `call`: its event's `pfnhops`, 0 for a request or without it."""
    event = call.event if call is not None else None
    value = event.extensions.get(HOPS) if isinstance(event, CloudEvent) else None
    try:
        return max(0, int(value)) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def _check_declared(call: Call, channel: Channel) -> None:
    try:
        check_access(channel, WRITE)
    except UndeclaredResourceError:
        name, verb = call.invocation.spec.name, _verb(channel)
        raise UndeclaredResourceError(
            f"Function {name!r} emits to {channel!r} without declaring it, so deploy grants it no right to {verb} "
            f"there; add uses=[{channel.name_in_code}.{verb}()] to its @function."
        ) from None


# -- the event ---------------------------------------------------------------------------------------


def _event(
    call: Call | None,
    index: int,
    data: Any,
    type: str,
    subject: str | None,
    source: str | None,
    datacontenttype: str | None,
    extensions: Mapping[str, Any] | None,
    key: str | None = None,
) -> CloudEvent[Any]:
    hops, limit = hops_of(call) + 1, max_hops()
    function = call.invocation.spec.name if call is not None else os.environ.get("PORTABLE_FN_FUNCTION", "script")
    if hops > limit:
        raise DeadLetter(
            f"event loop: {function!r} emitting {type!r} would make hop {hops} > max {limit}; the event "
            f"that triggered it passed through {hops - 1} functions. Break the loop, or raise max_hops under "
            "[tool.portable-fn] if the chain is meant to be this long."
        )
    own: dict[str, Any] = dict(extensions or {})
    if call is not None:
        own.update(call.trace.headers())
    own[HOPS] = hops
    tenant = tenant_of(call)
    if tenant is not None:
        own.setdefault(TENANT_EXTENSION, tenant)  # the receiver serves the same tenant
    if datacontenttype is None and data is not None and not isinstance(data, (bytes, str)):
        datacontenttype = "application/json"
    event: CloudEvent[Any] = CloudEvent(
        id=_event_id(call, function, index, key),
        source=source or f"/apps/{os.environ.get('PORTABLE_FN_APP') or 'local'}/functions/{function}",
        type=type,
        data=data,
        datacontenttype=datacontenttype,
        subject=subject,
        time=_now(),
        extensions=own,
    )
    try:  # here, where the handler can hear it, rather than when the call's events are published
        event.to_json()
    except (TypeError, ValueError) as exc:
        raise PortableFnError(
            f"{function!r} emitting {type!r}: the event cannot be sent as JSON ({exc}); emit dicts, lists, "
            "strings, numbers, bytes, pydantic models or dataclasses."
        ) from None
    return event


def stable_key(call: Call) -> str | None:
    """What identifies a call's trigger across redeliveries: an event's source and id, a request's
    Idempotency-Key (with its tenant: two tenants' keys may be the same); None when nothing does (a
    request without the header)."""
    event = call.event
    if isinstance(event, CloudEvent):
        return f"{event.source}#{event.id}"
    request = call.request
    key = request.headers.get("Idempotency-Key") if request is not None else None
    if not key:
        return None
    tenant = tenant_of(call)
    return f"Idempotency-Key#{key}" if tenant is None else f"Idempotency-Key#t/{tenant}#{key}"


def _event_id(call: Call | None, function: str, index: int, key: str | None = None) -> str:
    """sha256 of (function, what identifies the trigger or the workflow step, index): the same id on every
    redelivery; random when nothing identifies the call."""
    if key is None and call is not None:
        key = stable_key(call)
    if key is None:
        return os.urandom(16).hex()
    import hashlib  # on first use: about 4 ms of a cold start otherwise

    return hashlib.sha256(f"{function}\n{key}\n{index}".encode()).hexdigest()


def _workflow_step() -> str | None:
    """The key of the workflow step running here, if any (the engine is imported only by apps using it)."""
    import sys

    engine = sys.modules.get("portable_fn.runtime.workflow")
    return engine.current_step_key() if engine is not None else None


def _now() -> str:
    """Now in RFC 3339, UTC (without datetime, which costs a cold start about 1.5 ms)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1_000_000):06d}Z"


# -- the middleware ----------------------------------------------------------------------------------


class OutboxMiddleware(Middleware):
    """Publishes the events a call emitted once the call succeeded, once per success."""

    def __init__(self, ledger: State = OUTBOX) -> None:
        self.ledger = ledger

    def wanted(self, spec: FunctionSpec) -> bool:
        """A function emits only to a topic or queue it declares with write access (`_check_declared`)."""
        return any(use.writes and use.resource.kind in (TOPIC, QUEUE) for use in spec.options.uses)

    def after(self, call: Call) -> None:
        held = call.invocation.state.get(_HELD)
        events = held.pop(call.index, None) if held else None
        if not events or not _succeeded(call):
            return  # nothing emitted, or a failed call: what it emitted is dropped
        key = self._ledger_key(call)
        if key is not None and self._published(call, key):
            return
        try:
            for channel, group in _grouped(events).items():
                publisher().publish(channel, group)
        except Exception as exc:
            return _retry(call, _publish_failed(call, exc))
        if key is not None:
            self._remember(call, key)

    def _ledger_key(self, call: Call) -> str | None:
        """Where the ledger keeps this call's publication; None when it needs none (an idempotent function
        is replayed without running, so it never emits twice) or nothing identifies the call."""
        if call.invocation.spec.options.idempotent is not False:
            return None
        key = stable_key(call)
        if key is None:
            return None
        scoped = f"{call.invocation.spec.name}#{key}"
        if len(scoped) > MAX_KEY_CHARS:
            import hashlib

            scoped = f"{call.invocation.spec.name}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"
        return scoped

    def _published(self, call: Call, key: str) -> bool:
        """The ledger says this call's events were published (by an earlier delivery that succeeded). An
        unreachable ledger says no: publishing twice (with the same ids) beats losing events."""
        try:
            found = self.ledger.backend.read(key)
        except Exception as exc:
            _log().warning("function %s: outbox ledger %r not read (%s: %s)", _name(call), key, type(exc).__name__, exc)
            return False
        return found is not None and not found.expired(time.time())

    def _remember(self, call: Call, key: str) -> None:
        try:
            self.ledger.backend.write(Record(key, '"published"', new_version(), time.time() + LEDGER_TTL_S))
        except Exception as exc:  # published already: a duplicate delivery would publish the same ids again
            _log().warning(
                "function %s: outbox ledger %r not written (%s: %s); a duplicate delivery publishes its events again",
                _name(call),
                key,
                type(exc).__name__,
                exc,
            )


def _succeeded(call: Call) -> bool:
    if call.request is not None:
        return call.response is not None and call.response.status < 500
    return call.result is not None and call.result.ok


def _grouped(events: list[tuple[Channel, CloudEvent[Any]]]) -> dict[Channel, list[CloudEvent[Any]]]:
    grouped: dict[Channel, list[CloudEvent[Any]]] = {}
    for channel, event in events:
        grouped.setdefault(channel, []).append(event)
    return grouped


def _publish_failed(call: Call, exc: Exception) -> str:
    what = str(exc) if isinstance(exc, PublishError) else f"{type(exc).__name__}: {exc}"
    return f"{_name(call)}: its emitted events were not published ({what}); the call is retried so none is lost."


def _retry(call: Call, reason: str) -> None:
    if call.request is not None:
        call.response = Response.json({"error": reason}, status=503, headers=retry_after(PUBLISH_RETRY_S))
    else:
        call.result = Result(RETRY, None, reason, Retry(reason), call.event_id)  # the retry policy's wait


def _name(call: Call) -> str:
    return call.invocation.spec.name


def _log() -> Logger:
    import logging  # only when something is logged

    return logging.getLogger("portable_fn")

"""Durable workflows: several steps, sleeps and awaited events, run the same on every cloud and locally.

    @workflow(trigger=http("POST", "/orders"), uses=[stock.write()])
    def place_order(wf: Workflow, order: Order) -> Receipt:
        reserved = wf.step(reserve_stock, order, compensate=release_stock)
        paid = wf.wait_for_event("shop.payment.confirmed", match=order.id, timeout=timedelta(hours=1))
        wf.sleep(timedelta(minutes=5))
        return wf.step(ship, order)

How it runs. A workflow is two functions: the starter (`place_order`, the declared trigger, if any) creates
an instance and sends a message to the workflow's own queue (`pfn-wf-place-order`); the runner
(`place_order-run`, triggered by that queue) replays the workflow function from the start against the
instance's history. A finished step returns its recorded result without running; the first step not in
the history runs and its result is checkpointed (a compare-and-set write of the instance) before the next
one starts. A sleep, an awaited event, a step's retry delay or a fan-out records what it waits for and
sends a delayed message to the queue, then the runner returns: nothing runs while an instance waits. The
message (or the awaited event, or the last branch of a fan-out) starts the next replay.

What this gives, on every cloud alike:
- a crash or a timeout in the middle of a step loses nothing: the queue delivers the message again and
  the replay runs that step again (steps run at least once; `step_key()` is the same on every run of a
  step, an idempotency key for the services it calls);
- two runners on one instance (a duplicate message, an event racing a timeout) cannot both advance it:
  the second one's checkpoint loses the compare-and-set and it stops;
- code between steps must be deterministic: `wf.now()`, `wf.uuid()` and `wf.random()` are recorded. A
  replay that asks for something else than the history holds stops the instance as `diverged`, naming
  the step it diverged at;
- a step that fails after its retries raises `StepFailed` in the workflow; unless the workflow catches it,
  the compensations of the finished steps run in reverse (a saga) and the instance ends `failed`.

An instance started for a tenant (`start_workflow(..., tenant=)`, or by a function serving one) serves that
tenant: its runner's messages carry the `tenantid` extension, so its steps' states are that tenant's and the
events they emit carry it (`runtime.tenants`). The events it awaits are that tenant's too: `send_event`
wakes the instances of the tenant it names (`tenant=`, by default the calling function's), so a function
serving no tenant (a payment provider's webhook, a schedule) names the tenant it signals, and a function
serving one tenant can neither start nor signal another's instances. Operating an instance by its id
(`get_instance`, `cancel`, `retry`) needs no tenant: an instance id names one instance of one tenant.

Instances live in the state `pfn-workflows` (key `wf#<id>`), one record each: its status, input, result or
error, and its history. A record is at most `MAX_VALUE_BYTES` on every cloud: a history that would pass it
fails the instance with a message saying so, before a store refuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .channels import QUEUE, Channel, PublishError, publisher
from .cloudevent import CloudEvent
from .context import Context
from .errors import DeclarationError, PortableFnError
from .function import FunctionOptions, FunctionSpec
from .http import Request, Response
from .outcomes import DeadLetter, Retry
from .resources import WRITE, Use
from .retry import RetryPolicy, exponential
from .state import (
    MAX_VALUE_BYTES,
    KeyExistsError,
    State,
    StateError,
    ValueTooLargeError,
    VersionConflictError,
    stored_key,
    to_jsonable,
)
from .tenants import EXTENSION as TENANT_EXTENSION
from .tenants import current_tenant, valid
from .triggers import Queue, Trigger

if TYPE_CHECKING:
    from contextvars import ContextVar
    from datetime import datetime, timedelta
    from logging import Logger

T = TypeVar("T")

STORE = State("pfn-workflows", internal=True)
CONTINUE = "dev.portable-fn.workflow.continue"  # the type of the messages on a workflow's queue
EARLY_S = 1.0  # a wait this close to its end counts as over (queues deliver delays in whole seconds)
EVENT_TTL_S = 30 * 24 * 3600.0  # how long an event nobody waits for yet is kept for a workflow to take
DEFAULT_STEP_RETRY = RetryPolicy(3, exponential(1, max=60))
RUNNER_RETRY = RetryPolicy(10, exponential(1, max=60))  # a runner cut off mid-step (crash, timeout)

RUNNING, WAITING, COMPLETED, FAILED = "running", "waiting", "completed", "failed"
CANCELLING, CANCELLED, DIVERGED = "cancelling", "cancelled", "diverged"
FINISHED = (COMPLETED, FAILED, CANCELLED, DIVERGED)
STATUSES = (RUNNING, WAITING, CANCELLING, *FINISHED)


class WorkflowError(PortableFnError):
    """A workflow cannot be started, signalled or run as asked (the message names the fix)."""


class StepFailed(WorkflowError):
    """A step failed after its retries: raised in the workflow where it called the step."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"step {step!r} failed: {reason}")
        self.step = step
        self.reason = reason


class EventTimeout(WorkflowError):
    """`wait_for_event` ended without the event."""


class WorkflowCancelled(BaseException):
    """Raised in a workflow being cancelled at the first thing it would do next (not an Exception, so a
    workflow's own `except Exception` does not stop the cancellation)."""


class _Suspend(BaseException):
    """The instance waits: unwind the workflow function (never caught by its `except Exception`)."""


class _Stop(BaseException):
    """This replay ends without advancing the instance further (another runner did, or a branch is done)."""


class _Diverged(BaseException):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- declaring ----------------------------------------------------------------------------------------

_workflows: dict[str, WorkflowDef] = {}


class WorkflowDef:
    """A declared workflow: the user's function, its starter and runner functions, and its queue.

    Call it like the function it wraps (tests); start it with `start_workflow`; list it in another
    function's `uses=` to let that function start it or send it events."""

    def __init__(self, fn: Callable[..., Any], name: str, trigger: Trigger | None, options: dict[str, Any]) -> None:
        self.fn = fn
        self.name = name
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        slug = name.lower().replace("_", "-")
        self.channel = Channel(QUEUE, f"pfn-wf-{slug}")
        internal = [STORE.write(), Use(self.channel, WRITE)]
        step_retry = options.pop("step_retry", None)
        if step_retry is not None and not isinstance(step_retry, RetryPolicy):
            raise DeclarationError(f"@workflow {name!r}: step_retry={step_retry!r}; use RetryPolicy(attempts=...).")
        self.step_retry = step_retry or DEFAULT_STEP_RETRY
        user_uses = list(options.pop("uses", None) or ())
        runner_options = {"retry": RUNNER_RETRY, **options}
        self.runner = _Entry(
            _spec(f"{name}-run", fn, Queue(self.channel.name), runner_options, [*user_uses, *internal], self)
        )
        self.__portable_fn__: FunctionSpec | None = None
        if trigger is not None:
            starter_options = {k: v for k, v in options.items() if k not in ("retry", "retries", "max_concurrency")}
            self.__portable_fn__ = _spec(name, fn, trigger, starter_options, internal, self)
        self._input = _input_converter(self)

    @property
    def spec(self) -> FunctionSpec | None:
        """The starter's FunctionSpec (None for a workflow started only with `start_workflow`)."""
        return self.__portable_fn__

    def as_uses(self) -> tuple[Use, ...]:
        """What `uses=[place_order]` declares: starting it and sending it events."""
        return (STORE.write(), Use(self.channel, WRITE))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"workflow({self.name!r})"


class _Entry:
    """The runner as a top-level reachable value (`<module>.place_order.runner`) for generated entry modules."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.__portable_fn__ = spec


def workflow(trigger: Trigger | None = None, *, name: str | None = None, **options: Any) -> Callable[..., WorkflowDef]:
    """Declare a durable workflow (see the module's docstring). `trigger` starts it (or none: only
    `start_workflow` does); `uses=` what its steps use; `step_retry=RetryPolicy(...)` the default retries of
    a step; `timeout_s`, `memory_mb`, `env`, `architecture` as for `@function`."""
    if trigger is not None and not isinstance(trigger, Trigger):
        raise DeclarationError(
            f"@workflow(trigger={trigger!r}): the trigger must come from http(), queue(), topic(), schedule() "
            "or storage(), or be left out to start it only with start_workflow()."
        )
    allowed = {"uses", "step_retry", "timeout_s", "memory_mb", "env", "architecture", "max_concurrency"}
    unknown = set(options) - allowed
    if unknown:
        raise DeclarationError(f"@workflow got unknown option(s) {sorted(unknown)}; the options are {sorted(allowed)}.")

    def decorate(fn: Callable[..., Any]) -> WorkflowDef:
        wf_name = str(name or getattr(fn, "__name__", ""))
        if wf_name in _workflows and _workflows[wf_name].fn.__qualname__ != fn.__qualname__:
            raise DeclarationError(f"Two workflows are named {wf_name!r}; pass name='...' to one of them.")
        defn = WorkflowDef(fn, wf_name, trigger, dict(options))
        _workflows[wf_name] = defn
        return defn

    return decorate


def _spec(
    name: str, fn: Callable[..., Any], trigger: Trigger, options: dict[str, Any], uses: list[Any], defn: WorkflowDef
) -> FunctionSpec:
    if trigger.is_event:
        handler = _runner(defn) if isinstance(trigger, Queue) and trigger.name == defn.channel.name else _starter(defn)
    else:
        handler = _http_starter(defn)
    spec = FunctionSpec(name, handler, trigger, FunctionOptions(name, uses=uses, **options))
    spec.module = getattr(fn, "__module__", "")
    _ = spec.binding  # check now, as @function does
    return spec


def _input_converter(defn: WorkflowDef) -> Callable[[Any], Any] | None:
    """How the instance's input (JSON) becomes the workflow's second argument; None when it takes none."""
    code = getattr(defn.fn, "__code__", None)
    names: tuple[str, ...] = code.co_varnames[: code.co_argcount] if code is not None else ()
    if len(names) not in (1, 2):
        raise DeclarationError(
            f"@workflow {defn.name!r}: the function takes the Workflow and optionally its input, "
            f"like def {defn.name}(wf: Workflow, order: Order); it has {len(names)} parameters."
        )
    if len(names) == 1:
        return None
    return _converter_for(defn.fn, names[1], f"@workflow {defn.name!r}") or (lambda data: data)


def _converter_for(fn: Callable[..., Any], hint_name: str, owner: str) -> Callable[[Any], Any] | None:
    """A converter from JSON data to the annotated type (a pydantic model or a dataclass), or None."""
    try:
        hint = typing.get_type_hints(fn).get(hint_name)
    except NameError:
        return None
    if hint is None or not (hasattr(hint, "model_validate") or hasattr(hint, "__dataclass_fields__")):
        return None
    from .dispatch import data_converter

    return data_converter(owner, hint)


# -- starting and signalling -----------------------------------------------------------------------


def start_workflow(defn: WorkflowDef, input: Any = None, *, id: str | None = None, tenant: str | None = None) -> str:
    """Start an instance of `defn` with `input` (JSON-serialisable: a dict, a pydantic model, a dataclass);
    its id. An `id` already started is not started again (its id is returned): starting is idempotent.
    The instance serves `tenant` (default: the calling function's tenant, if any): its steps' states are that
    tenant's and its events carry it. Inside a function, it must declare `uses=[<the workflow>]`."""
    _check_declared(defn)
    instance_id = id or os.urandom(16).hex()
    if not isinstance(instance_id, str) or not 1 <= len(instance_id) <= 200:
        raise WorkflowError(f"start_workflow({defn.name}): id {instance_id!r} must be a string of 1 to 200 characters.")
    tenant = _tenant(f"start_workflow({defn.name})", tenant)
    now = _clock()
    record = {
        "id": instance_id,
        "workflow": defn.name,
        "status": RUNNING,
        "input": to_jsonable(input),
        "created": now,
        "updated": now,
        "history": [],
        "attempts": {},
    }
    if tenant is not None:
        record["tenant"] = tenant
    size = len(json.dumps(record, default=str).encode())
    if size > MAX_VALUE_BYTES // 2:
        raise WorkflowError(
            f"start_workflow({defn.name}): the input is {size} bytes of JSON; keep it under {MAX_VALUE_BYTES // 2} "
            "(the instance's whole history must fit in one state record on every cloud). Store large data in a "
            "bucket or a state and pass its key."
        )
    try:
        STORE.create(_key(instance_id), record)
    except KeyExistsError:
        pass  # started already (a duplicate delivery, a retried request): the same instance
    _send(defn, {"instance": instance_id, "kind": "start"}, tenant=tenant or "")  # again after a duplicate: harmless
    return instance_id


def send_event(
    type: str | CloudEvent[Any], match: str | None = None, data: Any = None, *, tenant: str | None = None
) -> int:
    """Deliver an event to the workflow instances waiting for it (`wf.wait_for_event(type, match=...)`),
    or keep it for the one that will (for 30 days); the number of instances woken (0 or 1). Give the type,
    match and data, or a CloudEvent (its type, subject and data). The function calling it must declare the
    workflows it signals in `uses=`.

    The event is for the instances serving `tenant` (default: the calling function's tenant, if any): a
    function serving no tenant (a payment provider's webhook) names the tenant whose instance it wakes; a
    function serving one tenant cannot send to another's."""
    if isinstance(type, CloudEvent):
        event = type
        type, match, data = event.type, match if match is not None else event.subject, event.data
    if not isinstance(type, str) or not type or match is None:
        raise WorkflowError("send_event(type, match=..., data=...): give the event type and the value it matches.")
    tenant = _tenant(f"send_event({type!r})", tenant)
    _check_declared(None)
    name = _event_name(type, str(match))
    event_data = {"type": type, "match": str(match), "data": to_jsonable(data)}
    STORE.put(_event_key("ev", name, tenant), event_data, ttl=EVENT_TTL_S)
    waiter = STORE.get(_event_key("wait", name, tenant))
    if waiter is None:
        return 0
    defn = _workflows.get(waiter["workflow"])
    if defn is None:
        raise WorkflowError(f"send_event: workflow {waiter['workflow']!r} waits for {type!r} but is not loaded here.")
    _check_declared(defn)
    _send(defn, {"instance": waiter["instance"], "kind": "event"}, tenant=waiter.get("tenant", ""))
    return 1


def _tenant(said: str, tenant: str | None) -> str | None:
    """The tenant an instance is started or signalled for: `tenant`, else the running call's. A bad id, or
    another tenant than the one the running call serves, is a WorkflowError naming the fix."""
    running = current_tenant()
    if tenant is None:
        return running
    if not valid(tenant):
        raise WorkflowError(f"{said}: tenant {tenant!r} must be 1 to 64 of A-Z a-z 0-9 . _ -.")
    if running is not None and tenant != running:
        raise WorkflowError(
            f"{said}: tenant={tenant!r}, but this call serves tenant {running!r}, and a call serving one tenant "
            f"cannot reach another's workflows. Leave tenant= out (or pass {running!r}), or do this from a function "
            "that serves no tenant (a webhook, a schedule) and names the tenant."
        )
    return tenant


def _check_declared(defn: WorkflowDef | None) -> None:
    """Starting or signalling `defn` (any workflow, for None) from a function that did not declare it names
    the fix."""
    from .pipeline import current_call

    call = current_call()
    if call is None:
        return
    spec = call.invocation.spec
    declared = {(u.resource.kind, u.resource.name) for u in spec.options.uses if u.writes}
    if ("state", STORE.name) in declared and (defn is None or (QUEUE, defn.channel.name) in declared):
        return
    from .resources import UndeclaredResourceError

    which = f"workflow {defn.name!r}" if defn is not None else "a workflow"
    fix = defn.name if defn is not None else "the_workflow"
    raise UndeclaredResourceError(
        f"Function {spec.name!r} starts or signals {which} without declaring it; add uses=[{fix}] (each workflow "
        "it starts or sends events to) to its @function."
    )


# -- the runner ----------------------------------------------------------------------------------


def _starter(defn: WorkflowDef) -> Callable[..., Any]:
    def start(event: CloudEvent[Any]) -> None:
        """Start one instance per event (its id from the event's source and id: a duplicate delivery
        starts nothing new)."""
        digest = hashlib.sha256(f"{event.source}\n{event.id}".encode()).hexdigest()[:32]
        start_workflow(defn, event.data, id=f"{defn.name}-{digest}")

    return start


def _http_starter(defn: WorkflowDef) -> Callable[..., Any]:
    def start(request: Request) -> Response:
        """Start one instance per request (per Idempotency-Key when the request has one); 202 with its id."""
        key = request.headers.get("Idempotency-Key")
        instance_id = None
        if key:
            instance_id = f"{defn.name}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"
        body = request.json() if request.body else None
        if defn._input is not None and body is not None:
            defn._input(body)  # a body the workflow cannot take is a 400 now, not a failed instance later
        started = start_workflow(defn, body, id=instance_id)
        return Response.json({"id": started, "workflow": defn.name, "status": RUNNING}, status=202)

    return start


def _runner(defn: WorkflowDef) -> Callable[..., Any]:
    def run(event: CloudEvent[Any], ctx: Context) -> None:
        """Advance the instance a message on the workflow's queue names."""
        message = event.data if isinstance(event.data, dict) else {}
        instance_id = message.get("instance")
        if event.type != CONTINUE or not isinstance(instance_id, str):
            raise DeadLetter(f"not a workflow message for {defn.name!r} (type {event.type!r}); nothing to do with it")
        due = message.get("due")
        if isinstance(due, (int, float)) and due - _clock() > EARLY_S:  # a long wait goes in hops
            _send(defn, message, delay_s=due - _clock())
            return
        branch = message.get("branch")
        _advance(defn, instance_id, tuple(branch) if isinstance(branch, list) else None, ctx.attempt)

    return run


def _advance(defn: WorkflowDef, instance_id: str, branch: tuple[int, int] | None = None, attempt: int = 1) -> None:
    item = STORE.item(_key(instance_id))
    if item is None:
        _log().warning("workflow %s: instance %r not found; its message is dropped", defn.name, instance_id)
        return
    record = item.value
    if record.get("status") in FINISHED:
        return
    wf = Workflow(defn, record, item.version, branch=branch, attempt=attempt)
    wf._run()


class Workflow:
    """What a workflow function gets first: its steps, sleeps, awaited events, fan-outs and recorded values.

    `id` is the instance's id. Everything else the workflow does between steps must be deterministic."""

    def __init__(
        self,
        defn: WorkflowDef,
        record: dict[str, Any],
        version: str,
        *,
        branch: tuple[int, int] | None = None,
        attempt: int = 1,
    ) -> None:
        self.id: str = record["id"]
        self.name = defn.name
        self._defn = defn
        self._record = record
        self._version = version
        self._history: list[dict[str, Any]] = record["history"]
        self._position = 0
        self._dirty = False  # recorded values not written yet
        self._finished_steps: list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._branch = branch  # (position, index) when this replay runs one branch of a fan-out
        self._attempt = attempt
        self._cancelling = record.get("status") == CANCELLING
        self._was_waiting: dict[str, Any] = {}  # what the instance waited for when this replay began
        self._tenant: str | None = record.get("tenant")  # the tenant it serves: its awaited events are that one's

    # -- the workflow's API ---------------------------------------------------------------------

    def step(
        self,
        fn: Callable[..., T],
        *args: Any,
        compensate: Callable[..., Any] | None = None,
        retry: RetryPolicy | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> T:
        """Run `fn(*args, **kwargs)` once for this instance (at least once: see `step_key`) and return its
        result, recorded. `compensate(*args, **kwargs)` undoes it if the workflow fails later; `retry` says
        how often to try it (the workflow's `step_retry` by default), waiting durably in between."""
        label = name or _label(fn)
        position = self._position
        entry = self._next("step", label)
        if entry is not None:
            if not entry.get("ok"):
                raise StepFailed(label, entry.get("error", ""))
            if compensate is not None:
                self._finished_steps.append((label, compensate, args, kwargs))
            return _rebuild(entry.get("result"), fn)  # type: ignore[no-any-return]
        self._new_operation()
        if self._dirty:
            self._save()  # values recorded since the last checkpoint: a rerun of this step gets the same ones
        attempts = self._record.setdefault("attempts", {})
        attempt = int(attempts.get(str(position), 0)) + 1
        started = _clock()
        try:
            value = _in_step(f"{self.id}#{position}", fn, args, kwargs)
        except Exception as exc:
            policy = retry or self._defn.step_retry
            reason = f"{type(exc).__name__}: {exc}"
            if attempt < policy.attempts and not isinstance(exc, DeadLetter):
                attempts[str(position)] = attempt
                wait = exc.delay_s if isinstance(exc, Retry) and exc.delay_s is not None else policy.delay_s(attempt)
                self._wait({"for": "retry", "step": label, "attempt": attempt, "error": reason}, _clock() + wait)
            attempts.pop(str(position), None)
            self._append({"kind": "step", "name": label, "ok": False, "error": reason, "attempts": attempt})
            self._save()
            raise StepFailed(label, reason) from exc
        result = _jsonable(value, f"step {label!r}")
        attempts.pop(str(position), None)
        entry = {"kind": "step", "name": label, "ok": True, "result": result, "attempts": attempt}
        entry["started"], entry["ended"] = started, _clock()
        self._append(entry)
        self._save()
        if compensate is not None:
            self._finished_steps.append((label, compensate, args, kwargs))
        return _rebuild(result, fn)  # type: ignore[no-any-return]

    def sleep(self, duration: float | timedelta) -> None:
        """Wait `duration` (seconds or a timedelta) without running: the instance is continued by a delayed
        message."""
        seconds = _seconds(duration, "wf.sleep()")
        if seconds is None:
            raise WorkflowError("wf.sleep(None): give seconds or a timedelta.")
        entry = self._next("sleep", "sleep")
        if entry is None:
            self._new_operation()
            until = _clock() + float(seconds)
            self._append({"kind": "sleep", "name": "sleep", "until": until})
            self._wait({"for": "sleep", "until": until}, until)
        if self._cancelling and _clock() < entry["until"] - EARLY_S:
            raise WorkflowCancelled(f"instance {self.id} cancelled while sleeping")
        if _clock() < entry["until"] - EARLY_S:  # woken early: a duplicate message, or a crash before the wake
            self._still_waiting({"for": "sleep", "until": entry["until"]}, entry["until"])

    def wait_for_event(self, type: str, *, match: Any, timeout: float | timedelta | None = None) -> Any:
        """Wait (without running) for the event `send_event(type, match=match, data=...)` delivers and return
        its data; `EventTimeout` after `timeout` (seconds or a timedelta; None waits as long as the
        instance lives). An event sent before the workflow got here is kept for it."""
        name = _event_name(type, str(match))
        entry = self._next("event", name)
        if entry is None:
            self._new_operation()
            seconds = _seconds(timeout, "wf.wait_for_event(timeout=...)")
            until = None if seconds is None else _clock() + float(seconds)
            ttl = None if seconds is None else float(seconds) + 24 * 3600
            waiter = {"instance": self.id, "workflow": self.name, "tenant": self._tenant or ""}
            STORE.put(_event_key("wait", name, self._tenant), waiter, ttl=ttl)  # before looking
            entry = {"kind": "event", "name": name, "type": type, "match": str(match), "until": until}
            self._append(entry)
            if not self._take_event(entry):
                self._wait({"for": "event", "type": type, "match": str(match), "until": until}, until)
        if "data" in entry:
            return entry["data"]
        if entry.get("timed_out"):
            raise EventTimeout(f"no {entry['type']!r} event matching {entry['match']!r} came before the timeout")
        if self._take_event(entry):
            return entry["data"]
        if self._cancelling:
            STORE.delete(_event_key("wait", name, self._tenant))  # an event sent now wakes no one
            raise WorkflowCancelled(f"instance {self.id} cancelled while waiting for {type!r}")
        until = entry.get("until")
        if until is not None and _clock() >= until - EARLY_S:
            entry["timed_out"] = True
            self._save()
            STORE.delete(_event_key("wait", name, self._tenant))
            raise EventTimeout(f"no {type!r} event matching {match!r} came before the timeout")
        self._still_waiting({"for": "event", "type": type, "match": str(match), "until": until}, until)

    def map(self, fn: Callable[..., T], items: Iterable[Any], *, retry: RetryPolicy | None = None) -> list[T]:
        """`[fn(item) for item in items]`, each call a separate invocation running at the same time; the
        results in order once all have finished (`StepFailed` if one failed after its retries)."""
        return self.parallel(*((fn, item) for item in items), retry=retry, name=f"map:{_label(fn)}")

    def parallel(self, *calls: Sequence[Any], retry: RetryPolicy | None = None, name: str | None = None) -> list[Any]:
        """Run each `(fn, *args)` as a separate invocation, at the same time; their results in order."""
        for call in calls:
            if not isinstance(call, (tuple, list)) or not call or not callable(call[0]):
                raise WorkflowError(f"wf.parallel: give (function, *args) tuples, got {call!r}.")
        label = name or "parallel:" + ",".join(_label(c[0]) for c in calls)
        position = self._position
        entry = self._next("parallel", label)
        if entry is None:
            self._new_operation()
            self._append({"kind": "parallel", "name": label, "count": len(calls)})
            self._wait({"for": "branches", "count": len(calls)}, None, _branches(self.id, position, len(calls)))
        if "results" in entry or "error" in entry:
            if "error" in entry:
                raise StepFailed(label, entry["error"])
            return [_rebuild(r, c[0]) for r, c in zip(entry["results"], calls)]
        if self._branch is not None and self._branch[0] == position:
            self._run_branch(calls, position, self._branch[1], retry or self._defn.step_retry)
        done = [STORE.item(_branch_key(self.id, position, i)) for i in range(len(calls))]
        if any(item is None for item in done):
            if self._cancelling:
                raise WorkflowCancelled(f"instance {self.id} cancelled while its branches ran")
            self._still_waiting(
                {"for": "branches", "count": len(calls)}, None, _branches(self.id, position, len(calls))
            )
        values = [item.value for item in done if item is not None]
        failed = [v["error"] for v in values if "error" in v]
        if failed:
            entry["error"] = failed[0]
        else:
            entry["results"] = [v["result"] for v in values]
        self._save()
        for i in range(len(calls)):
            STORE.delete(_branch_key(self.id, position, i))
        if failed:
            raise StepFailed(label, failed[0])
        return [_rebuild(r, c[0]) for r, c in zip(entry["results"], calls)]

    def now(self) -> datetime:
        """The current time (UTC), recorded: a replay gets the same value."""
        from datetime import datetime, timezone

        return datetime.fromtimestamp(self._recorded("now", _clock), timezone.utc)

    def uuid(self) -> str:
        """A random UUID (text), recorded."""
        import uuid

        return str(self._recorded("uuid", lambda: str(uuid.uuid4())))

    def random(self) -> float:
        """A random float in [0, 1), recorded."""
        import random

        return float(self._recorded("random", random.random))

    # -- replay ---------------------------------------------------------------------------------

    def _run(self) -> None:
        """Replay the workflow function; record how it ended."""
        defn = self._defn
        if self._branch is None and self._record.get("status") == WAITING:
            self._record["status"] = RUNNING  # written with the next checkpoint
            self._was_waiting = self._record.pop("waiting", None) or {}
        try:
            try:
                given = () if defn._input is None else (defn._input(self._record.get("input")),)
                result = defn.fn(self, *given)
                if self._position < len(self._history):
                    entry = self._history[self._position]
                    raise _Diverged(
                        f"the code returned at step {self._position} where the history holds "
                        f"{entry['kind']} {entry['name']!r}"
                    )
                if self._branch is not None:
                    return
                self._finish(COMPLETED, result=_jsonable(result, "the workflow's result"))
            except (StateError, PublishError):
                raise  # the store or the queue failed, not the workflow: the message is delivered again
            except (Exception, WorkflowCancelled) as exc:
                if self._branch is not None:
                    raise  # a branch asking to be retried (its queue delivers it again), or failing its replay
                cancelled = isinstance(exc, WorkflowCancelled)
                reason = str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
                self._compensate()
                self._finish(CANCELLED if cancelled else FAILED, error=reason)
        except _Suspend:
            if self._dirty:
                self._save()
        except _Stop:
            pass
        except _Diverged as exc:
            message = (
                f"workflow {defn.name!r} instance {self.id} diverged at step {self._position}: {exc.message}. The code "
                "changed under a running instance: deploy the code that started it, or `portable-fn workflows "
                "retry` it to continue from there with this code (or cancel it)."
            )
            _log().error(message)
            self._record["diverged_at"] = self._position
            self._finish(DIVERGED, error=message)

    def _next(self, kind: str, name: str) -> dict[str, Any] | None:
        """The history's entry for the operation the code asks for now, or None when it is new."""
        if self._position >= len(self._history):
            return None
        entry = self._history[self._position]
        if entry["kind"] != kind or entry["name"] != name:
            raise _Diverged(
                f"the history holds {entry['kind']} {entry['name']!r}, the code now asks for {kind} {name!r}"
            )
        self._position += 1
        return entry

    def _new_operation(self) -> None:
        """Something not in the history is about to happen: not in a branch's replay, not when cancelling."""
        if self._branch is not None:
            raise _Stop()
        if self._cancelling:
            raise WorkflowCancelled(f"instance {self.id} cancelled")

    def _append(self, entry: dict[str, Any]) -> None:
        self._history.append(entry)
        self._position += 1

    def _recorded(self, name: str, make: Callable[[], Any]) -> Any:
        entry = self._next("value", name)
        if entry is not None:
            return entry["value"]
        if self._branch is not None:
            raise _Stop()
        value = make()
        self._append({"kind": "value", "name": name, "value": value})
        self._dirty = True
        return value

    def _wait(
        self, waiting: dict[str, Any], until: float | None, messages: Sequence[dict[str, Any]] = ()
    ) -> typing.NoReturn:
        """Record what the instance waits for, send what continues it (a wake at `until`, or `messages`),
        record that they were sent, unwind. A replay that finds the wait recorded but not its sending (the
        runner died in between) sends them again (`_still_waiting`): a duplicate message is harmless, a
        missing one would leave the instance waiting for ever."""
        if until is not None:
            messages = [*messages, {"instance": self.id, "kind": "wake", "due": until}]
        waiting = {**waiting, "sent": not messages}
        self._record["status"], self._record["waiting"] = WAITING, waiting
        self._save()
        if messages:
            for message in messages:
                due = message.get("due")
                _send(self._defn, message, delay_s=due - _clock() if due is not None else 0.0)
            waiting["sent"] = True
            self._save()
        raise _Suspend()

    def _still_waiting(
        self, waiting: dict[str, Any], until: float | None, messages: Sequence[dict[str, Any]] = ()
    ) -> typing.NoReturn:
        """A replay got to the wait the instance is in: sent again only if the previous runner died before
        recording it had sent what continues it."""
        if self._was_waiting.get("sent", True):
            self._record["status"], self._record["waiting"] = WAITING, self._was_waiting  # as stored
            raise _Suspend()
        self._wait(waiting, until, messages)

    def _take_event(self, entry: dict[str, Any]) -> bool:
        """Take the event the entry waits for if it has come: recorded first, then removed."""
        name = entry["name"]
        item = STORE.item(_event_key("ev", name, self._tenant))
        if item is None:
            return False
        entry["data"] = item.value.get("data")
        self._save()
        STORE.delete(_event_key("ev", name, self._tenant), item.version)
        STORE.delete(_event_key("wait", name, self._tenant))
        return True

    def _run_branch(self, calls: Sequence[Sequence[Any]], position: int, index: int, policy: RetryPolicy) -> None:
        """Run branch `index` of the fan-out at `position`, record its result, wake the instance when it is
        the last to finish; then this replay ends."""
        fn, *args = calls[index]
        key = _branch_key(self.id, position, index)
        if STORE.item(key) is None:
            try:
                value = {"result": _jsonable(_in_step(f"{self.id}#{position}.{index}", fn, args, {}), _label(fn))}
            except Exception as exc:
                if self._attempt < policy.attempts and not isinstance(exc, DeadLetter):
                    reason = f"branch {index} of {_label(fn)} failed: {exc}"
                    raise Retry(reason, after=policy.delay_s(self._attempt)) from exc
                value = {"error": f"{type(exc).__name__}: {exc}"}
            try:
                STORE.create(key, value)
            except PortableFnError:
                pass  # a duplicate run of this branch recorded it first: its result stands
        if all(STORE.item(_branch_key(self.id, position, i)) is not None for i in range(len(calls))):
            _send(self._defn, {"instance": self.id, "kind": "joined"})
        raise _Stop()

    def _compensate(self) -> None:
        """Undo the finished steps in reverse, each undo recorded (a replay after a crash skips those done)."""
        if self._finished_steps:
            self._record["status"] = CANCELLING if self._cancelling else "compensating"
        for label, compensate, args, kwargs in reversed(self._finished_steps):
            name = f"{_label(compensate)} (undoing {label})"
            if self._next("compensation", name) is not None:
                continue
            _in_step(f"{self.id}#undo-{self._position}", compensate, args, kwargs)
            self._append({"kind": "compensation", "name": name})
            self._save()

    def _finish(self, status: str, **fields: Any) -> None:
        self._record["status"] = status
        self._record.pop("waiting", None)
        self._record.update(fields)
        self._save()

    def _save(self) -> None:
        """Checkpoint the instance (compare-and-set): a runner that lost the race to another stops here."""
        record = self._record
        record["updated"] = _clock()
        if record.get("status") == WAITING and not record.get("waiting"):
            record["status"] = RUNNING
        try:
            self._write(record)  # the store's encoding checks the size: the record is encoded once
        except ValueTooLargeError as exc:
            last = self._history.pop() if self._history else {"name": "?"}
            record["status"] = FAILED
            record["error"] = (
                f"workflow {self.name!r} instance {self.id}: its history would be {exc.size} bytes after "
                f"{last.get('kind', 'step')} {last.get('name')!r}, over the {MAX_VALUE_BYTES} bytes one state record "
                "holds on every cloud. Return smaller step results (keep large data in a bucket or a state and "
                "return its key)."
            )
            _log().error(record["error"])
            self._write(record)
            raise _Stop() from None
        self._dirty = False

    def _write(self, record: dict[str, Any]) -> None:
        try:
            self._version = STORE.update(_key(self.id), record, self._version)
        except VersionConflictError:
            raise _Stop() from None  # another runner advanced the instance: it carries on

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, id={self.id!r})"


# -- steps ----------------------------------------------------------------------------------------

_step_key: ContextVar[str | None] | None = None  # made on first use


def step_key() -> str:
    """Inside a workflow step: the same key on every run of this step of this instance (workflow id and
    step), to pass as the idempotency key of the services the step calls. WorkflowError outside a step."""
    key = _step_key.get() if _step_key is not None else None
    if key is None:
        raise WorkflowError("step_key() is only known inside a workflow step (a function run by wf.step).")
    return str(key)


def current_step_key() -> str | None:
    """`step_key()` inside a step, else None."""
    return _step_key.get() if _step_key is not None else None


def _in_step(key: str, fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    global _step_key
    if _step_key is None:
        import contextvars

        _step_key = contextvars.ContextVar("portable_fn_step_key", default=None)
    token = _step_key.set(key)
    try:
        return fn(*args, **kwargs)
    finally:
        _step_key.reset(token)


def _seconds(value: float | timedelta | None, what: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if not isinstance(value, (int, float)) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise WorkflowError(f"{what}: {value!r} is not a duration; give seconds or a timedelta, not negative.")
    return float(seconds)


def _label(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))


def _jsonable(value: Any, what: str) -> Any:
    plain = to_jsonable(value)
    try:
        json.dumps(plain)
    except (TypeError, ValueError) as exc:
        raise WorkflowError(
            f"{what} is not JSON-serialisable ({exc}); return dicts, lists, strings, numbers, pydantic models or "
            "dataclasses, so it can be recorded."
        ) from None
    return plain


_rebuilders: dict[Any, Callable[[Any], Any] | None] = {}


def _rebuild(value: Any, fn: Callable[..., Any]) -> Any:
    """A recorded result as the step's annotated return type (a model or dataclass), so the first run and
    every replay see the same type."""
    if fn not in _rebuilders:
        _rebuilders[fn] = _converter_for(fn, "return", f"step {_label(fn)!r}")
    convert = _rebuilders[fn]
    return value if convert is None or value is None else convert(value)


# -- messages and plumbing ------------------------------------------------------------------------

Clock = Callable[[], float]
_clock_fn: Clock = time.time


def use_clock(clock: Clock | None) -> Clock:
    """Read the time from `clock` from now on (tests driving sleeps; None restores `time.time`); the
    clock used until now."""
    global _clock_fn
    previous, _clock_fn = _clock_fn, clock or time.time
    return previous


def _clock() -> float:
    return _clock_fn()


def _send(defn: WorkflowDef, message: dict[str, Any], delay_s: float = 0.0, tenant: str | None = None) -> None:
    """Put a message for the runner on the workflow's queue (after `delay_s`, in hops of at most what the
    cloud's queue allows: the runner sends the rest again), carrying the instance's `tenant` ("" for none;
    None: the running call's, which is the instance's in its runner) so the runner serves that tenant."""
    sender = publisher()
    tenant = current_tenant() if tenant is None else tenant
    event: CloudEvent[Any] = CloudEvent(
        id=os.urandom(16).hex(),
        source=f"/workflows/{defn.name}",
        type=CONTINUE,
        subject=message["instance"],
        datacontenttype="application/json",
        data=message,
        extensions={TENANT_EXTENSION: tenant} if tenant else None,
    )
    sender.publish(defn.channel, [event], delay_s=max(0.0, min(delay_s, sender.max_delay_s)))


def _branches(instance_id: str, position: int, count: int) -> list[dict[str, Any]]:
    """The messages that run each branch of the fan-out at `position`."""
    return [{"instance": instance_id, "kind": "branch", "branch": [position, i]} for i in range(count)]


def _key(instance_id: str) -> str:
    return "wf#" + instance_id


def _branch_key(instance_id: str, position: int, index: int) -> str:
    return f"br#{instance_id}#{position}#{index}"


def _event_name(type: str, match: str) -> str:
    return f"{type}#{match}"


def _event_key(kind: str, name: str, tenant: str | None) -> str:
    """Where an awaited event (`ev`) or its waiter (`wait`) is kept: under the tenant's keys for an instance
    serving one (`pfn-` states are not scoped by the state layer), so one tenant's event never wakes
    another's instance."""
    key = f"{kind}#{name}"
    return stored_key(tenant, key) if tenant else key


def _log() -> Logger:
    import logging

    return logging.getLogger("portable_fn.workflow")


# -- operating instances (the CLI, the dev host) ----------------------------------------------------


def get_instance(instance_id: str) -> dict[str, Any] | None:
    """An instance's record (status, input, result or error, history), or None."""
    item = STORE.item(_key(instance_id))
    return None if item is None else dict(item.value)


def list_instances(workflow: str | None = None, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Instances (without their history), newest first, filtered by workflow name and status."""
    backend = STORE.backend
    scan = getattr(backend, "scan", None)
    if scan is None:
        raise WorkflowError("this store cannot list instances; show one by its id instead.")
    found = []
    for record in scan("wf#", 10_000):
        value = json.loads(record.value)
        if (workflow is None or value.get("workflow") == workflow) and (
            status is None or value.get("status") == status
        ):
            summary = {k: v for k, v in value.items() if k not in ("history", "attempts")}
            summary["steps"] = sum(1 for e in value.get("history", ()) if e.get("kind") == "step")
            found.append(summary)
    found.sort(key=lambda v: v.get("created", 0), reverse=True)
    return found[:limit]


def cancel(instance_id: str, reason: str = "cancelled") -> dict[str, Any]:
    """Cancel a running or waiting instance: its finished steps are compensated, then it ends `cancelled`."""
    item = STORE.item(_key(instance_id))
    if item is None:
        raise WorkflowError(f"no workflow instance {instance_id!r}")
    record = item.value
    if record.get("status") in FINISHED:
        raise WorkflowError(f"instance {instance_id!r} is {record['status']} already; nothing to cancel.")
    if record.get("status") == CANCELLING:  # a second cancel: under way already, for the reason first given
        return dict(record)
    record["status"], record["cancel_reason"] = CANCELLING, reason
    STORE.update(_key(instance_id), record, item.version)
    _send(_definition(record), {"instance": instance_id, "kind": "cancel"}, tenant=record.get("tenant", ""))
    return dict(record)


def retry(instance_id: str) -> dict[str, Any]:
    """Run a failed or diverged instance again from where it failed (a failed step or fan-out, an awaited
    event that timed out) or diverged, with the code deployed now: the history before it is kept, that
    entry and what followed are dropped. One whose finished steps were compensated is refused (start a new
    instance: what it would build on was undone). An instance not finished
    yet is sent a message to continue it: what a runner whose own message was dead-lettered needs (a
    duplicate message is harmless)."""
    item = STORE.item(_key(instance_id))
    if item is None:
        raise WorkflowError(f"no workflow instance {instance_id!r}")
    record = item.value
    status = record.get("status")
    if status in (COMPLETED, CANCELLED):
        raise WorkflowError(f"instance {instance_id!r} is {status}; only failed, diverged or unfinished ones retry.")
    if status in (FAILED, DIVERGED):
        history = record["history"]
        if any(e["kind"] == "compensation" for e in history):
            raise WorkflowError(
                f"instance {instance_id!r} failed and its finished steps were undone (compensated); running it on "
                "would build on what was undone. Start a new instance instead."
            )
        cut = record.get("diverged_at")
        if cut is None:
            cut = next((i for i, e in enumerate(history) if _failed_entry(e)), len(history))
        record["history"] = history[:cut]
        record["attempts"] = {}
        record["status"] = RUNNING
        for field in ("error", "diverged_at", "waiting"):
            record.pop(field, None)
        STORE.update(_key(instance_id), record, item.version)
    _send(_definition(record), {"instance": instance_id, "kind": "retry"}, tenant=record.get("tenant", ""))
    return dict(record)


def _failed_entry(entry: dict[str, Any]) -> bool:
    return (entry["kind"] in ("step", "parallel") and "error" in entry) or bool(entry.get("timed_out"))


def _definition(record: dict[str, Any]) -> WorkflowDef:
    defn = _workflows.get(record.get("workflow", ""))
    if defn is None:
        raise WorkflowError(f"workflow {record.get('workflow')!r} is not declared in the loaded app.")
    return defn


def definitions() -> dict[str, WorkflowDef]:
    """The workflows declared in this process, by name."""
    return dict(_workflows)

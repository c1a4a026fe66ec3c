"""Idempotency: a duplicate delivery of an invocation that completed gets its stored result without
running the handler again.

    @function(trigger=queue("payments"), idempotent=True)                      # key: source + id
    @function(trigger=http("POST", "/pay"), idempotent=idempotent(required=True))   # Idempotency-Key

A small state machine over the `pfn-idempotency` state, through the five `Backend` primitives only, so
every store serves it. Per key (scoped by function name, and by tenant when the call serves one: two
tenants sending the same Idempotency-Key are two requests) the record is either

    in_progress   a lease that ends at the invocation's deadline: duplicates are retried until then,
                  and after it exactly one retry takes the key over (compare-and-set on the version read);
    completed     the handler's return value (events) or its Response (HTTP), replayed to duplicates.

Both carry a hash of the payload: the same key with a different payload is refused. A failure deletes our
in-progress record (errors are never stored), so the retry runs again; a completion whose lease was taken
over is not written (the taker's result stands). An unreachable store fails the call as retryable: the
handler is never run unguarded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .cloudevent import CloudEvent
from .dispatch import retry_after
from .errors import DeclarationError
from .http import Request, Response
from .outcomes import ACK, DEAD_LETTER, RETRY, DeadLetter, Result, Retry
from .pipeline import Call, Middleware
from .state import MAX_KEY_CHARS, Record, State, create_or_read, new_version, to_jsonable
from .tenants import tenant_of

if TYPE_CHECKING:
    from datetime import timedelta  # annotations only: datetime costs a cold start ~1.5 ms
    from logging import Logger

    from .function import FunctionSpec

STORE = State("pfn-idempotency", internal=True)  # every idempotent function's records, keyed per function
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_TTL_S = 3600.0
DEFAULT_LEASE_S = 15 * 60  # when neither the platform's deadline nor the function's timeout_s says
IN_PROGRESS = "in_progress"
COMPLETED = "completed"


class Idempotency:
    """How a function is idempotent: where its key comes from, how long a completed result is kept
    (`ttl`), and whether an HTTP request must carry the key (`required`)."""

    def __init__(
        self,
        key: str | Callable[[Any], str] | None = None,
        ttl: float | timedelta = DEFAULT_TTL_S,
        required: bool = False,
    ) -> None:
        if key is not None and not callable(key) and not (isinstance(key, str) and key.strip(".")):
            raise DeclarationError(
                f"idempotent(key={key!r}): use a dotted path into the event data ('order.id') or a function "
                "taking the CloudEvent (or Request) and returning a string."
            )
        seconds = ttl.total_seconds() if hasattr(ttl, "total_seconds") else ttl
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise DeclarationError(f"idempotent(ttl={ttl!r}): use a positive number of seconds or a timedelta.")
        self.key = key
        self.ttl = float(seconds)
        self.required = bool(required)

    def key_of(self, call: Call) -> str | None:
        """The call's idempotency key (not yet scoped by function), or None for a request without the
        header. Raises ValueError naming what is missing when a declared key path is not in the data."""
        subject: Any = call.request if call.request is not None else call.event
        if callable(self.key):
            value = self.key(subject)
        elif isinstance(self.key, str):
            value = _at_path(_data_of(subject), self.key)
        elif isinstance(subject, Request):
            value = subject.headers.get(HEADER)
            if not value:
                return None
        else:
            value = f"{subject.source}#{subject.id}"
        if value is None or value == "":
            raise ValueError(f"the idempotency key {self.key!r} gave no value")
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Idempotency) and vars(self) == vars(other)

    def __repr__(self) -> str:
        key = getattr(self.key, "__name__", self.key)
        return f"idempotent(key={key!r}, ttl={self.ttl:g}, required={self.required})"


DEFAULT = Idempotency()


def idempotent(
    key: str | Callable[[Any], str] | None = None, ttl: float | timedelta = DEFAULT_TTL_S, required: bool = False
) -> Idempotency:
    """Declare how a function is idempotent (`@function(..., idempotent=idempotent(key="order.id"))`):
    `key` is a dotted path into the event data or a function of the CloudEvent / Request (default: the
    event's source and id, or a request's Idempotency-Key header); `ttl` how long a result is replayed;
    `required` makes a request without the header a 400."""
    return Idempotency(key, ttl, required)


class _Claim:
    """What `before` took for a call: the scoped key, the version of our in-progress record, its hash."""

    __slots__ = ("key", "version", "digest", "ttl")

    def __init__(self, key: str, version: str, digest: str, ttl: float) -> None:
        self.key = key
        self.version = version
        self.digest = digest
        self.ttl = ttl


class IdempotencyMiddleware(Middleware):
    """Guards the calls of functions declared `idempotent`; every other call passes untouched."""

    def wanted(self, spec: FunctionSpec) -> bool:
        return spec.options.idempotent is not False

    def __init__(self, store: State = STORE) -> None:
        self.store = store
        self._key = f"{__name__}.{id(self)}"  # this instance's claims in `Invocation.state`

    def before(self, call: Call) -> None:
        declared = call.invocation.spec.options.idempotent
        if declared is False or (call.request is None and not isinstance(call.event, CloudEvent)):
            return  # not idempotent, or a record that could not be read (dead-lettered saying why)
        how: Idempotency = DEFAULT if declared is True else declared
        try:
            key = how.key_of(call)
        except Exception as exc:
            return _answer(call, DEAD_LETTER, f"{_name(call)}: cannot read the idempotency key: {exc}", 400)
        if key is None:
            if how.required:
                return _answer(call, DEAD_LETTER, f"{_name(call)}: this request needs an {HEADER} header.", 400)
            return
        try:
            self._claim(call, how, _scoped(call, key), _digest(call))
        except Exception as exc:  # the store failed: never run the handler unguarded
            reason = (
                f"{_name(call)}: the idempotency store {self.store.name!r} cannot be reached "
                f"({type(exc).__name__}: {exc}); the call was not run and is to be retried."
            )
            _answer(call, RETRY, reason, 503)

    def after(self, call: Call) -> None:
        claims = call.invocation.state.get(self._key)
        claim = claims.pop(call.index, None) if claims else None
        if claim is None:
            return
        try:
            self._settle(call, claim)
        except Exception as exc:  # the handler ran: its answer stands; the key frees when its lease ends
            _log().error(
                "function %s: idempotency record %r not settled (%s: %s)",
                _name(call),
                claim.key,
                type(exc).__name__,
                exc,
            )

    # -- the state machine -------------------------------------------------------------------------

    def _claim(self, call: Call, how: Idempotency, key: str, digest: str) -> None:
        backend = self.store.backend
        for _ in range(3):  # a record may expire or be deleted between our create and our read
            now = time.time()
            lease = _lease_end(call, now)
            mine = Record(key, _encode(IN_PROGRESS, digest, lease=lease), new_version(), now + how.ttl)
            created, found = create_or_read(backend, mine, now)
            if created:
                return self._hold(call, _Claim(key, mine.version, digest, how.ttl))
            if found is None or found.expired(now):
                continue
            stored = json.loads(found.value)
            if stored.get("hash") != digest:
                reason = f"idempotency key {key!r}: same key, different payload; use a new key for a new request."
                return _answer(call, DEAD_LETTER, reason, 422)
            if stored["status"] == COMPLETED:
                return _replay(call, stored)
            left = float(stored["lease"]) - now
            if left > 0:
                return _answer(call, RETRY, f"in progress elsewhere (idempotency key {key!r})", 409, left)
            if backend.replace(mine, found.version):  # the lease ended: exactly one retry takes it over
                return self._hold(call, _Claim(key, mine.version, digest, how.ttl))
            return _answer(call, RETRY, f"in progress elsewhere (idempotency key {key!r} just taken over)", 409, 1)
        _answer(call, RETRY, f"idempotency key {key!r} kept changing; retry", 409, 1)

    def _hold(self, call: Call, claim: _Claim) -> None:
        call.invocation.state.setdefault(self._key, {})[call.index] = claim

    def _settle(self, call: Call, claim: _Claim) -> None:
        backend = self.store.backend
        if _succeeded(call):
            done = Record(claim.key, _completed(call, claim.digest), new_version(), time.time() + claim.ttl)
            if not backend.replace(done, claim.version):
                _log().warning(
                    "function %s: idempotency key %r was taken over by a retry after this call's lease ended; "
                    "the retry's result stands (raise timeout_s if calls run this long)",
                    _name(call),
                    claim.key,
                )
        else:
            backend.delete(claim.key, claim.version)


def _succeeded(call: Call) -> bool:
    """ACK for an event, a status below 500 for a request: what is stored (anything else is retried)."""
    if call.request is not None:
        return call.response is not None and call.response.status < 500
    return call.result is not None and call.result.ok


# -- records ---------------------------------------------------------------------------------------


def _encode(status: str, digest: str, **fields: Any) -> str:
    return json.dumps({"status": status, "hash": digest, **fields}, separators=(",", ":"), ensure_ascii=False)


def _completed(call: Call, digest: str) -> str:
    import base64

    response = call.response
    if response is not None:
        stored = {
            "status": response.status,
            "headers": response.headers.multi_items(),
            "body": base64.b64encode(response.body).decode("ascii"),
        }
        return _encode(COMPLETED, digest, response=stored)
    value = call.result.value if call.result is not None else None
    try:
        return _encode(COMPLETED, digest, value=to_jsonable(value))
    except (TypeError, ValueError):
        _log().warning("function %s: its return value is not JSON; duplicates get None", _name(call))
        return _encode(COMPLETED, digest, value=None)


def _replay(call: Call, stored: dict[str, Any]) -> None:
    import base64

    if call.request is None:
        call.result = Result(ACK, stored.get("value"), None, None, call.event_id)
        return
    response = stored.get("response") or {}
    headers = [(str(k), str(v)) for k, v in response.get("headers", ())] + [(REPLAYED_HEADER, "true")]
    call.response = Response(base64.b64decode(response.get("body", "")), int(response.get("status", 200)), headers)


def _answer(call: Call, outcome: str, reason: str, status: int, wait_s: float | None = None) -> None:
    """Answer the call without running the handler: a Result for an event, a Response for a request."""
    if call.request is not None:
        call.response = Response.json({"error": reason}, status=status, headers=retry_after(wait_s))
        return
    error = Retry(reason, after=wait_s) if outcome == RETRY else DeadLetter(reason)
    call.result = Result(outcome, None, reason, error, call.event_id)


# -- keys and payloads ---------------------------------------------------------------------------


def _log() -> Logger:
    import logging  # only when something is logged (about 6 ms cold)

    return logging.getLogger("portable_fn")


def _name(call: Call) -> str:
    return call.invocation.spec.name


def _scoped(call: Call, key: str) -> str:
    """`<function>#<key>`, or `<function>#t/<tenant>#<key>` for a call serving a tenant."""
    import hashlib

    tenant = tenant_of(call)
    scope = f"{_name(call)}#" if tenant is None else f"{_name(call)}#t/{tenant}#"
    scoped = scope + key
    if len(scoped) > MAX_KEY_CHARS:
        scoped = f"{scope}sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return scoped


def _lease_end(call: Call, now: float) -> float:
    """The invocation's deadline (every shim sets it), else now + the function's timeout (or 15 min)."""
    deadline = call.invocation.deadline
    if deadline is not None:
        return float(deadline)
    return now + (call.invocation.spec.options.timeout_s or DEFAULT_LEASE_S)


def _digest(call: Call) -> str:
    import hashlib

    request = call.request
    if request is not None:
        parts = [request.method.encode(), request.path.encode(), request.body]
    else:
        data = call.event.data if isinstance(call.event, CloudEvent) else None
        parts = [_canonical(data)]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _canonical(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    return json.dumps(to_jsonable(data), sort_keys=True, separators=(",", ":"), default=str).encode()


def _data_of(subject: Any) -> Any:
    data = subject.json() if isinstance(subject, Request) else getattr(subject, "data", None)
    if isinstance(data, (bytes, str)):
        data = json.loads(data)
    return data


def _at_path(data: Any, path: str) -> Any:
    """`data["order"]["id"]` for "order.id" (a number indexes a list); ValueError naming the path."""
    for part in path.strip(".").split("."):
        try:
            data = data[int(part)] if isinstance(data, list) else data[part]
        except (KeyError, IndexError, TypeError, ValueError):
            raise ValueError(f"the data has no {path!r} (idempotent(key={path!r}))") from None
    return data

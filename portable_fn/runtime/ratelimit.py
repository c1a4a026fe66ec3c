"""Rate limits per caller: `http("GET", "/orders", rate_limit="100/minute")`.

A token bucket per function and caller, kept in the internal state `pfn-rate-limits` (declared for the
function as a write use, so deploy provisions and grants it) through the state primitives only, so every
cloud's store serves it: capacity N, refilled at N per period, one token per request. The caller is the
tenant (`ctx.tenant`, when a tenant is declared), else the API key's name, else the JWT's subject, else the
client's address. Concurrent requests update a bucket by compare-and-set, retried a few times. A caller
out of tokens gets 429 with `Retry-After` (whole seconds until a token is back, at least 1). A store that
cannot be reached lets the request through (logged): a limit is no reason to be down.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import DeclarationError
from .http import Request, Response
from .pipeline import Call, Middleware
from .state import MAX_KEY_CHARS, Record, State, new_version

if TYPE_CHECKING:
    from .function import FunctionSpec

STORE = State("pfn-rate-limits", internal=True)  # every rate-limited function's buckets, keyed per function
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
ATTEMPTS = 5  # compare-and-set tries before a contended bucket refuses the request


class Rate:
    """`count` requests per `period_s` seconds, parsed from "100/minute"."""

    __slots__ = ("count", "period_s")

    def __init__(self, count: int, period_s: int) -> None:
        self.count = count
        self.period_s = period_s

    @classmethod
    def parse(cls, text: Any) -> Rate:
        count, _, period = text.partition("/") if isinstance(text, str) else ("", "", "")
        if not count.strip().isdigit() or int(count) < 1 or period.strip() not in PERIODS:
            raise DeclarationError(
                f"rate_limit={text!r}: write requests per period, like '100/minute' (periods: {', '.join(PERIODS)})."
            )
        return cls(int(count), PERIODS[period.strip()])


def caller_of(call: Call) -> str:
    """Whom a request's bucket belongs to: "tenant:...", "key:...", "sub:..." or "addr:..."."""
    tenant = getattr(call.ctx, "tenant", None)  # set by the tenant middleware when the function declares one
    if tenant:
        return f"tenant:{tenant}"
    request = call.request
    auth = getattr(request, "auth", None)
    if auth is not None and auth.key:
        return f"key:{auth.key}"
    if auth is not None and auth.subject:
        return f"sub:{auth.subject}"
    return f"addr:{client_address(request)}" if request is not None else "addr:unknown"


def client_address(request: Request) -> str:
    """The address the platform saw the request come from: AWS's `sourceIp`, the dev server's peer, else
    the last `X-Forwarded-For` entry (the one the cloud's front end appended; earlier ones a client may
    have made up)."""
    raw = request.raw
    if isinstance(raw, dict):
        source = (raw.get("requestContext") or {}).get("http", {}).get("sourceIp")
        if isinstance(source, str) and source:
            return source
    peer = getattr(raw, "client_address", None)
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    forwarded = ",".join(request.headers.getall("x-forwarded-for")).split(",")
    return forwarded[-1].strip() or "unknown"


class RateLimitMiddleware(Middleware):
    """Refuses requests beyond their function's `rate_limit`; `clock` gives epoch seconds."""

    def wanted(self, spec: FunctionSpec) -> bool:
        return getattr(spec.trigger, "rate_limit", None) is not None

    def __init__(self, store: State = STORE, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def before(self, call: Call) -> None:
        limit = getattr(call.invocation.spec.trigger, "rate_limit", None)
        if call.request is None or limit is None:
            return
        rate = Rate.parse(limit)
        key = _scoped(call.invocation.spec.name, caller_of(call))
        try:
            wait_s = self.take(key, rate)
        except Exception as exc:  # the store failed: let the request through, say so
            import logging

            logging.getLogger("portable_fn").error(
                "function %s: rate limit not applied, the store %r failed (%s: %s)",
                call.invocation.spec.name,
                self.store.name,
                type(exc).__name__,
                exc,
            )
            return
        if wait_s is not None:
            call.response = too_many(call.invocation.spec.name, limit, wait_s)

    def take(self, key: str, rate: Rate) -> float | None:
        """Take one token from the bucket `key`: None when there was one, else the seconds until there is."""
        backend = self.store.backend
        refill = rate.count / rate.period_s  # tokens per second
        for _ in range(ATTEMPTS):
            now = self.clock()
            found = backend.read(key)
            fresh = found is None or found.expired(now)
            tokens = float(rate.count)
            if not fresh:
                assert found is not None
                stored = json.loads(found.value)
                tokens = min(rate.count, stored["tokens"] + max(0.0, now - stored["at"]) * refill)
            if tokens < 1:
                return (1 - tokens) / refill
            record = Record(key, json.dumps({"tokens": tokens - 1, "at": now}), new_version(), now + rate.period_s)
            if backend.create(record, now) if fresh else backend.replace(record, found.version):  # type: ignore[union-attr]
                return None
        return 1.0  # the bucket kept changing under us: this caller is busy enough to wait a second


def too_many(function: str, limit: str, wait_s: float) -> Response:
    import math

    seconds = max(1, math.ceil(wait_s))
    return Response.json(
        {"error": "too many requests", "reason": f"{function} allows {limit} per caller; retry in {seconds} s"},
        status=429,
        headers={"Retry-After": str(seconds)},
    )


def _scoped(function: str, caller: str) -> str:
    key = f"{function}#{caller}"
    if len(key) > MAX_KEY_CHARS:
        import hashlib

        key = f"{function}#sha256:{hashlib.sha256(caller.encode()).hexdigest()}"
    return key

"""Tenants: which customer a call serves, read once by the pipeline, then scoping what the handler touches.

    @function(trigger=http("GET", "/orders", auth=jwt(...)), tenant=tenant_from(claim="org_id"), uses=[orders.read()])
    def list_orders(request: Request, ctx: Context) -> Response:
        ctx.tenant                                  # "acme" (current_tenant() anywhere in the call)
        return Response.json(orders.get("open"))    # acme's "open", stored under t/acme/open

Where `TenantMiddleware` reads the tenant from (after Auth, so a claim is a verified one):

| function                        | read from                                       | when it is missing or bad        |
|---------------------------------|-------------------------------------------------|----------------------------------|
| http, `tenant_from(header=H)`   | the request header H                            | 400, saying which header         |
| http, `tenant_from(claim=C)`    | claim C of `request.auth.claims` (auth=)        | 403 (401 with no verified auth)  |
| http, no `tenant=`              | nothing: None                                   |                                  |
| event (any trigger but http)    | the CloudEvent extension `tenantid` (or the     | missing: None; bad: dead-        |
|                                 | `extension=` a declared `tenant_from` names)    | lettered, saying why             |

A tenant id is 1 to 64 of `A-Z a-z 0-9 . _ -`. A shim that knows the tenant itself (AWS Lambda's tenant
isolation mode gives the context a `tenant_id`) passes a Context whose `tenant` is set: that one is kept.

What follows, with nothing for the handler to do: a user state's keys are stored under `t/<tenant>/`
(`state`), idempotency keys and the outbox ledger include the tenant, emitted events carry `tenantid`
(`emit`), rate-limit buckets are per tenant, and every call that serves a tenant, however it ends, writes
one usage line:

    {"message": {"usage": {"tenant": "acme", "function": "list_orders", "invocations": 1,
                           "duration_ms": 12.3, "outcome": "ack", "status": 200}}, ...the JSON logger's keys}

through the logger `portable_fn.usage` (at INFO, written whatever LOG_LEVEL says); the usage is the
message itself, so every cloud's log reader gives it back whole (`portable_fn.logread.usage_of`). A call
counts as one invocation whatever became of it; `outcome` says what:

| call                 | outcome                                   | examples                                    |
|----------------------|-------------------------------------------|---------------------------------------------|
| a request            | "ack" (status < 400), "refused" (4xx),    | 403 missing scope, 429 rate limited, 400 a  |
|                      | "error" (5xx), with its `status`          | body the handler cannot take, 500 a crash;  |
|                      |                                           | an idempotent replay: the stored status     |
| an event             | "ack", "retry" or "dead_letter"           | a handler's DeadLetter, an unsendable emit  |

A request refused before the tenant can be known writes no line: no tenant names it (401: no or bad
credential, so a claim or a header of an unverified caller is not believed; 400/403: the header or claim
naming the tenant is missing or bad), nor does an event whose `tenantid` is not a tenant id. A request
refused by `auth=` after verifying its caller (403: a scope is missing) counts for the caller's tenant, and
one a shim was given the tenant of (Lambda's tenant isolation) counts for that tenant whatever the answer.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from .cloudevent import CloudEvent
from .errors import DeclarationError
from .http import Request, Response
from .outcomes import ACK, DEAD_LETTER, DeadLetter, Result
from .pipeline import Call, Invocation, Middleware, current_call
from .triggers import Http, Trigger

if TYPE_CHECKING:  # logging loads on first usage line (`usage_log`)
    from logging import Logger

__all__ = ["EXTENSION", "TenantMiddleware", "TenantSource", "current_tenant", "tenant_from", "tenant_of", "valid"]

EXTENSION = "tenantid"  # the CloudEvent extension a tenant travels in
USAGE_LOGGER = "portable_fn.usage"
ERROR = "error"  # a usage line's outcome for a request answered 5xx, or an event with no Result
_TENANT = r"[A-Za-z0-9._-]{1,64}\Z"  # compiled (and cached by re) on first use
_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+\Z"  # an HTTP header name (RFC 9110 token)
_EXTENSION_NAME = r"[a-z0-9]{1,20}\Z"  # CloudEvents: lower-case letters and digits, 20 at most


class TenantSource:
    """Where a function's tenant comes from: a verified `claim` or a `header` of its requests, and the
    CloudEvent `extension` of its events. Immutable; made by `tenant_from`."""

    __slots__ = ("claim", "header", "extension")
    claim: str | None
    header: str | None
    extension: str

    def __init__(self, claim: str | None = None, header: str | None = None, extension: str = EXTENSION) -> None:
        said = _call_text(claim, header, extension)
        if claim is not None and header is not None:
            raise DeclarationError(f"{said}: give claim= or header=, not both (one place says who the tenant is).")
        if claim is not None and (not isinstance(claim, str) or not claim):
            raise DeclarationError(f"{said}: claim= is the name of a token claim, like 'org_id'.")
        if header is not None and (not isinstance(header, str) or not re.match(_TOKEN, header)):
            raise DeclarationError(f"{said}: header= is an HTTP header name, like 'X-Tenant-Id'.")
        if not isinstance(extension, str) or not re.match(_EXTENSION_NAME, extension):
            raise DeclarationError(
                f"{said}: extension= is a CloudEvent extension name: 1 to 20 lower-case letters and digits, "
                f"like {EXTENSION!r}."
            )
        object.__setattr__(self, "claim", claim)
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "extension", extension)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TenantSource is immutable.")

    def check(self, fn_name: str, trigger: Trigger) -> None:
        """Refuse a source the function's trigger cannot give (DeclarationError naming the fix)."""
        said = f"@function {fn_name!r}: tenant={self!r}"
        if not isinstance(trigger, Http):
            if self.claim is not None or self.header is not None:
                raise DeclarationError(
                    f"{said} reads an HTTP request, but the function is {trigger.kind}-triggered: its events carry "
                    f"the tenant in the CloudEvent extension {EXTENSION!r}; drop tenant= (or rename the extension "
                    "with tenant_from(extension='...'))."
                )
            return
        if self.claim is None and self.header is None:
            raise DeclarationError(
                f"{said}: an HTTP function reads its tenant from a claim or a header; write "
                "tenant_from(claim='org_id') (with auth= on its http trigger) or tenant_from(header='X-Tenant-Id')."
            )
        if self.claim is not None and trigger.auth is None:
            raise DeclarationError(
                f"{said} reads a claim of the caller's verified token, but {_route(trigger)} verifies no caller; add "
                "auth=jwt(issuer=..., audience=...) to its http trigger, or read the tenant from a header with "
                "tenant_from(header='X-Tenant-Id')."
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TenantSource) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def _fields(self) -> tuple[str | None, str | None, str]:
        return (self.claim, self.header, self.extension)

    def __repr__(self) -> str:
        return _call_text(self.claim, self.header, self.extension)


def tenant_from(claim: str | None = None, header: str | None = None, extension: str = EXTENSION) -> TenantSource:
    """Declare where a function's tenant comes from (`@function(..., tenant=tenant_from(...))`): a claim of
    the verified caller (`claim="org_id"`, needs `auth=` on the http trigger) or a request header
    (`header="X-Tenant-Id"`) for an HTTP function; an event function reads the CloudEvent extension
    `tenantid` without declaring anything, or the one `extension=` names."""
    return TenantSource(claim, header, extension)


def valid(tenant: object) -> bool:
    """True for a tenant id: a string of 1 to 64 letters, digits, '.', '_' or '-'."""
    return isinstance(tenant, str) and re.match(_TENANT, tenant) is not None


def tenant_of(call: Call | None) -> str | None:
    """The tenant `call` serves (None without one, or outside a call)."""
    ctx = call.ctx_if_any if call is not None else None
    return ctx.tenant if ctx is not None else None


def current_tenant() -> str | None:
    """The tenant the running call serves, or None (no tenant, or not in a call)."""
    return tenant_of(current_call())


# -- the middleware ----------------------------------------------------------------------------------


class _Refused(Exception):
    """A request whose tenant cannot be read: answered with `status` and `reason`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class TenantMiddleware(Middleware):
    """Sets `ctx.tenant` for each call (keeping one a shim set) and logs each tenant's usage after it."""

    def __init__(self) -> None:
        # per call index: (the Context the shim passed, the tenant it said, the call's tenant, when it began)
        self._key = f"{__name__}.{id(self)}"
        self._started = f"{self._key}.started"  # when the invocation began: a refused request's duration

    def start(self, invocation: Invocation) -> None:
        invocation.state[self._started] = time.perf_counter()

    def before(self, call: Call) -> None:
        given = call.ctx_if_any  # the Context a shim passed, if any (one may serve every call of a batch)
        if given is None and call.request is None and not getattr(call.event, "extensions", None):
            return  # an event with no extension names no tenant (most events): nothing to read or count
        preset = given.tenant if given is not None else None
        try:
            tenant = preset if preset is not None else _read(call)
        except _Refused as refused:
            return _refuse(call, refused)
        if tenant is None:
            return
        call.ctx.tenant = tenant  # the handler's Context, made here when the shim passed none
        call.invocation.state.setdefault(self._key, {})[call.index] = (given, preset, tenant, time.perf_counter())

    def after(self, call: Call) -> None:
        state = call.invocation.state
        held = state.get(self._key)
        began = held.pop(call.index, None) if held else None
        if began is not None:
            given, preset, tenant, started = began
            if given is not None:
                given.tenant = preset  # the shim's Context as it was: the next call of a batch reads its own
        else:
            if call.request is None:
                return  # an event `before` found no tenant in (most calls): nothing to count
            tenant = _answered_before(call)
            if tenant is None:
                return
            started = state.get(self._started, time.perf_counter())
        usage_log().info({"usage": usage(call, tenant, (time.perf_counter() - started) * 1000)})


def _answered_before(call: Call) -> str | None:
    """The tenant of a request answered before `before` read it (by `auth=`, which runs first): the one a
    shim said, else the one the function reads, but only from a verified caller (a 403 missing a scope): an
    unverified caller's header or claim names no one."""
    request = call.request
    if request is None or call.response is None:
        return None
    given = call.ctx_if_any
    if given is not None and given.tenant is not None:
        return str(given.tenant)
    if request.auth is None or call.invocation.spec.options.tenant is None:
        return None
    try:
        return _read(call)
    except _Refused:
        return None


def _read(call: Call) -> str | None:
    """The call's tenant as its function declares it; `_Refused` for a request that cannot say it; a bad
    tenant id on an event dead-letters it (`_Refused` too: the call is answered without running)."""
    source: TenantSource | None = call.invocation.spec.options.tenant
    request = call.request
    if request is not None:
        if source is None:
            return None
        if source.header is not None:
            return _from_header(request, source.header)
        return _from_claim(request, source.claim or "")
    event = call.event
    if not isinstance(event, CloudEvent):
        return None  # a record that could not be read: dead-lettered saying why
    extension = source.extension if source is not None else EXTENSION
    value = event.extensions.get(extension)
    if value is None:
        return None
    if not valid(value):
        reason = f"the event's {extension!r} extension {value!r} {_RULE}; it is dead-lettered."
        raise _Refused(0, reason)  # no status: an event is answered with a dead letter
    return str(value)


_RULE = "is not a tenant id (1 to 64 of A-Z a-z 0-9 . _ -)"


def _from_header(request: Request, header: str) -> str:
    value = request.headers.get(header)
    if not value:
        raise _Refused(400, f"this request needs a {header} header naming its tenant.")
    if not valid(value):
        raise _Refused(400, f"the {header} header {value!r} {_RULE}.")
    return str(value)


def _from_claim(request: Request, claim: str) -> str:
    auth = request.auth
    if auth is None:
        raise _Refused(401, "this request is not authenticated, so it names no tenant.")
    value = auth.claims.get(claim)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None:
        raise _Refused(403, f"the caller's token has no {claim!r} claim naming its tenant.")
    if not valid(value):
        raise _Refused(403, f"the caller's {claim!r} claim {value!r} {_RULE}.")
    return str(value)


def _refuse(call: Call, refused: _Refused) -> None:
    reason = f"{call.invocation.spec.name}: {refused}"
    if call.request is not None:
        call.response = Response.json({"error": reason}, status=refused.status)
    else:
        call.result = Result(DEAD_LETTER, None, reason, DeadLetter(reason), call.event_id)


# -- usage ---------------------------------------------------------------------------------------------


def usage(call: Call, tenant: str, duration_ms: float) -> dict[str, Any]:
    """One call's usage line: tenant, function, 1 invocation, its duration and how it ended (an event's
    outcome; a request's status, and `outcome_of(status)`)."""
    line: dict[str, Any] = {
        "tenant": tenant,
        "function": call.invocation.spec.name,
        "invocations": 1,
        "duration_ms": round(duration_ms, 3),
    }
    response = call.response
    if call.request is not None:
        status = response.status if response is not None else 500
        line["outcome"], line["status"] = outcome_of(status), status
    else:
        line["outcome"] = call.result.outcome if call.result is not None else ERROR
    return line


REFUSED = "refused"  # a request answered with a 4xx: counted, not served


def outcome_of(status: int) -> str:
    """A request's outcome in a usage line: "ack" below 400, "refused" for a 4xx, "error" from 500."""
    return ACK if status < 400 else REFUSED if status < 500 else ERROR


_usage_log: Logger | None = None


def usage_log() -> Logger:
    """The usage logger, at INFO whatever the root's level (`LOG_LEVEL`): usage is never filtered out.
    `logging` is imported on first use: a function without tenants never pays for it."""
    global _usage_log
    if _usage_log is None:
        import logging

        logger = logging.getLogger(USAGE_LOGGER)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        _usage_log = logger
    return _usage_log


def _call_text(claim: object, header: object, extension: object) -> str:
    given = [f"{k}={v!r}" for k, v in (("claim", claim), ("header", header)) if v is not None]
    if extension != EXTENSION:
        given.append(f"extension={extension!r}")
    return f"tenant_from({', '.join(given)})"


def _route(trigger: Http) -> str:
    return f"http({trigger.method!r}, {trigger.path!r})"

"""Every call that serves a tenant writes one usage line however it ends: refused by `auth=` after its caller
was verified (403, a scope missing), rate limited (429), a body the handler cannot take (400), a crash (500),
an idempotent replay, a dead-lettered event. A request refused before any tenant can be known (401: no
verified caller; 403 from the tenant's own claim missing) writes none. `logs --usage` counts the outcomes."""

from __future__ import annotations

import json
import logging
from typing import Any

from portable_fn.logread import LogEntry, TenantUsage, usage_by_tenant
from portable_fn.runtime import CloudEvent, Context, FunctionSpec, Request, call_event, call_http, spec_of
from portable_fn.runtime.log_format import JsonFormatter

from .conftest import Recording
from .handlers import refusals, tenanted
from .test_usage import NOW, usages


def spec(handler: Any) -> FunctionSpec:
    found = spec_of(handler)
    assert found is not None
    return found


def request(
    method: str, path: str, tenant: str | None = None, claims: dict[str, Any] | None = None, **more: Any
) -> Request:
    headers = dict(more.pop("headers", {}))
    if tenant is not None:
        headers["X-Tenant-Id"] = tenant
    if claims is not None:
        headers["X-Test-Claims"] = json.dumps(claims)
    return Request(method, path, headers=headers, path_params={"key": "k"}, **more)


def status(handler: Any, sent: Request, ctx: Context | None = None) -> int:
    return call_http(spec(handler), sent, ctx).status


def test_a_verified_caller_refused_for_a_missing_scope_is_counted_for_its_tenant(
    usage_lines: list[logging.LogRecord],
) -> None:
    reader = {"sub": "al", "org_id": "acme", "scope": "notes:read"}
    admin = {"sub": "bo", "org_id": "acme", "scope": "notes:admin"}
    assert status(refusals.delete_note, request("DELETE", "/notes/k", claims=reader)) == 403
    assert status(refusals.delete_note, request("DELETE", "/notes/k", claims=admin)) == 204
    assert status(refusals.delete_note, request("DELETE", "/notes/k")) == 401  # no caller: no tenant
    assert (
        status(refusals.delete_note, request("DELETE", "/notes/k", claims={"sub": "cy", "scope": "notes:admin"})) == 403
    )
    assert status(refusals.archive, request("DELETE", "/archive/k", "globex", reader)) == 403  # tenant from a header
    assert status(refusals.archive, request("DELETE", "/archive/k", "globex")) == 401  # an unverified header: no one
    assert usages(usage_lines) == [
        {"tenant": "acme", "function": "delete_note", "invocations": 1, "outcome": "refused", "status": 403},
        {"tenant": "acme", "function": "delete_note", "invocations": 1, "outcome": "ack", "status": 204},
        {"tenant": "globex", "function": "archive", "invocations": 1, "outcome": "refused", "status": 403},
    ]


def test_a_tenant_the_shim_was_given_is_counted_even_for_an_unverified_caller(
    usage_lines: list[logging.LogRecord],
) -> None:
    """Lambda's tenant isolation mode ran the function in that tenant's environment: the call was its."""
    given = Context("inv-1", "delete_note", "aws", tenant="initech")
    assert status(refusals.delete_note, request("DELETE", "/notes/k"), given) == 401
    assert usages(usage_lines) == [
        {"tenant": "initech", "function": "delete_note", "invocations": 1, "outcome": "refused", "status": 401}
    ]


def test_each_way_a_tenants_call_ends_is_one_invocation_with_its_outcome(
    usage_lines: list[logging.LogRecord], published: Recording
) -> None:
    assert status(refusals.quota, request("GET", "/quota", "acme")) == 200
    assert status(refusals.quota, request("GET", "/quota", "acme")) == 429
    assert status(refusals.typed, request("POST", "/typed", "acme", body="{not json")) == 400
    assert status(refusals.crash, request("GET", "/crash", "acme")) == 500
    paid = {"headers": {"Idempotency-Key": "k-1"}, "body": json.dumps({"amount": 5})}
    assert status(tenanted.pay, request("POST", "/pay", "acme", **paid)) == 201
    assert status(tenanted.pay, request("POST", "/pay", "acme", **paid)) == 201  # replayed, not run again
    assert tenanted.SEEN == ["acme"]
    doomed = CloudEvent(id="e-1", source="/s", type="t", extensions={"tenantid": "acme"})
    assert call_event(spec(refusals.doomed), doomed).outcome == "dead_letter"
    assert [(u["function"], u["outcome"], u.get("status")) for u in usages(usage_lines)] == [
        ("quota", "ack", 200),
        ("quota", "refused", 429),
        ("typed", "refused", 400),
        ("crash", "error", 500),
        ("pay", "ack", 201),
        ("pay", "ack", 201),
        ("doomed", "dead_letter", None),
    ]


def test_logs_usage_counts_the_refused_and_the_failed(usage_lines: list[logging.LogRecord]) -> None:
    status(refusals.quota, request("GET", "/quota", "acme"))
    status(refusals.quota, request("GET", "/quota", "acme"))
    status(refusals.crash, request("GET", "/crash", "acme"))
    status(refusals.quota, request("GET", "/quota", "globex"))
    call_event(spec(refusals.doomed), CloudEvent(id="e-2", source="/s", type="t", extensions={"tenantid": "globex"}))
    formatter = JsonFormatter("gcp", {})
    entries = [LogEntry(NOW, "f", "INFO", json.dumps(formatter.fields(r)["message"])) for r in usage_lines]
    summed = usage_by_tenant(entries)
    assert [(t.tenant, t.invocations, dict(t.outcomes), t.refused, t.failed) for t in summed] == [
        ("acme", 3, {"ack": 1, "refused": 1, "error": 1}, 1, 1),
        ("globex", 2, {"ack": 1, "dead_letter": 1}, 0, 1),
    ]
    assert summed[0].row()[:4] == ("acme", "3", "1", "1")
    assert summed[1].to_dict()["outcomes"] == {"ack": 1, "dead_letter": 1}
    assert TenantUsage("x", 1, 2.0).row() == ("x", "1", "0", "0", "2.0", "2.0")  # lines without an outcome

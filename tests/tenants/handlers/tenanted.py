"""Tenant-aware functions: each records the tenant it saw in `SEEN`; notes are kept in the `notes` state."""

from __future__ import annotations

import json
from typing import Any

from portable_fn import (
    CloudEvent,
    Context,
    Request,
    Response,
    current_tenant,
    emit,
    function,
    http,
    queue,
    state,
    tenant_from,
    topic,
)
from portable_fn.runtime.auth import Auth, Denied, Verifier

SEEN: list[Any] = []
notes = state("notes")
note_events = topic("note-events")


class ClaimsFromHeader(Verifier):
    """A stand-in for `jwt(...)`: "verifies" the JSON claims an `X-Test-Claims` header carries, so a test
    chooses the claims without minting tokens (the tenant reads `request.auth.claims` either way)."""

    def authenticate(self, request: Request, keys: Any, now: float) -> Auth:
        text = request.headers.get("X-Test-Claims")
        if text is None:
            raise Denied("no credential")
        claims = json.loads(text)
        return Auth("jwt", claims.get("sub"), claims)


@function(trigger=http("PUT", "/notes/{key}"), tenant=tenant_from(header="X-Tenant-Id"), uses=[notes.write()])
def put_note(request: Request, ctx: Context) -> Response:
    notes.put(request.path_params["key"], request.text)
    SEEN.append(ctx.tenant)
    return Response.json({"tenant": ctx.tenant}, status=201)


@function(trigger=http("GET", "/notes/{key}"), tenant=tenant_from(header="X-Tenant-Id"), uses=[notes.read()])
def get_note(request: Request) -> Response:
    return Response.json({"tenant": current_tenant(), "note": notes.get(request.path_params["key"])})


@function(trigger=http("GET", "/whoami", auth=ClaimsFromHeader()), tenant=tenant_from(claim="org_id"))
def whoami(request: Request, ctx: Context) -> dict[str, Any]:
    return {"tenant": ctx.tenant, "subject": request.auth.subject}


@function(trigger=http("GET", "/open"))
def untenanted(request: Request, ctx: Context) -> dict[str, Any]:
    return {"tenant": ctx.tenant}


@function(trigger=queue("jobs"), uses=[notes.write(), note_events.publish()])
def job(event: CloudEvent[Any], ctx: Context) -> None:
    SEEN.append(ctx.tenant)
    notes.put("last-job", event.data)
    ctx.emit(note_events, data={"job": event.id}, type="notes.job.done")
    emit(note_events, data={"job": event.id}, type="notes.job.audited", extensions={"tenantid": "auditors"})


@function(trigger=queue("renamed"), tenant=tenant_from(extension="orgid"))
def renamed(event: CloudEvent[Any], ctx: Context) -> None:
    SEEN.append(ctx.tenant)


@function(trigger=queue("payments"), idempotent=True)
def charge(event: CloudEvent[Any]) -> dict[str, Any]:
    SEEN.append(current_tenant())
    return {"charged": event.data["amount"], "tenant": current_tenant()}


@function(trigger=http("POST", "/pay"), tenant=tenant_from(header="X-Tenant-Id"), idempotent=True)
def pay(request: Request) -> Response:
    SEEN.append(current_tenant())
    return Response.json({"paid": request.json()["amount"], "tenant": current_tenant()}, status=201)


@function(trigger=http("POST", "/orders"), tenant=tenant_from(header="X-Tenant-Id"), uses=[note_events.publish()])
def order(request: Request) -> Response:
    emit(note_events, data=request.json(), type="notes.order.placed")
    return Response.json({"ok": True}, status=202)


@function(trigger=http("GET", "/plans/{key}"), tenant=tenant_from(header="X-Tenant-Id"), uses=[notes.write()])
def cached_plan(request: Request) -> Any:
    return {"plan": notes.cached(request.path_params["key"], ttl=60, load=lambda: f"loaded for {current_tenant()}")}

"""Tenant-serving functions that refuse or fail each way a call can end: a route requiring a scope (its
tenant from a claim, or from a header), a rate-limited route, a typed body, a crash, a dead-lettered event."""

from __future__ import annotations

from typing import Any

from portable_fn import CloudEvent, DeadLetter, Request, Response, function, http, queue, tenant_from
from portable_fn.runtime.auth import Auth, check_scopes

from .tenanted import ClaimsFromHeader

TENANT_HEADER = tenant_from(header="X-Tenant-Id")


class ScopedClaims(ClaimsFromHeader):
    """`ClaimsFromHeader` requiring the scope `notes:admin`, checked after verifying, as `jwt(scopes=...)` is."""

    scopes = ("notes:admin",)

    def authenticate(self, request: Request, keys: Any, now: float) -> Auth:
        return check_scopes(self, super().authenticate(request, keys, now))


@function(trigger=http("DELETE", "/notes/{key}", auth=ScopedClaims()), tenant=tenant_from(claim="org_id"))
def delete_note(request: Request) -> Response:
    return Response(b"", status=204)


@function(trigger=http("DELETE", "/archive/{key}", auth=ScopedClaims()), tenant=TENANT_HEADER)
def archive(request: Request) -> Response:
    return Response(b"", status=204)


@function(trigger=http("GET", "/quota", rate_limit="1/hour"), tenant=TENANT_HEADER)
def quota(request: Request) -> dict[str, Any]:
    return {"left": 0}


@function(trigger=http("POST", "/typed"), tenant=TENANT_HEADER)
def typed(request: Request) -> dict[str, Any]:
    return {"text": request.json()["text"]}  # a body that is not JSON: 400


@function(trigger=http("GET", "/crash"), tenant=TENANT_HEADER)
def crash(request: Request) -> Response:
    raise RuntimeError("the handler crashed")


@function(trigger=queue("doomed"))
def doomed(event: CloudEvent[Any]) -> None:
    raise DeadLetter("this job cannot be done")

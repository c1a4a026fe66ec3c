"""Routes that verify their callers in the function, as they do on Google Cloud and Azure: a JWT route, and an
API-key route that takes its tenant from a header and allows two calls a minute per tenant."""

from __future__ import annotations

from typing import Any

from portable_fn import Context, Request, api_key, function, http, jwt, secret, tenant_from

api_keys = secret("api-keys")


@function(trigger=http("GET", "/orders", auth=jwt("https://id.example.test/", "api://orders")))
def list_orders(request: Request) -> dict[str, Any]:
    return {"subject": request.auth.subject}


@function(
    trigger=http("GET", "/reports", auth=api_key(secret=api_keys), rate_limit="2/minute"),
    tenant=tenant_from(header="X-Tenant-Id"),
)
def list_reports(request: Request, ctx: Context) -> dict[str, Any]:
    return {"key": request.auth.key, "tenant": ctx.tenant}

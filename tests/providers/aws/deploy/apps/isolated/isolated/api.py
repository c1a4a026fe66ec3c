"""Two tenant-isolated HTTP functions (a path parameter, a greedy path) whose tenant is a header, and one
shared function that keeps its Function URL."""

from __future__ import annotations

from portable_fn import Context, Request, Response, function, http, tenant_from


@function(
    trigger=http("GET", "/orders/{order_id}"),
    tenant=tenant_from(header="X-Tenant-Id"),
    tenant_isolation=True,
)
def get_order(request: Request, ctx: Context) -> Response:
    return Response.json({"tenant": ctx.tenant, "order": request.path_params["order_id"]})


@function(
    trigger=http("POST", "/files/{path+}", public=True),
    tenant=tenant_from(header="X-Tenant-Id"),
    tenant_isolation=True,
)
def put_file(request: Request, ctx: Context) -> Response:
    return Response.json({"tenant": ctx.tenant}, status=201)


@function(trigger=http("GET", "/health", public=True))
def health(request: Request) -> Response:
    return Response.json({"ok": True})

"""Two tenant-isolated HTTP functions on one path and one on another, whose tenant is a header, beside a shared
function: the app's CORS policy is answered on each path of the tenants' REST API."""

from __future__ import annotations

from portable_fn import Context, Request, Response, function, http, tenant_from


@function(
    trigger=http("GET", "/projects/{project_id}"),
    tenant=tenant_from(header="X-Tenant-Id"),
    tenant_isolation=True,
)
def get_project(request: Request, ctx: Context) -> Response:
    return Response.json({"tenant": ctx.tenant, "project": request.path_params["project_id"]})


@function(
    trigger=http("POST", "/projects/{project_id}", public=True),
    tenant=tenant_from(header="X-Tenant-Id"),
    tenant_isolation=True,
)
def update_project(request: Request, ctx: Context) -> Response:
    return Response.json({"tenant": ctx.tenant}, status=202)


@function(
    trigger=http("GET", "/projects", public=True),
    tenant=tenant_from(header="X-Tenant-Id"),
    tenant_isolation=True,
)
def list_projects(request: Request, ctx: Context) -> Response:
    return Response.json({"tenant": ctx.tenant, "projects": []})


@function(trigger=http("GET", "/health", public=True))
def health(request: Request) -> Response:
    return Response.json({"ok": True})

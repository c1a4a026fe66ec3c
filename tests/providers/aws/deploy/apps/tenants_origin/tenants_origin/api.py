"""One tenant-isolated HTTP function whose tenant is a header, called from one browser origin: API Gateway's own
refusals (400 without the header, 403 from IAM, 429, 5xx) carry that origin through the REST API's gateway
responses."""

from __future__ import annotations

from portable_fn import Context, Request, Response, function, http, tenant_from


@function(
    trigger=http("GET", "/projects/{project_id}"),
    tenant=tenant_from(header="X-Tenant-Id"),
    tenant_isolation=True,
)
def get_project(request: Request, ctx: Context) -> Response:
    return Response.json({"tenant": ctx.tenant, "project": request.path_params["project_id"]})

"""Notes per tenant: the tenant comes from the X-Tenant-Id header; each tenant sees only its own notes."""

from __future__ import annotations

from portable_fn import Context, Request, Response, function, http, jwt, state, tenant_from

notes = state("notes")
TENANT = tenant_from(header="X-Tenant-Id")


@function(trigger=http("PUT", "/notes/{key}"), tenant=TENANT, tenant_isolation=True, uses=[notes.write()])
def put_note(request: Request, ctx: Context) -> Response:
    notes.put(request.path_params["key"], request.text)
    return Response.json({"tenant": ctx.tenant, "stored": request.path_params["key"]}, status=201)


@function(trigger=http("GET", "/notes/{key}"), tenant=TENANT, uses=[notes.read()])
def get_note(request: Request, ctx: Context) -> Response:
    note = notes.get(request.path_params["key"])
    if note is None:
        return Response.json({"tenant": ctx.tenant, "error": "no such note"}, status=404)
    return Response.json({"tenant": ctx.tenant, "note": note})


@function(
    trigger=http("GET", "/my/notes/{key}", auth=jwt("https://id.example.test/", "api://notes")),
    tenant=tenant_from(claim="org_id"),
    uses=[notes.read()],
)
def my_note(request: Request, ctx: Context) -> Response:
    """The same notes, the tenant read from the caller's verified token instead of a header."""
    return Response.json(
        {"tenant": ctx.tenant, "subject": request.auth.subject, "note": notes.get(request.path_params["key"])}
    )

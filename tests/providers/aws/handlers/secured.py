"""Functions whose callers or tenants Lambda's side already established, for the AWS shim tests."""

from __future__ import annotations

from portable_fn import CloudEvent, Context, Request, Response, function, http, jwt, topic

ISSUER = "https://id.example.com/"
TENANTS_SEEN: list[str | None] = []


@function(trigger=http("GET", "/my/path", auth=jwt(ISSUER, "orders-api")))
def whoami(request: Request) -> Response:
    """Answers with the verified caller the runtime handed it."""
    auth = request.auth
    return Response.json({"kind": auth.kind, "subject": auth.subject, "claims": dict(auth.claims)} if auth else None)


@function(trigger=http("GET", "/my/path"))
def tenant_of_request(request: Request, ctx: Context) -> Response:
    return Response.json({"tenant": ctx.tenant})


@function(trigger=topic("work"))
def work(event: CloudEvent, ctx: Context) -> None:
    TENANTS_SEEN.append(ctx.tenant)

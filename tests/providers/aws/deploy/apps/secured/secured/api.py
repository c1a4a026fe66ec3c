"""Two routes sharing one JWT issuer and audience (one authorizer), a JWT whose keys are at an address of its
own (verified in the function), an API key route, a public one, and a queue worker reading a secret."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, api_key, function, http, jwt, queue, secret

stripe_key = secret("stripe-key")
partner_keys = secret("partner-keys")
ISSUER = "https://id.example.com/"


@function(trigger=http("GET", "/orders", auth=jwt(ISSUER, "orders-api", scopes=["orders:read"])))
def list_orders(request: Request) -> Response:
    return Response.json({"caller": request.auth.subject if request.auth else None})


@function(
    trigger=http("POST", "/orders", auth=jwt(ISSUER, "orders-api", scopes=["orders:write"])),
    uses=[stripe_key],
)
def create_order(request: Request) -> Response:
    return Response.json({"charged": bool(stripe_key.value)}, status=201)


@function(
    trigger=http(
        "GET", "/audit", auth=jwt("https://audit.example.com/", "audit", jwks_url="https://keys.example.com/jwks")
    )
)
def audit(request: Request) -> Response:
    return Response.json([])


@function(trigger=http("POST", "/partner/orders", auth=api_key(secret=partner_keys)))
def partner_order(request: Request) -> Response:
    return Response.json({"partner": request.auth.key if request.auth else None}, status=202)


@function(trigger=http("GET", "/health", public=True))
def health(request: Request) -> Response:
    return Response.json({"ok": True})


@function(trigger=queue("charges"), uses=[stripe_key])
def charge(event: CloudEvent) -> None:
    assert stripe_key.value

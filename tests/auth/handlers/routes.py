"""HTTP functions behind each kind of caller verification, and one rate-limited by address."""

from __future__ import annotations

from typing import Any

from portable_fn import Request, api_key, function, http, jwt, secret

ISSUER = "https://id.example.test/"
AUDIENCE = "api://orders"
JWKS_URL = "https://id.example.test/.well-known/jwks.json"

api_keys = secret("api-keys")


@function(trigger=http("GET", "/orders", auth=jwt(ISSUER, AUDIENCE, jwks_url=JWKS_URL)))
def list_orders(request: Request) -> dict[str, Any]:
    auth = request.auth
    return {"kind": auth.kind, "subject": auth.subject, "org": auth.claims.get("org_id")}


@function(
    trigger=http(
        "POST", "/orders", auth=jwt(ISSUER, ["api://other", AUDIENCE], jwks_url=JWKS_URL, scopes=["orders:write"])
    )
)
def create_order(request: Request) -> dict[str, Any]:
    return {"subject": request.auth.subject}


@function(trigger=http("POST", "/ingest", auth=api_key(secret=api_keys), rate_limit="2/minute"))
def ingest(request: Request) -> dict[str, Any]:
    return {"key": request.auth.key, "subject": request.auth.subject}


@function(trigger=http("GET", "/status", public=True, rate_limit="1/hour"))
def status(request: Request) -> dict[str, Any]:
    return {"ok": True}


@function(trigger=http("GET", "/open", public=True))
def open_route(request: Request) -> dict[str, Any]:
    return {"auth": request.auth}

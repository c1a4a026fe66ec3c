"""A route behind a real issuer's JWTs, which `portable-fn dev` also lets its own issuer's tokens through."""

from __future__ import annotations

from typing import Any

from portable_fn import Request, function, http, jwt


@function(
    trigger=http(
        "GET",
        "/orders",
        auth=jwt("https://id.example.test/", "api://orders", scopes=["orders:read"]),
        rate_limit="3/minute",
    )
)
def list_orders(request: Request) -> dict[str, Any]:
    auth = request.auth
    return {"subject": auth.subject, "org": auth.claims.get("org_id"), "issuer": auth.claims["iss"]}

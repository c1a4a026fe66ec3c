"""An app with secrets: `charge` reads `stripe-key` and `webhook-secret`, `refund` reads `stripe-key`, `ping`
declares none. `charge` is public and `refund` verifies a JWT in the function: both are open at the edge; `ping`
keeps its function key."""

from __future__ import annotations

from portable_fn import Request, Response, function, http, jwt, secret

stripe_key = secret("stripe-key")
webhook_secret = secret("webhook-secret", max_age=60)


@function(trigger=http("POST", "/charge", public=True), uses=[stripe_key, webhook_secret.read()])
def charge(request: Request) -> Response:
    return Response.json({"key": len(stripe_key.value), "hook": len(webhook_secret.value)})


@function(
    trigger=http("POST", "/refund", auth=jwt(issuer="https://issuer.example.com/", audience="keyed")), uses=[stripe_key]
)
def refund(request: Request) -> Response:
    return Response.json({"key": len(stripe_key.value)})


@function(trigger=http("GET", "/ping"))
def ping(request: Request) -> Response:
    return Response.json({"pong": True})

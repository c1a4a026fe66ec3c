"""A test app for secrets on GCP: `stripe-key` is read by two functions, `webhook-secret` by one (declared with
`.read()`), `partner-keys` by the route that verifies its callers' API keys with it (open at the edge), and a
third function reads none."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, api_key, function, http, queue, secret

stripe_key = secret("stripe-key", max_age=60)
webhook_secret = secret("webhook-secret")
partner_keys = secret("partner-keys")


@function(trigger=http("POST", "/charges"), uses=[stripe_key])
def charge(request: Request) -> Response:
    return Response.json({"key_version": stripe_key.version})


@function(trigger=queue("refunds"), uses=[stripe_key, webhook_secret.read()])
def refund(event: CloudEvent) -> None:
    assert stripe_key.value and webhook_secret.value


@function(trigger=http("GET", "/health"))
def health(request: Request) -> Response:
    return Response.json({"ok": True})


@function(trigger=http("POST", "/partners", auth=api_key(secret=partner_keys)), uses=[partner_keys])
def partners(request: Request) -> Response:
    return Response.json({"partner": request.auth.key if request.auth else None})

"""Functions the secrets tests drive: `charge` reads stripe-key and logs it every way a handler might
(a %-argument, an f-string, an exception, an `extra=` field); `refund` raises with it in the message;
`peek` reads it without declaring it."""

from __future__ import annotations

import hashlib
import logging

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue, secret

stripe_key = secret("stripe-key", max_age=0)  # fetched on every read: a value set while dev runs shows at once
webhook_key = secret("webhook-key")

log = logging.getLogger("keyed")


@function(trigger=http("POST", "/charge"), uses=[stripe_key])
def charge(request: Request, ctx: Context) -> Response:
    key = stripe_key.value
    ctx.logger.info("charging with %s", key)
    ctx.logger.info(f"charging with {key}")
    log.warning("the key is %r", key, extra={"key": key})
    try:
        raise ValueError(f"card declined for key {key}")
    except ValueError:
        ctx.logger.exception("declined")
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Response.json({"sha256": digest, "version": stripe_key.version})


@function(trigger=http("POST", "/webhook"), uses=[webhook_key.read()])
def webhook(request: Request) -> Response:
    return Response.json({"length": len(webhook_key.value)})


@function(trigger=queue("refunds"), uses=[stripe_key])
def refund(event: CloudEvent[dict]) -> None:
    raise ValueError(f"refund refused for key {stripe_key.value}")


@function(trigger=http("GET", "/peek"))
def peek(request: Request) -> Response:
    return Response.json({"length": len(stripe_key.value)})

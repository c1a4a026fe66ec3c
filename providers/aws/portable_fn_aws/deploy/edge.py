"""What stands in front of HTTP functions on AWS besides IAM: CORS and JWT authorizers. Pure: no AWS call.

CORS (`[tool.portable-fn.cors]`, `AppConfig.cors`) becomes the HTTP API's `CorsConfiguration`, or each
Function URL's `Cors`: the same six fields in both APIs. One canonical JSON spelling (`document`) is what
desired builds and remote reads back, so an unchanged policy compares equal: lists sorted, header names
lower-cased (they are case-insensitive, and AWS may answer them lower-cased), empty fields left out.

A route declaring `auth=jwt(issuer, audience, scopes=...)` behind the HTTP API gets a JWT authorizer (one
per issuer and audiences, `authorizer_name`) reading `Authorization`, the route requiring it with the
declared scopes. API Gateway finds the issuer's keys through its OpenID discovery document, so a `jwt`
naming its own `jwks_url` is verified in the function instead (`at_edge` False), as on a Function URL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

from portable_fn.runtime.auth import Jwt
from portable_fn.runtime.triggers import Http

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.config import CorsConfig

FIELDS = ("AllowOrigins", "AllowMethods", "AllowHeaders", "ExposeHeaders", "MaxAge", "AllowCredentials")
HEADER_FIELDS = ("AllowHeaders", "ExposeHeaders")
IDENTITY_SOURCE = "$request.header.Authorization"


def document(cors: CorsConfig | None) -> str:
    """The app's CORS policy (a `CorsConfig`, or None) as AWS's fields in canonical JSON; '' for none."""
    if cors is None:
        return ""
    return canonical(
        {
            "AllowOrigins": cors.allow_origins,
            "AllowMethods": cors.allow_methods,
            "AllowHeaders": cors.allow_headers,
            "ExposeHeaders": cors.expose_headers,
            "MaxAge": cors.max_age,
            "AllowCredentials": cors.allow_credentials,
        }
    )


def read(found: Mapping[str, Any] | None) -> str:
    """A `CorsConfiguration` / `Cors` as AWS answered it, in the spelling of `document`."""
    return canonical(found or {})


def canonical(fields: Mapping[str, Any]) -> str:
    kept: dict[str, Any] = {}
    for name in FIELDS:
        value = fields.get(name)
        if isinstance(value, (list, tuple)):
            value = sorted({v.lower() if name in HEADER_FIELDS else v for v in value})
        if value not in (None, False, [], ""):
            kept[name] = value
    return json.dumps(kept, sort_keys=True, separators=(",", ":")) if kept else ""


def parameters(text: str) -> dict[str, Any]:
    """A `document` as the request parameter (`CorsConfiguration`, `Cors`) takes it."""
    return dict(json.loads(text)) if text else {}


def at_edge(auth: object) -> TypeGuard[Jwt]:
    """Whether API Gateway can verify the route's callers itself: a `jwt` whose keys come from its issuer's
    discovery document (an `api_key` or a `jwt` with its own `jwks_url` is verified in the function)."""
    return isinstance(auth, Jwt) and not auth.jwks_url


def authorizer_name(issuer: str, audiences: tuple[str, ...]) -> str:
    """The name of the authorizer of one issuer and audiences: stable, unique to them, within API Gateway's
    128 characters."""
    digest = hashlib.sha256("\n".join([issuer, *sorted(audiences)]).encode()).hexdigest()[:12]
    return f"portable-fn-jwt-{digest}"


def preflight_notes(app: App, http: str) -> list[str]:
    """What `plan` says of an `ANY` route behind a JWT authorizer when the app has CORS on the HTTP API: its
    route matches the browser's preflight OPTIONS too, so the authorizer refuses the preflight (it carries no
    token) instead of API Gateway answering it
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html, read 2026-12-06)."""
    if http != "http-api" or app.config.cors is None:
        return []
    return [
        f"Function {spec.name!r} on aws: its route ANY {spec.trigger.path} requires a JWT at the HTTP API, which a "
        "browser's CORS preflight (OPTIONS) does not carry, so API Gateway refuses the preflight. Declare the "
        "methods it serves one function each, or verify in the function (give the jwt a jwks_url)."
        for spec in app.functions
        if isinstance(spec.trigger, Http) and spec.trigger.method == "ANY" and at_edge(spec.trigger.auth)
    ]

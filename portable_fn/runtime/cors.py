"""CORS, declared once per app (`[tool.portable-fn.cors]`) and applied by the runtime on every cloud.

Deploy and the dev host carry the policy to every function as `PORTABLE_FN_CORS` (JSON of
`portable_fn.config.CorsConfig`). Two places apply it:

- `preflight(request)`: an `OPTIONS` request with `Access-Control-Request-Method` is answered 204 with the
  allowed origin, methods, headers and max age, before any credential is asked for (browsers send none).
  The auth middleware calls it for requests that reach a function; `routes.not_routed` for those no route
  takes (a route without OPTIONS), so the dev host and the GCP and Azure shims answer them the same way.
  (An AWS HTTP API answers preflights itself: deploy sets its CorsConfiguration.)
- `decorate(request, response)`: every answer, 401 and 429 included, gets `Access-Control-Allow-Origin`
  for an allowed `Origin` (and `Vary: Origin`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .http import Request, Response

ENV = "PORTABLE_FN_CORS"
ANY = "*"


class Policy:
    """The app's CORS settings: `allow_origins` ("*": any, only without credentials), `allow_methods` and
    `allow_headers` ("*": whatever the preflight asks for), `expose_headers`, `max_age`, `allow_credentials`."""

    __slots__ = ("origins", "methods", "headers", "expose", "max_age", "credentials")

    def __init__(self, settings: dict[str, Any]) -> None:
        self.origins = frozenset(settings.get("allow_origins") or ())
        self.methods = tuple(m.upper() for m in settings.get("allow_methods") or (ANY,))
        self.headers = tuple(h.lower() for h in settings.get("allow_headers") or (ANY,))
        self.expose = tuple(settings.get("expose_headers") or ())
        self.max_age = settings.get("max_age")
        self.credentials = bool(settings.get("allow_credentials"))

    def allows(self, origin: str) -> bool:
        return origin in self.origins or (ANY in self.origins and not self.credentials)

    def origin_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """What every answer to `origin` carries."""
        if origin is None or not self.allows(origin):
            return [("Vary", "Origin")]
        shown = ANY if ANY in self.origins and not self.credentials else origin
        headers = [("Access-Control-Allow-Origin", shown), ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers


_loaded: tuple[str, Policy | None] = ("", None)  # (the environment's text, its policy)


def policy() -> Policy | None:
    """The policy `PORTABLE_FN_CORS` holds (None: no CORS), parsed again only when the variable changes."""
    global _loaded
    text = os.environ.get(ENV, "")
    if text != _loaded[0]:
        _loaded = (text, Policy(json.loads(text)) if text else None)
    return _loaded[1]


def is_preflight(request: Request) -> bool:
    return request.method == "OPTIONS" and "access-control-request-method" in request.headers


def preflight(request: Request, cors: Policy | None = None) -> Response | None:
    """The answer to a preflight under the app's policy; None for any other request, or without a policy."""
    if not is_preflight(request):  # asked first: most requests are not, and reading the policy costs more
        return None
    cors = cors or policy()
    if cors is None:
        return None
    origin = request.headers.get("origin")
    method = request.headers.get("access-control-request-method", "").upper()
    asked = [
        h.strip().lower() for h in request.headers.get("access-control-request-headers", "").split(",") if h.strip()
    ]
    refused = _refusal(cors, origin, method, asked)
    if refused:
        return Response.json({"error": "forbidden", "reason": refused}, status=403, headers=[("Vary", "Origin")])
    headers = cors.origin_headers(origin)
    headers.append(("Access-Control-Allow-Methods", method if ANY in cors.methods else ", ".join(cors.methods)))
    if asked:
        headers.append(("Access-Control-Allow-Headers", ", ".join(asked if ANY in cors.headers else cors.headers)))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return Response(b"", 204, headers)


def _refusal(cors: Policy, origin: str | None, method: str, asked: list[str]) -> str | None:
    where = "[tool.portable-fn.cors]"
    if origin is None or not cors.allows(origin):
        return f"origin {origin!r} is not in {where} allow_origins"
    if ANY not in cors.methods and method not in cors.methods:
        return f"method {method!r} is not in {where} allow_methods"
    unlisted = [h for h in asked if ANY not in cors.headers and h not in cors.headers]
    if unlisted:
        return f"header(s) {', '.join(unlisted)} are not in {where} allow_headers"
    return None


def decorate(request: Request, response: Response, cors: Policy | None = None) -> Response:
    """`response` with the CORS headers for the request's `Origin` (the same response without a policy)."""
    cors = cors or policy()
    if cors is None or any("origin" in v.lower() for v in response.headers.getall("vary")):
        return response  # answered by `preflight` already
    headers = cors.origin_headers(request.headers.get("origin"))
    if cors.expose and len(headers) > 1:
        headers.append(("Access-Control-Expose-Headers", ", ".join(cors.expose)))
    return Response(response.body, response.status, response.headers.multi_items() + headers)

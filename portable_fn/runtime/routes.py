"""Route matching: method + path template -> target and path parameters, and the 404 / 405 answers.

Every host answers a request no route serves the same way (`not_routed`): the local dev host for the
whole app, and each cloud shim for the one function it fronts (a Lambda Function URL passes every
method and path to the function, so the shim has to refuse what was not declared), or for the whole app
where the cloud routes what no function takes to one function (`not_served`).

Templates are the ones `http()` accepts: literal segments, `{param}` segments and a final greedy
`{rest+}` (one or more segments). When several routes match, the most specific wins: at the first
segment where they differ a literal beats a parameter, which beats a greedy parameter; an explicit
method beats `ANY`. Parameter values are percent-decoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from .http import Request, Response

ANY = "ANY"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}\Z")
_LITERAL, _ONE, _GREEDY = 0, 1, 2  # segment kinds, in order of precedence


class Route:
    """One route: `method` (or ANY), `template` and whatever it leads to (`target`); routes are equal when
    their method and template are. A plain class: `dataclasses` costs every cold start ~10 ms of imports
    (`inspect` and what it pulls in), more than the rest of the runtime."""

    __slots__ = ("method", "template", "target", "segments")

    def __init__(self, method: str, template: str, target: Any = None) -> None:
        self.method = method
        self.template = template
        self.target = target
        # (kind, literal text or parameter name) per segment
        self.segments: tuple[tuple[int, str], ...] = tuple(_segment(part) for part in _split(template))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Route):
            return NotImplemented
        return (self.method, self.template) == (other.method, other.template)

    def __hash__(self) -> int:
        return hash((self.method, self.template))

    def __repr__(self) -> str:
        return f"Route(method={self.method!r}, template={self.template!r})"

    def sort_key(self) -> tuple[Any, ...]:
        kinds = tuple(kind for kind, _ in self.segments)
        return (kinds, -len(kinds), self.method == ANY)

    def match_path(self, parts: list[str]) -> dict[str, str] | None:
        """Path parameters when the (still percent-encoded) path segments fit this template."""
        params: dict[str, str] = {}
        segments = self.segments
        for i, (kind, text) in enumerate(segments):
            if kind == _GREEDY:
                rest = parts[i:]
                if not rest:
                    return None
                params[text] = unquote("/".join(rest))
                return params
            if i >= len(parts) or (kind == _LITERAL and unquote(parts[i]) != text):
                return None
            if kind == _ONE:
                params[text] = unquote(parts[i])
        return params if len(parts) == len(segments) else None

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


class Router:
    """Routes sorted most specific first."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self.routes = sorted(routes, key=Route.sort_key)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route serving `method path` and its parameters, or None."""
        parts = _split(path)
        for route in self.routes:
            if route.method in (method.upper(), ANY):
                params = route.match_path(parts)
                if params is not None:
                    return route, params
        return None

    def allowed_methods(self, path: str) -> list[str]:
        """Methods of the routes whose template fits `path` (for a 405's Allow header)."""
        parts = _split(path)
        return sorted({r.method for r in self.routes if r.match_path(parts) is not None})

    def describe(self) -> list[str]:
        """'METHOD /template' for every route, most specific first."""
        return [str(r) for r in self.routes]


def path_shape(path: str) -> str:
    """A route template with each parameter's name left out (`/items/{}`, `/files/{+}`): two templates of one
    shape are one path to every router (dev's, API Gateway's, a function app's)."""
    return re.sub(r"[{][^}+]*([+]?)[}]", r"{\1}", path)


def _split(path: str) -> list[str]:
    stripped = path.split("?", 1)[0].strip("/")
    return stripped.split("/") if stripped else []


def _segment(part: str) -> tuple[int, str]:
    found = _PARAM.match(part)
    if found is None:
        return _LITERAL, part
    return (_GREEDY if found.group(2) else _ONE), found.group(1)


def not_routed(router: Router, request: Request) -> Response:
    """404 listing the routes, or 405 naming the methods the path accepts (a CORS preflight for a path a
    route takes is answered under the app's CORS policy, `cors.preflight`)."""
    allowed = router.allowed_methods(request.path)
    if allowed and request.method == "OPTIONS":
        from .cors import preflight

        answered = preflight(request)
        if answered is not None:
            return answered
    if allowed:
        return Response.json(
            {"error": f"{request.method} is not allowed on {request.path}", "allowed": allowed},
            status=405,
            headers={"allow": ", ".join(allowed)},
        )
    return not_found(router, request)


def not_served(router: Router, request: Request) -> Response:
    """What a cloud's catch-all answers for a request its router sent to no function of `router`'s routes
    (an API Gateway `$default` or `ANY /path` route, an Azure `{*path}` function): `not_routed`, except that a
    request some route takes, which the cloud's own matching did not send to it (it differs from this
    module's, e.g. on a trailing slash), is a 404: nothing serves it there."""
    if router.match(request.method, request.path) is not None:
        return not_found(router, request)
    return not_routed(router, request)


def not_found(router: Router, request: Request) -> Response:
    """404 listing the routes: what `not_routed` answers for a path no route takes."""
    return Response.json(
        {"error": f"Nothing serves {request.method} {request.path}", "routes": router.describe()},
        status=404,
    )

"""OpenAPI 3.1 for an app's HTTP functions: what `portable-fn openapi` writes and `dev` serves at
`/_local/openapi.json`.

The document is read from declarations only; nothing is called. Each HTTP function's route gives a path
and its methods (`ANY`: every method), its `{param}`s the path parameters (a greedy `{rest+}` is one
parameter holding the rest of the path). Bodies come from `http(..., request=, response=)`, else from
the handler's annotations: a `CloudEvent[Model]` parameter is a CloudEvent request whose data is the
model, a return annotation the 200 response; a handler taking `Request` with nothing declared has no
request schema. Models become JSON Schemas in `components.schemas` (pydantic's, so dataclasses and
`list[Model]` work too). Every operation lists the errors the runtime answers by itself, and a private
function (`public=False`) the cloud's authentication; a route declaring `auth=` is opened at the cloud's
edge for the function to verify its callers, so it lists that scheme instead (`jwt()`: a bearer JWT with
the route's scopes; `api_key()`: the key's header) with its 401 and 403, a `rate_limit=` its 429, and a
tenant taken from a header that header.
"""

from __future__ import annotations

import copy
import inspect
import re
import sys
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from pydantic.errors import PydanticUserError

from .app import App
from .runtime.cloudevent import CloudEvent
from .runtime.errors import DeclarationError
from .runtime.function import FunctionSpec
from .runtime.http import Response
from .runtime.triggers import Http

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

if TYPE_CHECKING:
    from .runtime.auth import Verifier

__all__ = ["openapi_document"]

OPENAPI_VERSION = "3.1.0"
ANY_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")  # what an ANY route serves
CLOUD_AUTH = "cloudAuth"
Scheme = tuple[str, dict[str, Any]]  # a security scheme: its name in the document, and what it says
JSON = "application/json"
_MEDIA = {str: "text/plain", bytes: "application/octet-stream", bytearray: "application/octet-stream"}
_GREEDY = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\+\}")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")
_SCHEMAS = "#/components/schemas/"
_CE = "portable_fn.CloudEvent"  # our component names hold a dot, which no pydantic model name has


@dataclass(frozen=True)
class Body:
    """One body: its Python type (None: anything) and media type."""

    type: Any
    media: str = JSON


@dataclass(frozen=True)
class Bodies:
    """What one HTTP function takes and answers. `responses` maps a status to its body (None: empty)."""

    request: Body | None
    event: bool  # the request carries a CloudEvent (binary or structured mode)
    responses: dict[int, Body | None]


def openapi_document(app: App) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app's HTTP functions."""
    specs = [s for s in app.functions if isinstance(s.trigger, Http)]
    _check_paths(specs)
    bodies = {s.name: bodies_of(s) for s in specs}
    schemas, definitions = _json_schemas(bodies)
    every_method = {openapi_path(_route(s).path) for s in specs if _route(s).method == "ANY"}
    schemes = _auth_schemes(specs)
    paths: dict[str, dict[str, Any]] = {}
    for spec, method, operation_id in _operations(specs):
        path = openapi_path(_route(spec).path)
        operation = _operation(spec, operation_id, bodies[spec.name], schemas, path not in every_method)
        _secure(operation, spec, schemes)
        paths.setdefault(path, {})[method] = operation
    document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": _info(app), "paths": paths}
    document["components"] = _components(definitions, specs, schemes)
    return copy.deepcopy(document)  # its parts below are shared constants: the caller's copy is its own


def openapi_path(template: str) -> str:
    """The OpenAPI path of a route template: a greedy `{rest+}` is written `{rest}`."""
    return _GREEDY.sub(r"{\1}", template)


def _check_paths(specs: list[FunctionSpec]) -> None:
    """OpenAPI tells paths apart by their literal segments only, so `/a/{x}` beside `/a/{y}` or `/a/{x+}`
    cannot be written: each path shape must be one template."""
    seen: dict[str, FunctionSpec] = {}
    for spec in specs:
        template = _route(spec).path
        other = seen.setdefault(_PARAM.sub("{}", template), spec)
        if _route(other).path != template:
            raise DeclarationError(
                f"Writing the OpenAPI document: functions {other.name!r} ({_route(other).path}) and {spec.name!r} "
                f"({template}) differ only in a parameter's name or greediness, which OpenAPI cannot tell apart; "
                "give the parameters at that position one name (and kind) to document both."
            )


def _route(spec: FunctionSpec) -> Http:
    assert isinstance(spec.trigger, Http), spec
    return spec.trigger


def bodies_of(spec: FunctionSpec) -> Bodies:
    """The request and response bodies of an HTTP function: declared on `http(...)`, else annotated."""
    declared = _route(spec).bodies
    hints = _hints(spec)
    event = spec.binding.first == "event"
    request_type = declared.request if declared is not None else None
    if request_type is None and event:
        request_type = _event_data_type(spec, hints)
    request = _body(request_type) if event or request_type is not None else None
    if declared is not None and declared.responses:
        responses = {status: None if t is None else _body(t) for status, t in declared.responses}
    else:
        responses = _annotated_responses(hints)
    return Bodies(request, event, responses)


def _hints(spec: FunctionSpec) -> dict[str, Any]:
    try:
        return typing.get_type_hints(getattr(spec.handler, "__wrapped__", spec.handler))
    except NameError:  # a forward reference the module never defined: bodies stay undeclared
        return {}


def _event_data_type(spec: FunctionSpec, hints: dict[str, Any]) -> Any:
    """T of the handler's `CloudEvent[T]` parameter; None for a bare CloudEvent or a view type."""
    first = next(iter(inspect.signature(spec.handler).parameters), None)
    hint = _without_none(hints.get(first)) if first else None
    args = typing.get_args(hint) if typing.get_origin(hint) is CloudEvent else ()
    if not args or args[0] is Any or hasattr(args[0], "from_cloudevent"):
        return None
    return args[0]


def _annotated_responses(hints: dict[str, Any]) -> dict[int, Body | None]:
    """The success response a return annotation says: a model (200), None (204), else undeclared."""
    if "return" not in hints:
        return {200: Body(None, "*/*")}
    returned = hints["return"]
    if returned is None or returned is type(None):
        return {204: None}
    if returned is Response or returned is Any:
        return {200: Body(None, "*/*")}
    return {200: _body(_without_none(returned))}


def _without_none(hint: Any) -> Any:
    args = typing.get_args(hint)
    if args and type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None))
    return hint


def _body(kind: Any) -> Body:
    return Body(kind, _MEDIA.get(kind, JSON) if kind is not None else "*/*")


# -- schemas ------------------------------------------------------------------------------------------

Key = tuple[str, Any]  # (function name, "request" or a status code)


def _json_schemas(bodies: dict[str, Bodies]) -> tuple[dict[Key, dict[str, Any]], dict[str, Any]]:
    """A JSON Schema per JSON body, and the models they reference (for components.schemas)."""
    inputs: list[tuple[Key, Any, TypeAdapter[Any]]] = []
    for name, of in bodies.items():
        wanted: list[tuple[str | int, str, Body | None]] = [("request", "validation", of.request)]
        wanted += [(status, "serialization", body) for status, body in of.responses.items()]
        for role, mode, body in wanted:
            adapter = _adapter(body)
            if adapter is not None:
                inputs.append(((name, role), mode, adapter))
    found, definitions = TypeAdapter.json_schemas(inputs, ref_template=_SCHEMAS + "{model}")
    return {key: schema for (key, _), schema in found.items()}, definitions.get("$defs", {})


def _adapter(body: Body | None) -> TypeAdapter[Any] | None:
    """A schema maker for a JSON body; None for text, bytes, anything, or a type pydantic cannot describe
    (a return annotation is a hint: such a body is documented as undeclared)."""
    if body is None or body.type is None or body.media != JSON:
        return None
    try:
        return TypeAdapter(body.type)
    except PydanticUserError:
        return None


# -- operations ---------------------------------------------------------------------------------------


def _operations(specs: list[FunctionSpec]) -> Iterable[tuple[FunctionSpec, str, str]]:
    """(function, method, operationId) per operation: explicit methods first, as they win over ANY."""
    taken: set[tuple[str, str]] = set()
    explicit = [s for s in specs if _route(s).method != "ANY"]
    for spec in explicit + [s for s in specs if s not in explicit]:
        path, method = openapi_path(_route(spec).path), _route(spec).method.lower()
        pairs = [(m, f"{spec.name}_{m}") for m in ANY_METHODS] if method == "any" else [(method, spec.name)]
        for verb, operation_id in pairs:
            if (path, verb) not in taken:
                taken.add((path, verb))
                yield spec, verb, operation_id


def _operation(
    spec: FunctionSpec, operation_id: str, bodies: Bodies, schemas: dict[Key, dict[str, Any]], refuses_methods: bool
) -> dict[str, Any]:
    """One operation; `refuses_methods` is False on a path an ANY route serves (it answers no 405)."""
    trigger = _route(spec)
    operation: dict[str, Any] = {"operationId": operation_id}
    summary, description = _doc(spec)
    if summary:
        operation["summary"] = summary
    if description:
        operation["description"] = description
    parameters = _path_parameters(trigger.path) + (_CE_HEADERS if bodies.event else [])
    if parameters:
        operation["parameters"] = parameters
    if bodies.request is not None:
        operation["requestBody"] = _request_body(bodies, schemas.get((spec.name, "request")))
    operation["responses"] = _responses(spec.name, bodies, schemas, refuses_methods)
    return operation


# -- who may call -------------------------------------------------------------------------------------


def _auth_key(verifier: Verifier | None) -> tuple[str, ...] | None:
    """What tells one declared scheme from another: a JWT issuer and audiences, an API key's secret and header."""
    from .runtime.auth import ApiKey, Jwt

    if isinstance(verifier, Jwt):
        return ("jwt", verifier.issuer, *verifier.audiences)
    if isinstance(verifier, ApiKey):
        return ("apiKey", verifier.secret.name, verifier.header)
    return None


def _auth_schemes(specs: list[FunctionSpec]) -> dict[tuple[str, ...], Scheme]:
    """Each scheme the routes' `auth=` declare: its key -> (its name in the document, the scheme). A kind
    declared once is named `jwt` or `apiKey`; several are numbered in the order of their keys."""
    verifiers = {key: auth for s in specs if (auth := _route(s).auth) and (key := _auth_key(auth))}
    schemes: dict[tuple[str, ...], Scheme] = {}
    for kind in ("jwt", "apiKey"):
        keys = sorted(k for k in verifiers if k[0] == kind)
        for number, key in enumerate(keys, start=1):
            name = kind if len(keys) == 1 else f"{kind}{number}"
            schemes[key] = (name, _scheme(verifiers[key]))
    return schemes


def _scheme(verifier: Verifier) -> dict[str, Any]:
    from .runtime.auth import ApiKey, Jwt

    if isinstance(verifier, Jwt):
        audiences = ", ".join(verifier.audiences)
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                f"A JWT issued by {verifier.issuer} for the audience {audiences} "
                f"({'/'.join(verifier.algorithms)}), sent as `Authorization: Bearer <token>`; the scopes an "
                "operation lists must be in its `scope` claim. Verified by the function (on AWS HTTP APIs by "
                "API Gateway first)."
            ),
        }
    assert isinstance(verifier, ApiKey), verifier  # `_auth_key` names a Jwt's scheme or an ApiKey's, no other
    return {
        "type": "apiKey",
        "in": "header",
        "name": verifier.header,
        "description": f"An API key kept in the secret {verifier.secret.name!r}, verified by the function.",
    }


def _secure(operation: dict[str, Any], spec: FunctionSpec, schemes: dict[tuple[str, ...], Scheme]) -> None:
    """Who may call the operation and the refusals that follow from it: the route's `auth=` scheme (the
    cloud's edge lets every caller through to the function then) or, private, the cloud's own; 401/403
    for a verified route, 429 for a rate-limited one, and the tenant header a function takes its tenant from."""
    from .runtime.auth import Jwt

    trigger, responses = _route(spec), operation["responses"]
    key = _auth_key(trigger.auth)
    if key is not None:
        verifier = trigger.auth
        scopes = list(verifier.scopes) if isinstance(verifier, Jwt) else []
        operation["security"] = [{schemes[key][0]: scopes}]
        responses.setdefault("401", {"$ref": "#/components/responses/Unauthorized"})
        if isinstance(verifier, Jwt):  # a scope or the tenant claim missing from a verified token
            responses.setdefault("403", {"$ref": "#/components/responses/Forbidden"})
    elif not trigger.public:
        operation["security"] = [{CLOUD_AUTH: []}]
    if getattr(trigger, "rate_limit", None):
        responses.setdefault("429", {"$ref": "#/components/responses/TooManyRequests"})
    header = getattr(spec.options.tenant, "header", None)
    if header:
        parameter = {
            "name": header,
            "in": "header",
            "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
            "description": "The tenant the call is for (a missing or bad one: 400).",
        }
        operation["parameters"] = [*operation.get("parameters", []), parameter]
    operation["responses"] = dict(sorted(responses.items()))


def _doc(spec: FunctionSpec) -> tuple[str, str]:
    """The handler docstring's first line (summary) and the rest (description)."""
    doc = inspect.getdoc(spec.handler) or ""
    summary, _, rest = doc.partition("\n")
    return summary.strip(), rest.strip()


def _path_parameters(template: str) -> list[dict[str, Any]]:
    parameters = []
    for found in _PARAM.finditer(template):
        name, greedy = found.group(1), bool(found.group(2))
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": (
                    "The rest of the path: one or more segments, slashes included (a greedy "
                    f"`{{{name}+}}` route parameter)."
                    if greedy
                    else "One path segment."
                ),
                "schema": {"type": "string", "minLength": 1} if greedy else {"type": "string", "pattern": "^[^/]+$"},
            }
        )
    return parameters


def _request_body(bodies: Bodies, schema: dict[str, Any] | None) -> dict[str, Any]:
    body = bodies.request
    assert body is not None
    content: dict[str, Any] = {body.media: _media(body, schema)}
    if bodies.event:  # binary mode above (data as the body, attributes as ce- headers), structured here
        structured: dict[str, Any] = {"$ref": _SCHEMAS + _CE}
        if schema is not None:
            structured = {"allOf": [structured, {"properties": {"data": schema}}]}
        content["application/cloudevents+json"] = {"schema": structured}
    description = (
        "A CloudEvent: in binary mode the body is its data and the ce- headers its attributes; "
        "in structured mode the body is the whole event."
        if bodies.event
        else "The request body."
    )
    return {"required": True, "description": description, "content": content}


def _media(body: Body, schema: dict[str, Any] | None) -> dict[str, Any]:
    """A Media Type object: the JSON Schema of a JSON body, a string for text, nothing for bytes or any."""
    if schema is not None:
        return {"schema": schema}
    return {"schema": {"type": "string"}} if body.media == "text/plain" else {}


def _responses(name: str, bodies: Bodies, schemas: dict[Key, dict[str, Any]], refuses_methods: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, body in bodies.responses.items():
        text = f"{HTTPStatus(status).phrase}." if status in _KNOWN_STATUSES else f"HTTP {status}."
        if body is not None and body.type is None:
            text += " The function declares no body: see `http(..., response=...)`."
        response: dict[str, Any] = {"description": text}
        if body is not None:
            schema = schemas.get((name, status))
            response["content"] = {body.media: _media(body, schema)}
        responses[str(status)] = response
    for code, ref in _RUNTIME_ERRORS.items():
        if code != "405" or refuses_methods:
            responses.setdefault(code, {"$ref": ref})
    return responses


_KNOWN_STATUSES = frozenset(HTTPStatus)

# The answers the runtime gives without the handler's say: bad input, a path or method no route
# serves, and a handler that raised.
_RUNTIME_ERRORS = {
    "400": "#/components/responses/BadRequest",
    "404": "#/components/responses/NotRouted",
    "405": "#/components/responses/MethodNotAllowed",
    "500": "#/components/responses/InternalError",
}


def _ce_header(attribute: str, description: str) -> dict[str, Any]:
    return {
        "name": f"ce-{attribute}",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": f"{description} Binary mode: required; structured mode: in the body instead.",
    }


_CE_HEADERS = [
    _ce_header("specversion", "The CloudEvents version, `1.0`."),
    _ce_header("id", "The event id."),
    _ce_header("source", "Where the event comes from (a URI reference)."),
    _ce_header("type", "The event type."),
]


# -- document parts -----------------------------------------------------------------------------------


def _info(app: App) -> dict[str, Any]:
    """Title (the app's name), version and description (from the app's pyproject [project], if any)."""
    try:
        project = tomllib.loads((app.root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, ValueError):  # loaded apps have a readable pyproject; be lenient all the same
        project = {}
    info: dict[str, Any] = {"title": app.name, "version": str(project.get("version") or "unversioned")}
    if project.get("description"):
        info["description"] = str(project["description"])
    return info


def _components(
    definitions: dict[str, Any], specs: list[FunctionSpec], schemes: dict[tuple[str, ...], Scheme]
) -> dict[str, Any]:
    components: dict[str, Any] = {
        "schemas": {**definitions, **_RUNTIME_SCHEMAS},
        "responses": _RUNTIME_RESPONSES,
    }
    declared = dict(schemes.values())
    if any(not _route(s).public and _auth_key(_route(s).auth) is None for s in specs):
        declared[CLOUD_AUTH] = _CLOUD_AUTH
    if declared:
        components["securitySchemes"] = dict(sorted(declared.items()))
    return components


def _error(description: str, **more: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "description": description,
        "properties": {"error": {"type": "string", "description": "What went wrong."}, **more},
    }


_RUNTIME_SCHEMAS: dict[str, Any] = {
    "portable_fn.Error": _error(
        "A request the runtime refused.",
        attribute={"type": "string", "description": "The CloudEvent attribute at fault, if any."},
    ),
    "portable_fn.NotRouted": _error(
        "No route serves the path.",
        routes={"type": "array", "items": {"type": "string"}, "description": "'METHOD /path' of each route."},
    ),
    "portable_fn.MethodNotAllowed": _error(
        "The path is served, for other methods.",
        allowed={"type": "array", "items": {"type": "string"}, "description": "The methods the path serves."},
    ),
    "portable_fn.Refusal": _error(
        "A caller the function refused: not verified (401), not allowed (403), or over its rate limit (429).",
        reason={"type": "string", "description": "Why, in words (never the token or key)."},
    ),
    "portable_fn.InternalError": _error(
        "The function raised; the function's log holds the traceback.",
        function={"type": "string", "description": "The function that raised."},
    ),
    _CE: {
        "type": "object",
        "description": "A CloudEvent in the JSON event format (CloudEvents 1.0).",
        "required": ["specversion", "id", "source", "type"],
        "properties": {
            "specversion": {"type": "string", "const": "1.0"},
            "id": {"type": "string", "minLength": 1},
            "source": {"type": "string", "minLength": 1, "format": "uri-reference"},
            "type": {"type": "string", "minLength": 1},
            "datacontenttype": {"type": "string"},
            "dataschema": {"type": "string", "format": "uri"},
            "subject": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "data": {},
            "data_base64": {"type": "string", "contentEncoding": "base64"},
        },
    },
}


def _json_response(description: str, schema: str, **more: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": _SCHEMAS + schema}}}, **more}


_RUNTIME_RESPONSES: dict[str, Any] = {
    "BadRequest": _json_response(
        "The request is not valid (malformed JSON, a body that does not fit the model, a bad CloudEvent).",
        "portable_fn.Error",
    ),
    "NotRouted": _json_response(
        "No function serves this path; `routes` lists the routes there are.", "portable_fn.NotRouted"
    ),
    "MethodNotAllowed": _json_response(
        "The path is served, but not for this method; `allowed` and the Allow header name the methods.",
        "portable_fn.MethodNotAllowed",
        headers={"Allow": {"description": "The methods the path serves.", "schema": {"type": "string"}}},
    ),
    "InternalError": _json_response("The function raised.", "portable_fn.InternalError"),
    "Unauthorized": _json_response(
        "No credential, or one that does not verify (malformed, badly signed, expired, another issuer or "
        "audience, an unknown key).",
        "portable_fn.Refusal",
        headers={"WWW-Authenticate": {"description": "The scheme and the error.", "schema": {"type": "string"}}},
    ),
    "Forbidden": _json_response(
        "A verified caller without what the route needs (a scope, the tenant claim).", "portable_fn.Refusal"
    ),
    "TooManyRequests": _json_response(
        "The caller (its tenant, key, subject or address) is over the route's rate limit.",
        "portable_fn.Refusal",
        headers={"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    ),
}

_CLOUD_AUTH = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "The cloud's own authentication, required by private functions (public=False): an "
        "identity token (`Authorization: Bearer ...`) on Google Cloud, an IAM (SigV4) signed "
        "request on AWS, a function key (`x-functions-key` header) on Azure."
    ),
}

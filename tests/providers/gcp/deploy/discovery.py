"""Requests and answers held to Google's Discovery documents (the excerpts in tests/data/gcp/discovery/).

`Discovery.request` finds the method a request is for (its HTTP method and path against each method's
path template, each path parameter matching its pattern), checks its query parameters against the
method's (and the document's standard ones), the required ones present, and its body against the
method's request schema: every property a field of the schema, every value of the schema's type and
format, enum values among the schema's enum, and the properties whose description says "Required."
present (on a PATCH only at the request's top level: an update sets only the fields its mask names). The
clients send enums by number (`$alt=json;enum-encoding=int`); a number is read as the value at that
position, which is the proto number for every enum deploy sends (test_discovery checks it against the
clients' protos). A request that strays is refused with a `Refused` naming the schema and field in the
document's words. `Discovery.answer` checks what a fake answers against the method's response schema
the same way and lists the problems.

What the documents do not say (value ranges, formats described only in prose, which fields an update
may name) stays with the fake. `DiscoveryFake` is what every such fake of one or two APIs shares: answering a
request held to its documents (a method of the fake per method id), serving over HTTP on 127.0.0.1, and
the IAM policy methods.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

FOLDER = Path(__file__).resolve().parents[3] / "data" / "gcp" / "discovery"
DOCUMENTS = (
    "cloudfunctions.v2",
    "pubsub.v1",
    "cloudscheduler.v1",
    "run.v2",
    "cloudresourcemanager.v3",
    "eventarc.v1",
    "storage.v1",
    "firestore.v1",
)
REQUIRED = re.compile(r"\s*(Required|REQUIRED)\b")
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
DURATION = re.compile(r"-?\d+(\.\d{1,9})?s")
INTEGER = re.compile(r"-?\d+")


class Refused(Exception):
    """A request the document does not allow: a 400 INVALID_ARGUMENT with this message."""


@dataclass(frozen=True)
class Served:
    """The method a request was matched to, in its document."""

    document: dict[str, Any]
    method: dict[str, Any]
    params: dict[str, str]

    @property
    def id(self) -> str:
        return str(self.method["id"])


class Discovery:
    """The documents, loaded once; `request` and `answer` hold traffic to them."""

    def __init__(self, names: tuple[str, ...] = DOCUMENTS) -> None:
        self.documents = [json.loads((FOLDER / f"{n}.json").read_text(encoding="utf-8")) for n in names]
        found = [(d, m, template(d, m)) for d in self.documents for m in all_methods(d["resources"])]
        # The most literal template first: `v1/{+resource}:getIamPolicy` before `v1/{+name}`.
        self.methods = sorted(found, key=lambda f: -len(re.sub(r"\{[^}]*\}", "", f[1]["path"])))

    def find(self, http_method: str, path: str) -> Served | None:
        """The method of that HTTP method whose path template `path` fits, each path parameter matching its
        pattern (as Google routes: anything else is a 404)."""
        for document, method, pattern in self.methods:
            found = pattern.fullmatch(path.lstrip("/"))
            if (
                method["httpMethod"] == http_method
                and found
                and all(
                    re.search(method["parameters"][k].get("pattern") or "", v) for k, v in found.groupdict().items()
                )
            ):
                return Served(document, method, found.groupdict())
        return None

    def request(self, http_method: str, path: str, query: dict[str, str], body: Any) -> tuple[Served | None, Any]:
        """The method `path` is for (None when no document has one), once the request is found to conform, and
        its body with enum values by name."""
        served = self.find(http_method, path)
        if served is None:
            return None, body
        check_params(served, query)
        schema = served.method.get("request")
        if schema is None:
            if body not in (None, {}):
                raise Refused(f"{served.id} takes no request body (its Discovery document names none)")
        else:
            problems = Checker(served.document, True, http_method == "PATCH", set(served.params)).check(
                body if body is not None else {}, schema, schema["$ref"]
            )
            if problems:
                raise Refused(f"Invalid JSON payload received. {problems[0]}")
            return served, named(body, schema, served.document["schemas"])
        return served, body

    def fields(self, api: str, ref: str, depth: int = 4) -> dict[str, Any]:
        """Schema `ref` of document `api` ("cloudfunctions") as nested property names, a leaf None (a map, a
        list or a scalar ends an update mask's path)."""
        document = next(d for d in self.documents if d["name"] == api)
        return fields_of(document["schemas"], {"$ref": ref}, depth) or {}

    def answer(self, served: Served, answer: Any) -> list[str]:
        """Where an answer strays from the method's response schema (empty when it conforms)."""
        schema = served.method.get("response")
        if schema is None:
            return [] if answer in (None, {}) else [f"{served.id} answers no body, got {json.dumps(answer)[:80]}"]
        return Checker(served.document, request=False).check(answer, schema, schema["$ref"])


def named(value: Any, schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    """`value` (conforming to `schema`) with enum values sent by number given by name."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    if isinstance(value, dict):
        properties, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        return {k: named(v, properties.get(k) or extra or {}, schemas) for k, v in value.items()}
    if isinstance(value, list):
        return [named(v, schema.get("items") or {}, schemas) for v in value]
    if "enum" in schema and isinstance(value, int):
        return schema["enum"][value]
    return value


def fields_of(schemas: dict[str, Any], schema: dict[str, Any], depth: int) -> dict[str, Any] | None:
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    if depth == 0 or "properties" not in schema:
        return None
    return {k: fields_of(schemas, v, depth - 1) for k, v in schema["properties"].items()}


def all_methods(resources: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in resources.values():
        found += list(resource.get("methods", {}).values()) + all_methods(resource.get("resources", {}))
    return found


def template(document: dict[str, Any], method: dict[str, Any]) -> re.Pattern[str]:
    """The method's `path` as a pattern: `{+name}` may hold slashes, `{name}` may not (RFC 6570)."""
    out, rest = "", document.get("servicePath", "") + method["path"]
    for literal, plus, name in re.findall(r"([^{]*)\{(\+?)([^}]+)\}", rest):
        out += re.escape(literal) + (f"(?P<{name}>.+)" if plus else f"(?P<{name}>[^/]+)")
        rest = rest[len(literal) + len(plus) + len(name) + 2 :]
    return re.compile(out + re.escape(rest))


def label(document: dict[str, Any]) -> str:
    return f"{document['name']} {document['version']} Discovery document (revision {document['revision']})"


def check_params(served: Served, query: dict[str, str]) -> None:
    """Query parameters are the method's or the document's standard ones (the clients prefix those with `$`),
    of their types and enums; required ones are given."""
    params, standard = served.method.get("parameters", {}), served.document.get("parameters", {})
    for name, value in query.items():
        spec = params.get(name) or standard.get(name) or standard.get(name.lstrip("$"))
        if spec is None or spec.get("location") == "path":
            raise Refused(f"Unknown query parameter '{name}' for {served.id} (the {label(served.document)})")
        if name in params:
            problem = scalar_problem(value, spec, name, served.document, from_query=True)
            if problem:
                raise Refused(problem)
    missing = [n for n, p in params.items() if p.get("required") and n not in served.params and n not in query]
    if missing:
        raise Refused(f"{served.id} requires the parameter {', '.join(missing)} (the {label(served.document)})")


class Checker:
    """A JSON value against a Discovery schema; `check` returns the problems, first found first."""

    def __init__(
        self, document: dict[str, Any], request: bool, partial: bool = False, from_path: set[str] | None = None
    ) -> None:
        self.from_path = from_path or set()  # the request's fields its path carries (as `{+name}`)
        self.document = document
        self.schemas = document["schemas"]
        self.request = request
        self.partial = partial

    def check(self, value: Any, schema: dict[str, Any], where: str, depth: int = 0) -> list[str]:
        if "$ref" in schema:
            return self.message(value, self.schemas[schema["$ref"]], where, depth)
        kind = schema.get("type")
        if kind == "object":
            return self.message(value, schema, where, depth)
        if kind == "array":
            if not isinstance(value, list):
                return [f"Invalid value at {where}: the document's type is array, got {json.dumps(value)[:80]}"]
            return [
                p for i, item in enumerate(value) for p in self.check(item, schema["items"], f"{where}[{i}]", depth + 1)
            ]
        problem = scalar_problem(value, schema, where, self.document, enum_numbers=self.request)
        return [problem] if problem else []

    def message(self, value: Any, schema: dict[str, Any], where: str, depth: int) -> list[str]:
        if not isinstance(value, dict):
            return [f"Invalid value at {where}: the document's type is object, got {json.dumps(value)[:80]}"]
        properties, extra = schema.get("properties"), schema.get("additionalProperties")
        if properties is None and extra is not None:  # a map; on a PATCH, null deletes a key (Cloud Storage's labels)
            found = {key: item for key, item in value.items() if not (self.partial and item is None)}
            return [p for key, item in found.items() for p in self.check(item, extra, f"{where}[{key!r}]", depth + 1)]
        properties = properties or {}
        problems = [
            f"Unknown name \"{key}\" at '{where}': Cannot find field. {schema.get('id', 'The object')} has "
            f"no property '{key}' in the {label(self.document)}"
            for key in value
            if key not in properties
        ]
        if self.request and not (self.partial and depth > 0):
            problems += [
                f"Missing field '{key}' in {where}: the {label(self.document)} says of "
                f'{schema.get("id")}.{key} "{field["description"][:60]}..."'
                for key, field in properties.items()
                if key not in value
                and REQUIRED.match(field.get("description", ""))
                and not (depth == 0 and key in self.from_path)
            ]
        for key, item in value.items():
            if key in properties:
                problems += self.check(item, properties[key], f"{where}.{key}", depth + 1)
        return problems


def scalar_problem(
    value: Any,
    schema: dict[str, Any],
    where: str,
    document: dict[str, Any],
    enum_numbers: bool = True,
    from_query: bool = False,
) -> str | None:
    """What is wrong with a string, number or boolean for `schema` (None when nothing is)."""
    kind, form = schema.get("type"), schema.get("format", "")
    said = f"the document's type is {kind}{f' ({form})' if form else ''}, got {json.dumps(value)[:80]}"
    if kind == "any":
        return None
    if from_query and kind in ("integer", "boolean"):  # a query string carries every value as text
        ok = INTEGER.fullmatch(value) if kind == "integer" else value in ("true", "false")
        return None if ok else f"Invalid value at {where}: {said}"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"Invalid value at {where}: {said}"
    if kind in ("integer", "number"):  # proto3 JSON: 64-bit and any number may come as a string
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            isinstance(value, str) and (INTEGER.fullmatch(value) or kind == "number")
        )
        return None if ok else f"Invalid value at {where}: {said}"
    if "enum" in schema:
        names = schema["enum"]
        if value in names or (enum_numbers and isinstance(value, int) and 0 <= value < len(names)):
            return None
        return f"Invalid value at {where} ({json.dumps(value)}): the {label(document)} allows one of {', '.join(names)}"
    if not isinstance(value, str):
        return f"Invalid value at {where}: {said}"
    if form == "byte" and not is_base64(value):
        return f"Invalid value at {where}: {said}, not base64"
    if form in ("google-datetime", "date-time") and not DATETIME.fullmatch(value):
        return f"Invalid value at {where}: {said}, not an RFC 3339 time"
    if form == "google-duration" and not DURATION.fullmatch(value):
        return f'Invalid value at {where}: {said}, not a duration like "3.5s"'
    return None


def is_base64(text: str) -> bool:
    try:
        base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


class ApiError(Exception):
    """An error answer of a Google API: its HTTP code, its status name and message."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status = code, status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": str(self), "status": self.status}}


class DiscoveryFake:
    """A fake of the methods of `DOCUMENTS`: `handle` answers one request; as a context manager it also serves
    them over HTTP, `url` its endpoint (a client's `api_endpoint`). The recording endpoint of the deploy tests
    (google_api.py) hands it the requests `handles` claims. A subclass says which of its methods answers a
    method id (`method_name`); that method takes (the request's name, parent or resource; its body; its query).
    `requests` holds (method id, body) of each request served, `answer_problems` each way an answer strayed
    from the method's response schema, `policies` each resource's IAM policy."""

    DOCUMENTS: ClassVar[Discovery]

    def __init__(self) -> None:
        self.policies: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, Any]] = []
        self.answer_problems: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def __enter__(self) -> Any:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def method_name(self, served: Served) -> str:
        raise NotImplementedError

    @classmethod
    def handles(cls, http_method: str, path: str) -> bool:
        """Whether a request is for a method of the documents."""
        return cls.DOCUMENTS.find(http_method, path) is not None

    def handle(self, http_method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        """The status and JSON answer to one request."""
        with self._lock:
            try:
                return 200, self.serve(http_method, path, query, body)
            except Refused as exc:
                return 400, ApiError(400, "INVALID_ARGUMENT", str(exc)).body()
            except ApiError as exc:
                return exc.code, exc.body()

    def serve(self, http_method: str, path: str, query: dict[str, str], body: Any) -> Any:
        served, body = self.DOCUMENTS.request(http_method, path, query, body)
        if served is None:
            raise ApiError(404, "NOT_FOUND", f"{http_method} {path}: no such method")
        self.requests.append((served.id, body))
        where = served.params.get("name") or served.params.get("parent") or served.params.get("resource", "")
        answer = getattr(self, self.method_name(served))(where, body or {}, query)
        self.answer_problems += self.DOCUMENTS.answer(served, answer)
        return answer

    def members(self, resource: str, role: str) -> list[str]:
        """Who holds `role` on `resource` (as the subclass keys its policies)."""
        bindings = self.policies.get(resource, {}).get("bindings", [])
        return sorted(m for b in bindings if b["role"] == role for m in b["members"])

    def iam_policy(self, resource: str) -> dict[str, Any]:
        """getIamPolicy's answer for `resource`: its bindings (none at first) and an etag of them."""
        policy = self.policies.setdefault(resource, {"bindings": []})
        etag = base64.b64encode(hashlib.sha256(json.dumps(policy, sort_keys=True).encode()).digest()[:8]).decode()
        return {"version": 1, "etag": etag, **({"bindings": policy["bindings"]} if policy["bindings"] else {})}

    def set_iam_policy(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        """setIamPolicy: the policy given, set only with the etag last read and bindings of a role and members."""
        current = self.iam_policy(resource)
        policy = body.get("policy", {})
        if policy.get("etag") not in (None, current["etag"]):
            raise ApiError(409, "ABORTED", "There were concurrent policy changes (the etag does not match)")
        for binding in policy.get("bindings", []):
            if not binding.get("role", "").startswith("roles/") or not binding.get("members"):
                raise ApiError(400, "INVALID_ARGUMENT", f"Invalid binding {binding}")
        self.policies[resource] = {"bindings": policy.get("bindings", [])}
        return self.iam_policy(resource)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later
            protocol_version = "HTTP/1.1"  # kept-alive connections: one thread each, not one per request

            def _any(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw else None
                status, answer = api.handle(self.command, urllib.parse.unquote(parts.path), query, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PATCH = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

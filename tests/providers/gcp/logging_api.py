"""A stand-in for Cloud Logging's `entries.list` on 127.0.0.1, holding to the method's Discovery document.

The published description (tests/data/gcp/discovery/logging-entries-list.json, an excerpt of logging v2)
decides what a request may hold: the method's HTTP method and path, the fields of ListLogEntriesRequest
with their types (an unknown one is a 400 INVALID_ARGUMENT "Unknown name", as Google answers),
`resourceNames` required, `orderBy` one of the two values its description permits, a negative `pageSize`
refused and a `pageToken` only as the previous answer gave it, for the same request. The entries it is
given are checked against the LogEntry schema before they are served, so the fake never answers with a
field the API does not have.

The filter is evaluated for the subset of the Logging query language the clients here send: comparisons
`field=value`, `field>=value` (and `>`, `<`, `<=`) on dotted fields, joined by AND, with parenthesised OR
groups; anything else is a 400 "Unparseable filter". Entries come back sorted by timestamp, then insertId,
`page_limit` at most per page (small, so clients really follow `nextPageToken`). `arrive_after(n, entry)`
adds an entry once n requests were answered, as a function writing while someone follows its logs.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from portable_fn.runtime.cloudevent import parse_rfc3339

DISCOVERY = Path(__file__).resolve().parents[2] / "data" / "gcp" / "discovery" / "logging-entries-list.json"
CLAUSE = re.compile(r'(?P<field>[A-Za-z_][\w.]*)\s*(?P<op>>=|<=|=|>|<)\s*(?P<value>"(?:[^"\\]|\\.)*")')
OPS = {
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}


class BadRequest(Exception):
    """A 400 INVALID_ARGUMENT with Google's message."""


class LoggingApi:
    """The fake server; `url` is its endpoint, `requests` every body it was sent."""

    def __init__(self, page_limit: int = 3) -> None:
        self.document = json.loads(DISCOVERY.read_text(encoding="utf-8"))
        self.method = self.document["resources"]["entries"]["methods"]["list"]
        self.page_limit = page_limit
        self.entries: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._later: list[tuple[int, dict[str, Any]]] = []
        self._tokens: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> LoggingApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what tests set up ----------------------------------------------------------------------------
    def add(self, *entries: dict[str, Any]) -> None:
        for entry in entries:
            self._check_entry(entry)
            self.entries.append(entry)

    def arrive_after(self, requests: int, entry: dict[str, Any]) -> None:
        self._check_entry(entry)
        self._later.append((requests, entry))

    def _check_entry(self, entry: dict[str, Any]) -> None:
        known = self.document["schemas"]["LogEntry"]["properties"]
        unknown = sorted(set(entry) - set(known))
        assert not unknown, f"LogEntry has no field {unknown}"
        assert set(entry.get("resource", {})) <= set(self.document["schemas"]["MonitoredResource"]["properties"])
        severities = known["severity"]["enum"]
        assert entry.get("severity", "DEFAULT") in severities
        parse_rfc3339(entry["timestamp"])

    # -- the method ---------------------------------------------------------------------------------------
    def answer(self, method: str, path: str, body: Any) -> dict[str, Any]:
        if method != self.method["httpMethod"] or path.lstrip("/") != self.method["path"]:
            raise BadRequest(f"{method} /{path.lstrip('/')} is not {self.method['id']}")
        request = self._checked(body)
        matching = sorted(
            (e for e in self.entries if self._matches(e, request.get("filter", ""))),
            key=lambda e: (parse_rfc3339(e["timestamp"]), e.get("insertId", "")),
            reverse=request.get("orderBy") == "timestamp desc",
        )
        start = self._start(request)
        size = min(request.get("pageSize") or 50, self.page_limit)
        page: dict[str, Any] = {"entries": matching[start : start + size]} if matching[start : start + size] else {}
        if start + size < len(matching):
            token = f"t{len(self._tokens)}"
            self._tokens[token] = (self._same(request), start + size)
            page["nextPageToken"] = token
        return page

    def _checked(self, body: Any) -> dict[str, Any]:
        schema = self.document["schemas"][self.method["request"]["$ref"]]["properties"]
        if not isinstance(body, dict):
            raise BadRequest("Invalid JSON payload received. Expected an object.")
        for name, value in body.items():
            if name not in schema:
                raise BadRequest(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
            if not _has_type(value, schema[name]):
                raise BadRequest(f"Invalid value at '{name}' ({schema[name]['type']}), {json.dumps(value)}")
        names = body.get("resourceNames") or body.get("projectIds")
        if not names:
            raise BadRequest("resource_names: at least one resource name is required")
        if not all(
            re.fullmatch(r"(projects|organizations|billingAccounts|folders)/[^/]+(/.*)?", n)
            for n in body.get("resourceNames", [])
        ):
            raise BadRequest(f"Invalid resource name: {body['resourceNames']}")
        if body.get("orderBy", "timestamp asc") not in ("timestamp asc", "timestamp desc"):
            raise BadRequest(f"Invalid orderBy: {body['orderBy']}")  # (the only two its description permits)
        if body.get("pageSize", 0) < 0:
            raise BadRequest("page_size must not be negative")
        if len(body.get("filter", "")) > 20000:
            raise BadRequest("filter is longer than 20,000 characters")
        return body

    def _start(self, request: dict[str, Any]) -> int:
        token = request.get("pageToken")
        if token is None:
            return 0
        if token not in self._tokens or self._tokens[token][0] != self._same(request):
            raise BadRequest("page_token does not match the previous request's parameters")
        return self._tokens[token][1]

    @staticmethod
    def _same(request: dict[str, Any]) -> str:
        return json.dumps({k: v for k, v in request.items() if k != "pageToken"}, sort_keys=True)

    def _matches(self, entry: dict[str, Any], text: str) -> bool:
        return all(self._any(entry, group) for group in _and_groups(text))

    def _any(self, entry: dict[str, Any], group: str) -> bool:
        options = [o.strip() for o in group.split(" OR ")]
        clauses = [CLAUSE.fullmatch(o) for o in options]
        if not all(clauses):
            raise BadRequest(f"Unparseable filter: {group}")
        return any(_compare(entry, c) for c in clauses if c)

    # -- HTTP ------------------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with api._lock:
                    api.headers.append(dict(self.headers))
                    try:
                        body = json.loads(raw or b"null")
                        api.requests.append(body)
                        status, answer = 200, api.answer("POST", self.path, body)
                    except (BadRequest, ValueError) as exc:
                        status, answer = (
                            400,
                            {"error": {"code": 400, "message": str(exc), "status": "INVALID_ARGUMENT"}},
                        )
                    arrived = [(n, e) for n, e in api._later if n <= len(api.requests)]
                    api._later = [(n, e) for n, e in api._later if n > len(api.requests)]
                    api.entries.extend(e for _, e in arrived)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _has_type(value: Any, schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list) and all(_has_type(v, schema["items"]) for v in value)
    return True


def _and_groups(text: str) -> list[str]:
    """The AND-joined parts of a filter, each without its parentheses."""
    groups = []
    for part in re.split(r"\s+AND\s+", text.strip()) if text.strip() else []:
        part = part.strip()
        if part.startswith("(") and part.endswith(")"):
            part = part[1:-1]
        groups.append(part)
    return groups


def _compare(entry: dict[str, Any], clause: re.Match[str]) -> bool:
    found: Any = entry
    for key in clause["field"].split("."):
        found = found.get(key) if isinstance(found, dict) else None
    if found is None:
        return False
    wanted: Any = json.loads(clause["value"])
    if clause["field"] == "timestamp":
        found, wanted = parse_rfc3339(found), parse_rfc3339(wanted)
    return bool(OPS[clause["op"]](found, wanted))


def when(moment: datetime) -> str:
    """A timestamp as the API writes one (nanoseconds, Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"

"""A stand-in for the Log Analytics query API on 127.0.0.1, holding to its published OpenAPI description.

The description (tests/data/azure/loganalytics/query-v1.json, an excerpt of azure-rest-api-specs'
OperationalInsights data-plane v1) decides what a request may be: POST `{basePath}/workspaces/{workspaceId}/query`
with a `queryBody` (an object with the string `query` required, `timespan` a string, `workspaces` an array
of strings; a field it does not describe is refused here). Answers have the `queryResults` shape: tables
of named, typed columns whose rows hold every value as a string (or null), as the published example does.
Errors have the `errorResponse` shape.

The query is run over an in-memory `AppTraces` table, for the subset of KQL the reader sends: the table
name, `where TimeGenerated >= datetime(...)`, `where AppRoleName =~ "..." and OperationName in (...)`,
`project` of known columns and `order by TimeGenerated asc|desc`; anything else is a 400 BadArgumentError.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from portable_fn.runtime.cloudevent import parse_rfc3339

DESCRIPTION = Path(__file__).resolve().parents[2] / "data" / "azure" / "loganalytics" / "query-v1.json"
# AppTraces' columns and their Kusto types (Azure Monitor's table reference)
APP_TRACES = {
    "TimeGenerated": "datetime",
    "Message": "string",
    "SeverityLevel": "int",
    "AppRoleName": "string",
    "OperationName": "string",
    "OperationId": "string",
    "Properties": "dynamic",
    "_ItemId": "string",
}
STRING = r'"(?:[^"\\]|\\.)*"'
Rows = list[dict[str, Any]]


class BadQuery(Exception):
    """A 400 with the errorResponse shape."""


class LogAnalyticsApi:
    """The fake server; `url` is its endpoint, `requests` every (path, body, headers) it was sent."""

    def __init__(self) -> None:
        self.description = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
        self.rows: list[dict[str, Any]] = []
        self.requests: list[tuple[str, Any, dict[str, str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> LogAnalyticsApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *rows: dict[str, Any]) -> None:
        for row in rows:
            unknown = sorted(set(row) - set(APP_TRACES))
            assert not unknown, f"AppTraces has no column {unknown}"
            self.rows.append(row)

    # -- the operation ------------------------------------------------------------------------------------
    def answer(self, path: str, body: Any) -> dict[str, Any]:
        workspace = self._workspace(path)
        self._check_body(body)
        if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", workspace):
            raise LookupError(f"Workspace {workspace} not found")
        return self._run(body["query"])

    def _workspace(self, path: str) -> str:
        template = self.description["basePath"] + next(iter(self.description["paths"]))
        pattern = re.escape(template).replace(re.escape("{workspaceId}"), "(?P<workspace>[^/]+)")
        found = re.fullmatch(pattern, path.split("?", 1)[0])
        if not found:
            raise LookupError(f"No operation at {path} (the description has {template})")
        return found["workspace"]

    def _check_body(self, body: Any) -> None:
        schema = self.description["definitions"]["queryBody"]
        if not isinstance(body, dict):
            raise BadQuery("The request body must be a queryBody object.")
        for name in schema["required"]:
            if name not in body:
                raise BadQuery(f"The request body lacks the required property {name!r}.")
        for name, value in body.items():
            if name not in schema["properties"]:
                raise BadQuery(f"The request body has a property the description does not have: {name!r}.")
            kind = self.description["definitions"][schema["properties"][name]["$ref"].rsplit("/", 1)[1]]["type"]
            ok = (
                isinstance(value, str)
                if kind == "string"
                else (isinstance(value, list) and all(isinstance(v, str) for v in value))
            )
            if not ok:
                raise BadQuery(f"Property {name!r} must be of type {kind}.")

    def _run(self, query: str) -> dict[str, Any]:
        steps = [s.strip() for s in query.split("|")]
        if steps[0] != "AppTraces":
            raise BadQuery(f"'{steps[0]}' is not a table this workspace has.")
        rows, columns = list(self.rows), list(APP_TRACES)
        for step in steps[1:]:
            rows, columns = self._step(step, rows, columns)
        return {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": c, "type": APP_TRACES[c]} for c in columns],
                    "rows": [[_cell(r.get(c)) for c in columns] for r in rows],
                }
            ]
        }

    def _step(self, step: str, rows: Rows, columns: list[str]) -> tuple[Rows, list[str]]:
        if since := re.fullmatch(r"where TimeGenerated >= datetime\(([^)]+)\)", step):
            start = parse_rfc3339(since[1])
            return [r for r in rows if parse_rfc3339(r["TimeGenerated"]) >= start], columns
        if scope := re.fullmatch(
            rf"where AppRoleName =~ ({STRING}) and OperationName in \(({STRING}(?:, {STRING})*)\)", step
        ):
            role, names = json.loads(scope[1]).lower(), json.loads(f"[{scope[2]}]")
            return [
                r for r in rows if str(r.get("AppRoleName", "")).lower() == role and r.get("OperationName") in names
            ], columns
        if projected := re.fullmatch(r"project (.+)", step):
            chosen = [c.strip() for c in projected[1].split(",")]
            if unknown := [c for c in chosen if c not in APP_TRACES]:
                raise BadQuery(f"'project' operator: Failed to resolve scalar expression named '{unknown[0]}'")
            return rows, chosen
        if order := re.fullmatch(r"order by TimeGenerated (asc|desc)", step):
            return sorted(rows, key=lambda r: parse_rfc3339(r["TimeGenerated"]), reverse=order[1] == "desc"), columns
        raise BadQuery(f"Query could not be parsed at '{step}'")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"null")
                    api.requests.append((self.path, body, dict(self.headers)))
                    status, answer = 200, api.answer(self.path, body)
                except (BadQuery, ValueError) as exc:
                    status, answer = 400, {"error": {"code": "BadArgumentError", "message": str(exc)}}
                except LookupError as exc:
                    status, answer = 404, {"error": {"code": "WorkspaceNotFoundError", "message": str(exc)}}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _cell(value: Any) -> str | None:
    """A value as the API's rows hold it: a string (dynamic values as their JSON), or null."""
    if value is None:
        return None
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)

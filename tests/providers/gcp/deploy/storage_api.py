"""A Cloud Storage JSON API stand-in on 127.0.0.1 for the audit store: buckets (insert, get, list, patch) and objects
(multipart or media upload, list, get, media download, delete: how `remove --delete-data` empties a bucket), in
memory.

Every request is held to the Storage Discovery document excerpt tests/data/gcp/discovery/storage-audit.v1.json
the way google_api.py holds its APIs (`discovery.py`: the method, its query parameters, the request body
against its schema; an upload's metadata part against `Object`), and every JSON answer to the method's
response schema (a stray is a 500 listed in `answer_problems`). An upload's and a download's path carry
`/upload` and `/download` before the method's path, as Google's do. What the tests are about is done as
Cloud Storage does it (https://cloud.google.com/storage/docs/request-preconditions, read 2026-12-06): an
insert with `ifGenerationMatch=0` onto an existing object is a 412 conditionNotMet, and each write of an
object gives it a new generation. gcp-storage-emulator (2026.7.19) overwrites in that case and drops a new
bucket's labels, so these tests do not use it.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any


def _discovery() -> ModuleType:
    """discovery.py beside this file (tests run with --import-mode=importlib: no sys.path entry here)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "portable_fn_tests_discovery", Path(__file__).with_name("discovery.py")
    )
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "Discovery"):
        spec.loader.exec_module(module)
    return module


discovery = _discovery()
DOCUMENT = "storage-audit.v1"
PROJECT_NUMBER = "123456789"
# a bucket name Cloud Storage refuses: one beginning with "goog", or holding "google" or a close misspelling
# (https://cloud.google.com/storage/docs/buckets#naming, read 2026-12-06)
GOOGLE_LIKE = re.compile(r"goog|.*g[o0]{2}gl[e3]")
Answer = tuple[int, str, bytes]


class StorageError(Exception):
    def __init__(self, code: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason

    def answer(self) -> Answer:
        body = {"error": {"code": self.code, "message": self.message, "errors": [{"reason": self.reason}]}}
        return self.code, "application/json", json.dumps(body).encode()


class StorageApi:
    """The buckets and objects, and every request as (method, path, query)."""

    def __init__(self) -> None:
        self.discovery = discovery.Discovery((DOCUMENT,))
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.buckets: dict[str, dict[str, Any]] = {}
        self.objects: dict[tuple[str, str], tuple[dict[str, Any], bytes]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.answer_problems: list[str] = []
        self._generations = itertools.count(1_700_000_000_000_001)

    def handle(self, method: str, path: str, query: dict[str, str], content_type: str, raw: bytes) -> Answer:
        with self.lock:
            self.requests.append((method, path, query))
            try:
                return self.route(method, path, query, content_type, raw)
            except discovery.Refused as exc:
                return StorageError(400, str(exc), "invalid").answer()
            except StorageError as exc:
                return exc.answer()

    def route(self, method: str, path: str, query: dict[str, str], content_type: str, raw: bytes) -> Answer:
        media = path.startswith(("/upload/", "/download/")) or query.get("alt") == "media"
        api_path = path.removeprefix("/upload").removeprefix("/download")
        body, data = (None, b"") if method == "GET" else self.split(query, content_type, raw)
        served, body = self.discovery.request(method, api_path, query, body)
        if served is None:
            raise StorageError(404, f"No route for {method} {path}", "notFound")
        params = {k: urllib.parse.unquote(v) for k, v in served.params.items()}  # an object's name holds '/'
        answer = getattr(self, served.id.split(".", 1)[1].replace(".", "_"))(params, query, body, data)
        if media and method == "GET":
            return 200, "application/octet-stream", answer
        problems = self.discovery.answer(served, answer)
        if problems:
            self.answer_problems += [f"{served.id}: {p}" for p in problems]
            raise StorageError(500, f"The fake's answer to {served.id} strays: {problems[0]}", "backendError")
        return 200, "application/json", json.dumps(answer).encode()

    @staticmethod
    def split(query: dict[str, str], content_type: str, raw: bytes) -> tuple[Any, bytes]:
        """The JSON body, or an upload's metadata and media (multipart/related: metadata first)."""
        if query.get("uploadType") == "multipart":
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw
            )
            metadata, media = list(message.iter_parts())
            body = json.loads(metadata.get_content())
            # the metadata's contentType, else the media part's (as Cloud Storage takes it)
            return {"contentType": media.get_content_type(), **body}, bytes(media.get_payload(decode=True) or b"")
        if query.get("uploadType") == "media":
            return {}, raw
        return (json.loads(raw) if raw else None), b""

    # -- buckets -----------------------------------------------------------------------------------
    def buckets_insert(self, params: dict[str, str], query: dict[str, str], body: Any, data: bytes) -> Any:
        name = body["name"]
        if GOOGLE_LIKE.match(name):
            raise StorageError(400, f"Invalid bucket name: '{name}'", "invalid")
        if name in self.buckets:
            raise StorageError(409, "Your previous request to create the named bucket succeeded.", "conflict")
        self.buckets[name] = {
            **body,
            "kind": "storage#bucket",
            "id": name,
            "location": str(body.get("location", "US")).upper(),
            "projectNumber": PROJECT_NUMBER,
            "metageneration": "1",
            "timeCreated": now(),
        }
        return self.buckets[name]

    def buckets_get(self, params: dict[str, str], query: dict[str, str], body: Any, data: bytes) -> Any:
        return self.bucket(params["bucket"])

    def buckets_list(self, params: dict[str, str], query: dict[str, str], body: Any, data: bytes) -> Any:
        return {"kind": "storage#buckets", "items": [b for _, b in sorted(self.buckets.items())]}

    def buckets_patch(self, params: dict[str, str], query: dict[str, str], body: Any, data: bytes) -> Any:
        """A PATCH sets the fields it names; in `labels`, a key set to null is removed."""
        bucket = self.bucket(params["bucket"])
        for key, value in body.items():
            if key == "labels":
                merged = {**bucket.get("labels", {}), **value}
                bucket["labels"] = {k: v for k, v in merged.items() if v is not None}
            else:
                bucket[key] = value
        bucket["metageneration"] = str(int(bucket["metageneration"]) + 1)
        return bucket

    def bucket(self, name: str) -> dict[str, Any]:
        if name not in self.buckets:
            raise StorageError(404, "The specified bucket does not exist.", "notFound")
        return self.buckets[name]

    # -- objects -----------------------------------------------------------------------------------
    def objects_insert(self, params: dict[str, str], query: dict[str, str], body: Any, data: bytes) -> Any:
        bucket, name = params["bucket"], body.get("name") or query.get("name", "")
        self.bucket(bucket)
        found = self.objects.get((bucket, name))
        wanted = query.get("ifGenerationMatch")
        if wanted is not None and wanted != (found[0]["generation"] if found else "0"):
            raise StorageError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")
        generation = str(next(self._generations))
        stored = {
            "kind": "storage#object",
            "id": f"{bucket}/{name}/{generation}",
            "bucket": bucket,
            "name": name,
            "generation": generation,
            "metageneration": "1",
            "contentType": body.get("contentType", "application/octet-stream"),
            "size": str(len(data)),
            "timeCreated": now(),
            "updated": now(),
        }
        self.objects[(bucket, name)] = (stored, data)
        return stored

    def objects_list(self, params: dict[str, str], query: dict[str, str], body: Any, data: bytes) -> Any:
        bucket = params["bucket"]
        self.bucket(bucket)
        prefix = query.get("prefix", "")
        items = [meta for (b, n), (meta, _) in sorted(self.objects.items()) if b == bucket and n.startswith(prefix)]
        start, size = int(query.get("pageToken") or 0), min(int(query.get("maxResults") or 2), 2)
        out: dict[str, Any] = {"kind": "storage#objects", "items": items[start : start + size]}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)  # two a page, so the client's pager really follows it
        return out

    def objects_delete(self, params: dict[str, str], query: dict[str, str], body: Any, data: bytes) -> Any:
        if self.objects.pop((params["bucket"], params["object"]), None) is None:
            raise StorageError(404, "No such object.", "notFound")
        return {}

    def objects_get(self, params: dict[str, str], query: dict[str, str], body: Any, data: bytes) -> Any:
        found = self.objects.get((params["bucket"], params["object"]))
        if found is None:
            raise StorageError(404, "No such object.", "notFound")
        return found[1] if query.get("alt") == "media" else found[0]


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later
    protocol_version = "HTTP/1.1"  # kept-alive connections, as Google's front ends keep them: one thread each
    api: StorageApi

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type", "")
        status, content_type, data = self.api.handle(self.command, url.path, query, content_type, raw)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StorageServer:
    """`StorageApi` served over HTTP on 127.0.0.1 in a thread."""

    def __init__(self, api: StorageApi) -> None:
        self.api = api
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"api": api}))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> StorageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

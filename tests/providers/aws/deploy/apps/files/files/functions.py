"""Declared buckets on AWS: `uploads` written over HTTP and read by its storage trigger's function (one S3
bucket for both), `reports` declared by one function and watched by none, `archive` mapped by the settings to
an existing bucket (granted, never made), a function declaring `uploads` read-only that tries to delete, and
one that declares no bucket."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, StorageObject, bucket, function, http, storage

uploads = bucket("uploads")
reports = bucket("reports")
archive = bucket("archive")


@function(trigger=http("PUT", "/files/{name}"), uses=[uploads.write()])
def upload(request: Request) -> Response:
    key = "in/" + request.path_params["name"]
    uploads.put(key, request.body, content_type=request.headers.get("content-type") or None)
    return Response.json({"stored": key}, status=201)


@function(trigger=http("GET", "/files"), uses=[uploads.read()])
def listing(request: Request) -> Response:
    return Response.json({"keys": uploads.keys(request.query.get("prefix", ""))})


@function(trigger=http("GET", "/files/{folder}/{name}"), uses=[uploads.read()])
def download(request: Request) -> Response:
    body = uploads.get(request.path_params["folder"] + "/" + request.path_params["name"])
    return Response.json({"missing": True}, status=404) if body is None else Response(body=body)


@function(trigger=http("DELETE", "/files/{folder}/{name}"), uses=[uploads.read()])  # read-only: refused
def sneaky_delete(request: Request) -> Response:
    return Response.json({"deleted": uploads.delete(request.path_params["folder"] + "/" + request.path_params["name"])})


@function(trigger=storage(uploads, on="created", prefix="in/"), uses=[uploads.read(), reports.write(), archive.write()])
def summarise(event: CloudEvent[StorageObject]) -> None:
    text = (uploads.get(event.data.key) or b"").decode()
    summary = f"{len(text.split())} words"
    reports.put("words/" + event.data.key.removeprefix("in/"), summary)
    archive.put(event.data.key, text)


@function(trigger=http("GET", "/health"))
def health(request: Request) -> Response:
    return Response.json({"ok": True})

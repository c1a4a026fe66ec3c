"""A test app for declared buckets in `portable-fn dev`: an upload written by an HTTP function fires the
bucket's storage trigger, whose function reads it and writes a summary beside it; a function that only reads
the bucket tries to write it."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, StorageObject, bucket, function, http, storage

uploads = bucket("uploads")


@function(trigger=http("PUT", "/files/{key}"), uses=[uploads.write()])
def upload(request: Request) -> Response:
    uploads.put("in/" + request.path_params["key"], request.body, content_type="text/plain")
    return Response.json({"stored": "in/" + request.path_params["key"]}, status=201)


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


@function(trigger=storage(uploads, on="created", prefix="in/"), uses=[uploads.write()])
def summarise(event: CloudEvent[StorageObject]) -> None:
    text = (uploads.get(event.data.key) or b"").decode()
    uploads.put("out/" + event.data.key.removeprefix("in/"), f"{len(text.split())} words")

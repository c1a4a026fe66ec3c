"""A test app for declared buckets on Azure: `uploads` is watched by a blob trigger whose function writes a
summary into `reports` (a bucket no trigger watches); one function only reads `uploads`, and `ping` declares
nothing."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, StorageObject, bucket, function, http, storage

uploads = bucket("uploads")
reports = bucket("reports")


@function(trigger=storage(uploads, on="created", prefix="in/"), uses=[uploads.read(), reports.write()])
def summarise(event: CloudEvent[StorageObject]) -> None:
    text = (uploads.get(event.data.key) or b"").decode()
    reports.put(event.data.key.removeprefix("in/") + ".txt", f"{len(text.split())} words", content_type="text/plain")


@function(trigger=http("GET", "/uploads"), uses=[uploads.read()])
def listing(request: Request) -> Response:
    return Response.json({"keys": uploads.keys(request.query.get("prefix", ""))})


@function(trigger=http("PUT", "/uploads/{name}"), uses=[uploads.write()])
def upload(request: Request) -> Response:
    uploads.put("in/" + request.path_params["name"], request.body, content_type="text/plain")
    return Response.json({"stored": "in/" + request.path_params["name"]}, status=201)


@function(trigger=http("GET", "/ping"))
def ping(request: Request) -> Response:
    return Response.json({"ok": True})

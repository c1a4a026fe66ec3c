"""A test app for declared buckets on GCP: `uploads` is watched by a storage trigger, written by two functions and
read by one; `reports` has no trigger and is only read; `archive` is a bucket the settings map to an existing one,
written by one function; one function touches no bucket."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, StorageObject, bucket, function, http, storage, topic

uploads = bucket("uploads")
reports = bucket("reports")
archive = bucket("archive")


@function(trigger=http("PUT", "/files/{key}"), uses=[uploads.write()])
def upload(request: Request) -> Response:
    uploads.put("in/" + request.path_params["key"], request.body, content_type="text/plain")
    return Response.json({"stored": "in/" + request.path_params["key"]}, status=201)


@function(trigger=http("GET", "/files"), uses=[uploads.read(), reports.read()])
def listing(request: Request) -> Response:
    return Response.json({"uploads": uploads.keys(), "reports": reports.keys()})


@function(trigger=storage(uploads, on="created", prefix="in/"), uses=[uploads.write(), archive.write()])
def summarise(event: CloudEvent[StorageObject]) -> None:
    text = (uploads.get(event.data.key) or b"").decode()
    uploads.put("out/" + event.data.key.removeprefix("in/"), f"{len(text.split())} words")
    archive.put(event.data.key, text)


@function(trigger=topic("news"))
def notify(event: CloudEvent) -> None:
    """Touches no bucket."""

"""Functions `portable-fn invoke` is tried on: ones that print, log to stdout, raise, answer 4xx, and
storage triggers with filters."""

from __future__ import annotations

import logging
import sys

from portable_fn import CloudEvent, Request, Response, function, http, queue, storage
from portable_fn.runtime.views import StorageObject

print("invoking_app imported")  # module-level output, as apps have
_log = logging.getLogger("invoking_app")
_log.addHandler(logging.StreamHandler(sys.stdout))  # an app that logs to stdout
_log.setLevel(logging.INFO)
_log.propagate = False


@function(trigger=http("POST", "/echo"))
def echo(request: Request) -> Response:
    print("echo was called")
    sys.stdout.write("and wrote to stdout\n")
    return Response.json({"echo": request.text})


@function(trigger=http("GET", "/teapot"))
def teapot(request: Request) -> Response:
    return Response.json({"error": "I am a teapot"}, status=418)


@function(trigger=queue("jobs"))
def work(event: CloudEvent) -> None:
    print("working on", event.id)
    if event.data == "boom":
        raise RuntimeError("boom")


@function(trigger=queue("logged"))
def logged(event: CloudEvent) -> None:
    _log.info("logged %s", event.id)


@function(trigger=storage("uploads", on="created"))
def on_upload(event: CloudEvent[StorageObject]) -> None:
    print("uploaded", event.data.key)


@function(trigger=storage("uploads", on="created", prefix="in/", suffix=".csv"))
def on_csv(event: CloudEvent[StorageObject]) -> None:
    print("csv", event.data.key)


@function(trigger=storage("photos", on="created", suffix=".jpg"))
def on_photo(event: CloudEvent[StorageObject]) -> None:
    print("photo", event.data.key)

"""`portable-fn dead-letters FUNCTION --provider azure --redrive` for a blob function and a timer function:
their letters sent back to the function app's host the way Azure itself delivers to it. Provider side
(standard library HTTP, like `grid_letters.TopicPublisher`); the host name and keys are read from ARM at
redrive time by the provider (`AzureProvider.functions_host`), and never printed or logged: no message here
holds a URL with its `code`.

Where and what, as Microsoft documents it (NOTICE: facts relied on, not copied text):
- https://learn.microsoft.com/en-us/azure/azure-functions/functions-bindings-storage-blob-trigger and
  https://learn.microsoft.com/en-us/azure/azure-functions/functions-event-grid-blob-trigger: a blob trigger
  with `source=EventGrid` is reached by Event Grid at `https://<host>/runtime/webhooks/blobs?functionName=
  Host.Functions.<name>&code=<the host's blobs_extension system key>` (what deploy subscribes, `deploy.grid`).
- https://learn.microsoft.com/en-us/azure/azure-functions/event-grid-how-tos ("Webhook endpoint URL"): an
  Event Grid trigger is reached at `https://<host>/runtime/webhooks/eventgrid?functionName=<name>&code=<the
  host's eventgrid_extension system key>`; Event Grid sends a JSON array of Event Grid schema events with the
  header `aeg-event-type: Notification`.
- https://learn.microsoft.com/en-us/azure/azure-functions/functions-manually-run-non-http ("Manually run a
  non HTTP-triggered function"): `POST https://<host>/admin/functions/<name>` with the master key in
  `x-functions-key`, `Content-Type: application/json` and the body `{"input": "<trigger input>"}` runs any
  non-HTTP function once, answered 202 Accepted.

What a letter becomes:

| function        | letter                                 | sent back                                          |
|-----------------|----------------------------------------|----------------------------------------------------|
| storage created | an Event Grid dead-letter blob's event | the event exactly as Event Grid delivered it, to   |
| (blob trigger)  |                                        | the blobs webhook                                  |
|                 | the shim's CloudEvent                  | a BlobCreated event rebuilt (`grid_event`), ditto  |
| storage deleted | as above                               | the same, to the Event Grid trigger's webhook      |
| (Event Grid     |                                        |                                                    |
| trigger)        |                                        |                                                    |
| schedule        | the shim's CloudEvent of the firing    | one run through the admin endpoint, input ""       |

A letter is deleted only after its host answered 2xx (202 for the admin endpoint): never both kept and
redriven, never lost; any other answer keeps it and says which (`HostRefused`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.errors import ProviderError

BLOBS_KEY = "blobs_extension"  # the system key the blob trigger's Event Grid webhook checks
EVENT_GRID_KEY = "eventgrid_extension"  # the system key the Event Grid trigger's webhook checks
SEND_TIMEOUT_S = 30
ACCEPTED = 202


class HostRefused(ProviderError):
    """The function app's host did not take a redriven letter; the letter is kept."""


class FunctionsHost:
    """The function app's host at `host` (ARM's `defaultHostName`) with its keys (ARM's `host/default/listkeys`
    answer: `masterKey`, `systemKeys`). `endpoint`, when set, is where the requests go instead, the host in
    `Host` (an emulator standing in for it)."""

    def __init__(self, site: str, host: str, keys: dict[str, Any], endpoint: str | None = None) -> None:
        self.site = site
        self.host = host
        self.keys = keys
        self.endpoint = endpoint

    def deliver(self, function: str, events: list[dict[str, Any]], deleted: bool) -> None:
        """POST Event Grid schema `events` to the function's webhook, as Event Grid delivers them: the blobs
        extension's for a blob trigger (created), the Event Grid extension's for an Event Grid trigger
        (deleted)."""
        if deleted:
            path, name, key_name = "/runtime/webhooks/eventgrid", function, EVENT_GRID_KEY
        else:
            path, name, key_name = "/runtime/webhooks/blobs", f"Host.Functions.{function}", BLOBS_KEY
        key = (self.keys.get("systemKeys") or {}).get(key_name)
        if not key:
            raise HostRefused(
                f"Redriving {function!r} on azure: the function app {self.site} has no {key_name} system key "
                "(the host makes it once it has loaded the function), so nothing was sent and every letter is "
                "kept. Run `portable-fn deploy --provider azure` for this stage, then redrive again."
            )
        query = urlencode({"functionName": name, "code": key})
        headers = {"aeg-event-type": "Notification", "Content-Type": "application/json"}
        self.post(function, f"{path}?{query}", headers, events, ok=None)

    def run(self, function: str) -> None:
        """Run the function once through the host's admin endpoint (a timer's firing: its input is empty)."""
        key = self.keys.get("masterKey")
        if not key:
            raise HostRefused(
                f"Redriving {function!r} on azure: ARM lists no master key of the function app {self.site}, so "
                "the function was not run and every letter is kept."
            )
        headers = {"x-functions-key": str(key), "Content-Type": "application/json"}
        self.post(function, f"/admin/functions/{quote(function)}", headers, {"input": ""}, ok=ACCEPTED)

    def post(self, function: str, target: str, headers: dict[str, str], body: Any, ok: int | None) -> None:
        """POST `body` as JSON; anything but a 2xx (`ok`, when given, exactly) is a HostRefused that names the
        host and the status, never the URL (its query holds a key)."""
        url = f"https://{self.host}{target}"
        if self.endpoint:
            base = urlsplit(self.endpoint)
            url = f"{base.scheme}://{base.netloc}{target}"
            headers = {**headers, "Host": self.host}
        request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        where = f"the function app's host {self.host}"
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HostRefused(
                f"Redriving {function!r} on azure: {where} could not be reached ({reason}); the letter is kept."
            ) from None
        if not 200 <= status < 300 or (ok is not None and status != ok):
            raise HostRefused(
                f"Redriving {function!r} on azure: {where} answered HTTP {status} to {urlsplit(url).path}; the "
                "letter is kept. Check that the app is running this deployment (`portable-fn info`)."
            )


def grid_event(event: CloudEvent[Any], topic: str) -> dict[str, Any]:
    """The Event Grid schema event a shim letter of a blob function stands for, rebuilt from its CloudEvent
    (`events.blob_to_cloudevent` for a created blob, `events.blob_event_to_cloudevent` for a deleted one):
    `eventType`, `subject` and `data` are the CloudEvent's (data members it holds as null left out);
    `eventTime` its time (a created blob's: when the blob was last modified, not when the event was raised;
    none: now); `id` its id (a created blob's: its ETag, as the original event id is not kept); `topic` the
    storage account's ARM id (`topic`), as Azure Storage publishes; `dataVersion` "" and `metadataVersion` "1".
    What the blob trigger hands over is not in it: a created blob's `api`, `clientRequestId`, `requestId`,
    `sequencer` and `storageDiagnostics`; the host reads the blob named by `data.url`."""
    document = json.loads(event.to_json())
    data = document.get("data")
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if v is not None}
    moment = document.get("time") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": document["id"],
        "topic": topic,
        "subject": document.get("subject") or "",
        "eventType": document["type"],
        "eventTime": moment,
        "data": data,
        "dataVersion": "",
        "metadataVersion": "1",
    }

"""`portable-fn dead-letters --redrive --provider azure` for a blob function and a timer function, end to end
offline: the app's host name and keys read from ARM (the fake ARM's WebApps_Get and
WebApps_ListHostKeys), the letters on Azurite (the shim's queue, Event Grid's dead-letter blobs), and each
sent to a Functions host on 127.0.0.1 that checks what it is sent as the real host does: the webhook path,
`functionName`, the system key in `code`, `aeg-event-type: Notification` and the Event Grid event's shape,
or the admin endpoint with the master key in `x-functions-key` and `{"input": ""}`; any other key is 401."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.queue import QueueServiceClient
from portable_fn_azure.deploy import AzureDeployer
from portable_fn_azure.deploy.naming import DEAD_LETTER_CONTAINER, subscription_name
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.runtime.errors import ProviderError

AZURE = Path(__file__).resolve().parents[1]
FAILING = AZURE / "apps" / "failing"
LETTERS = AZURE / "data" / "grid_dead_letters"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
MASTER = "bWFzdGVy"  # what the fake ARM lists as every host's masterKey
BLOBS_KEY, GRID_KEY = "YmxvYnMta2V5LW9mLXRoZS1ob3N0", "Z3JpZC1rZXktb2YtdGhlLWhvc3Q="
GRID_MEMBERS = {"deadLetterReason", "deliveryAttempts", "lastDeliveryOutcome", "lastHttpStatusCode"}
GRID_MEMBERS |= {"publishTime", "lastDeliveryAttemptTime"}
EVENT_MEMBERS = {"id", "topic", "subject", "eventType", "eventTime", "data", "dataVersion", "metadataVersion"}


class FunctionsHost:
    """A function app's host on 127.0.0.1: the blobs and Event Grid webhooks (`code` must be the host's system
    key of that extension, else 401) and the admin endpoint (`x-functions-key` must be the master key, else
    401). It checks each request as the host reads it and records `(path, query, headers, body)` of the ones
    it took; `status` is what it answers them (202 as the host does)."""

    def __init__(self, site_host: str) -> None:
        self.received: list[tuple[str, dict[str, str], dict[str, str], Any]] = []
        self.status = 202
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = host.check(url.path, query, headers, body, site_host)
                if status < 300:
                    host.received.append((url.path, query, headers, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def check(self, path: str, query: dict[str, str], headers: dict[str, str], body: Any, site: str) -> int:
        assert headers["host"] == site and headers["content-type"].startswith("application/json")
        if path.startswith("/admin/functions/"):
            if headers.get("x-functions-key") != MASTER:
                return 401
            assert body == {"input": ""}
            return self.status
        webhooks = {"/runtime/webhooks/blobs": BLOBS_KEY, "/runtime/webhooks/eventgrid": GRID_KEY}
        if path not in webhooks:
            return 404
        if query.get("code") != webhooks[path]:
            return 401
        assert headers["aeg-event-type"] == "Notification"
        assert query["functionName"].startswith("Host.Functions.") == (path == "/runtime/webhooks/blobs")
        assert isinstance(body, list) and body
        for event in body:
            assert set(event) == EVENT_MEMBERS and isinstance(event["data"]["url"], str)
        return self.status

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> App:
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_MANAGER_URL", "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    return load_app(FAILING)


@pytest.fixture
def functions_host(arm: Any, app: App) -> Iterator[FunctionsHost]:
    host = FunctionsHost(
        f"{AzureProvider({'subscription_id': SUBSCRIPTION}).deployer.names(app, 'dev').function_app}.azurewebsites.net"
    )
    try:
        yield host
    finally:
        host.stop()


def provider_for(
    arm: Any, certificate: tuple[Path, Path], azurite: str, helpers: types.SimpleNamespace, host: FunctionsHost
) -> AzureProvider:
    settings = {
        "subscription_id": SUBSCRIPTION,
        "location": "westeurope",
        "connection_verify": str(certificate[0]),
        "storage_connection_string": azurite,
        "functions_host_endpoint": host.url,
    }
    provider = AzureProvider(settings, arm.url)
    provider.deployer = AzureDeployer(provider.settings, arm.url, credential=helpers.StaticToken())
    return provider


def deployed_site(arm: Any, provider: AzureProvider, app: App, blobs_key: str = BLOBS_KEY) -> str:
    """The function app as ARM holds it once deployed, with its host's system keys; its defaultHostName."""
    names = provider.deployer.names(app, "dev")
    host = f"{names.function_app}.azurewebsites.net"
    path = names.site_id
    arm.put(
        path,
        {
            "id": path,
            "name": names.function_app,
            "type": "Microsoft.Web/sites",
            "kind": "functionapp,linux",
            "location": "westeurope",
            "tags": {},
            "properties": {"defaultHostName": host, "state": "Running"},
        },
    )
    arm.state.host_keys[path.lower()] = {"blobs_extension": blobs_key, "eventgrid_extension": GRID_KEY}
    return host


def shim_letter(azurite: str, app: App, function: str, event: Any) -> Any:
    """The dead letter the shim writes for `event` (what `invoke` shows it setting on the dead-letter binding),
    put on the function's queue on Azurite as the host's binding writes it."""
    [result] = AzureProvider().invoke(app, app.function(function), event)["results"]
    assert result["outcome"] == "dead_letter"
    queue = QueueServiceClient.from_connection_string(azurite).get_queue_client(dead_letter_queue(function))
    try:
        queue.create_queue()
    except Exception:  # already there: emptied
        queue.clear_messages()
    queue.send_message(base64.b64encode(json.dumps(result["dead_letter"]).encode()).decode())
    return queue


UPLOAD = {
    "name": "uploads/dead.txt",
    "uri": "https://acct.blob.core.windows.net/uploads/dead.txt",
    "length": 1,
    "properties": {"ContentType": "text/plain", "ETag": '"0x8DEAD"', "BlobType": "BlockBlob"},
}


def test_a_blob_functions_letter_is_posted_to_its_blobs_webhook_as_a_blob_created_event_and_deleted(
    arm: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    functions_host: FunctionsHost,
    app: App,
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers, functions_host)
    deployed_site(arm, provider, app)
    queue = shim_letter(azurite, app, "on_upload", UPLOAD)
    [entry] = provider.dead_letters(app, "dev", app.function("on_upload"), redrive=True)
    assert entry.redriven and entry.reason == "no such order"
    [(path, query, _, [event])] = functions_host.received
    assert (path, query["functionName"]) == ("/runtime/webhooks/blobs", "Host.Functions.on_upload")
    names = provider.deployer.names(app, "dev")
    assert (event["eventType"], event["topic"], event["id"]) == (
        "Microsoft.Storage.BlobCreated",
        names.account_id,
        "0x8DEAD",
    )
    assert event["subject"] == "/blobServices/default/containers/uploads/blobs/dead.txt"
    assert event["data"]["url"] == UPLOAD["uri"] and "api" not in event["data"]
    assert queue.peek_messages(max_messages=32) == []


def test_event_grids_blobs_and_the_shims_letters_of_a_deleted_blob_function_go_to_its_event_grid_webhook(
    arm: Any,
    blobs: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    functions_host: FunctionsHost,
    app: App,
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers, functions_host)
    deployed_site(arm, provider, app)
    container = blobs.create_container(DEAD_LETTER_CONTAINER)
    written = (LETTERS / "blob_deleted.json").read_bytes()
    container.upload_blob(f"{subscription_name('on_gone').upper()}/2026/12/7/9/0d0e0a0d.json", written)
    deleted = {k: v for k, v in json.loads(written)[0].items() if k not in GRID_MEMBERS}
    gone = {**deleted, "id": "g-1", "subject": "/blobServices/default/containers/uploads/blobs/dead.txt"}
    gone["data"] = {**deleted["data"], "url": "https://acct.blob.core.windows.net/uploads/dead.txt"}
    queue = shim_letter(azurite, app, "on_gone", gone)
    assert len(provider.dead_letters(app, "dev", app.function("on_gone"))) == 2  # a listing sends nothing
    assert functions_host.received == []
    entries = provider.dead_letters(app, "dev", app.function("on_gone"), redrive=True)
    assert [e.redriven for e in entries] == [True, True]
    sent = [(path, query["functionName"], events) for path, query, _, events in functions_host.received]
    rebuilt = {**gone, "topic": provider.deployer.names(app, "dev").account_id}  # the shim's, as Azure Storage's
    assert sent == [  # the shim's letter first (its queue is read first), then Event Grid's blob: as delivered
        ("/runtime/webhooks/eventgrid", "on_gone", [rebuilt]),
        ("/runtime/webhooks/eventgrid", "on_gone", [deleted]),
    ]
    assert list(container.list_blobs()) == [] and queue.peek_messages(max_messages=32) == []


def test_a_refused_post_keeps_the_letter_and_no_key_is_said(
    arm: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    functions_host: FunctionsHost,
    app: App,
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers, functions_host)
    stale = "c3RhbGUta2V5LW5vdC10aGUtaG9zdHM="
    deployed_site(arm, provider, app, blobs_key=stale)  # ARM lists a key the host no longer takes
    queue = shim_letter(azurite, app, "on_upload", UPLOAD)
    with pytest.raises(
        ProviderError, match="answered HTTP 401 to /runtime/webhooks/blobs; the letter is kept"
    ) as refused:
        provider.dead_letters(app, "dev", app.function("on_upload"), redrive=True)
    assert stale not in str(refused.value) and MASTER not in str(refused.value)
    [kept] = provider.dead_letters(app, "dev", app.function("on_upload"))  # kept, visible at once
    assert not kept.redriven and len(queue.peek_messages(max_messages=32)) == 1
    functions_host.status = 500  # the right key now, the host failing
    arm.state.host_keys[provider.deployer.names(app, "dev").site_id.lower()]["blobs_extension"] = BLOBS_KEY
    with pytest.raises(ProviderError, match="answered HTTP 500"):
        provider.dead_letters(app, "dev", app.function("on_upload"), redrive=True)
    assert len(queue.peek_messages(max_messages=32)) == 1


def test_a_timer_letter_runs_the_function_once_through_the_admin_endpoint_and_is_deleted(
    arm: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    functions_host: FunctionsHost,
    app: App,
) -> None:
    import failing  # type: ignore[import-not-found]

    provider = provider_for(arm, certificate, azurite, helpers, functions_host)
    deployed_site(arm, provider, app)
    failing.TICK[:] = ["dead"]
    try:
        queue = shim_letter(azurite, app, "tick", {})
    finally:
        failing.TICK.clear()
    [entry] = provider.dead_letters(app, "dev", app.function("tick"), redrive=True)
    assert entry.redriven
    [(path, _, headers, body)] = functions_host.received
    assert (path, headers["x-functions-key"], body) == ("/admin/functions/tick", MASTER, {"input": ""})
    assert queue.peek_messages(max_messages=32) == []
    assert MASTER not in json.dumps([e.__dict__ for e in [entry]], default=str)


def test_a_function_app_not_deployed_is_said_and_every_letter_kept(
    arm: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    functions_host: FunctionsHost,
    app: App,
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers, functions_host)
    queue = shim_letter(azurite, app, "on_upload", UPLOAD)
    with pytest.raises(ProviderError, match="it is not deployed .* every letter is kept"):
        provider.dead_letters(app, "dev", app.function("on_upload"), redrive=True)
    assert len(queue.peek_messages(max_messages=32)) == 1 and functions_host.received == []


def poison_queue(azurite: str) -> Any:
    """The app's (Azurite's) `webjobs-blobtrigger-poison`, made or emptied."""
    from portable_fn_azure.blob_poison import POISON_QUEUE

    queue = QueueServiceClient.from_connection_string(azurite).get_queue_client(POISON_QUEUE)
    try:
        queue.create_queue()
    except Exception:  # already there: emptied
        queue.clear_messages()
    return queue


def poison(queue: Any, function: str, blob: str, etag: str) -> dict[str, Any]:
    """Put the message the host writes once it gave up on `blob` for `function` (base64 JSON, as it writes)."""
    message = {"Type": "BlobTrigger", "FunctionId": f"Host.Functions.{function}", "BlobType": "BlockBlob"}
    message |= {"ContainerName": "uploads", "BlobName": blob, "ETag": etag}
    queue.send_message(base64.b64encode(json.dumps(message).encode()).decode())
    return message


def test_the_hosts_poison_message_of_the_function_is_sent_as_its_blobs_event_and_another_functions_is_left(
    arm: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    functions_host: FunctionsHost,
    app: App,
) -> None:
    """`webjobs-blobtrigger-poison` is shared by every blob function of the app: the redrive sends this function's
    message as the BlobCreated event of the blob it names, deletes it once the host took it, and leaves another
    function's message in the queue, visible and unchanged."""
    from portable_fn_azure.blob_poison import POISON_QUEUE

    provider = provider_for(arm, certificate, azurite, helpers, functions_host)
    deployed_site(arm, provider, app)
    shim_letter(azurite, app, "on_upload", UPLOAD)
    poisoned = poison_queue(azurite)
    other = poison(poisoned, "someone_else", "theirs.txt", '"0x8DC5B1E4B0F1A2C"')
    poison(poisoned, "on_upload", "in/b c.txt", '"0x8DC5B1E4B0F1A2C"')
    entries = provider.dead_letters(app, "dev", app.function("on_upload"), redrive=True)
    assert sorted((e.where.split(" ")[2], e.redriven) for e in entries) == [
        (dead_letter_queue("on_upload"), True),
        (POISON_QUEUE, True),
    ]
    [_shim_letter, (path, query, headers, [event])] = functions_host.received  # the shim's letter went first
    assert (path, query["functionName"], headers["aeg-event-type"]) == (
        "/runtime/webhooks/blobs",
        "Host.Functions.on_upload",
        "Notification",
    )
    names = provider.deployer.names(app, "dev")
    assert (event["eventType"], event["topic"], event["id"]) == (
        "Microsoft.Storage.BlobCreated",
        names.account_id,
        '"0x8DC5B1E4B0F1A2C"',
    )
    assert event["subject"] == "/blobServices/default/containers/uploads/blobs/in/b c.txt"
    assert event["data"]["url"].endswith("/uploads/in/b%20c.txt") and event["data"]["blobType"] == "BlockBlob"
    [left] = poisoned.peek_messages(max_messages=32)  # visible again at once, and only the other function's
    assert json.loads(base64.b64decode(left.content)) == other


def test_a_refused_poison_message_is_kept_visible(
    arm: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    functions_host: FunctionsHost,
    app: App,
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers, functions_host)
    deployed_site(arm, provider, app)
    poisoned = poison_queue(azurite)
    mine = poison(poisoned, "on_upload", "x.txt", '"0x1"')
    functions_host.status = 500
    with pytest.raises(ProviderError, match="answered HTTP 500"):
        provider.dead_letters(app, "dev", app.function("on_upload"), redrive=True)
    [kept] = poisoned.peek_messages(max_messages=32)
    assert json.loads(base64.b64decode(kept.content)) == mine

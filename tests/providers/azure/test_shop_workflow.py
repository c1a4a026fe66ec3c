"""The shop's order workflow on Azure, driven by Azure's own messages: with the settings deploy writes (its
`desired` app settings, markers resolved as the applier resolves them), `create_order` runs through the
generated function_app.py and starts the workflow in the Table Storage state backend on Azurite, whose
continue message the Azure publisher puts on the workflow's Storage Queue; each message received from Azurite
is handed to the runner function as the host hands it (a real `func.QueueMessage`), the payment webhook wakes
the waiting instance, and the order ships: the instance completes with its receipt, `shop.order.shipped` is
published to the order-events topic's endpoint, and the wait's timeout stays hidden on the queue. Listing the
instances reads the table with `scan`."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient, QueueServiceClient
from portable_fn_azure.deploy import AzureDeployer
from portable_fn_azure.deploy.naming import table_name
from portable_fn_azure.deploy.resources import STORAGE_CONNECTION, TOPIC_ENDPOINT, TOPIC_KEY, AppSettings

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact
from portable_fn.runtime.channels import use_publisher
from portable_fn.runtime.state import use_backends
from portable_fn.runtime.workflow import get_instance, list_instances

from .host_objects import Captured, HostContext

REPO = Path(__file__).resolve().parents[3]
GRID_KEY = "dG9waWMta2V5LW9uZQ=="  # what the grid_endpoint fixture takes (conftest.GRID_KEY)
RUNNER_QUEUE = "pfn-wf-place-order"
ORDER = {"id": "o-az-1", "customer": "c", "lines": [{"sku": "widget", "quantity": 2}]}


def deployed_settings(app: App, azurite: str, topic_endpoint: str) -> dict[str, str]:
    """The function app's settings as deploy writes them (without the identity: keys, not roles), the
    storage account being Azurite and the topic's endpoint `topic_endpoint`."""
    settings = {"subscription_id": "11111111-2222-3333-4444-555555555555", "location": "westeurope"}
    deployer = AzureDeployer({**settings, "storage_auth": "connection_string", "storage_connection_string": azurite})
    artifact = Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1)
    written = next(r for r in deployer.desired(app, "dev", artifact) if isinstance(r, AppSettings))

    def resolved(value: str) -> str:
        if value == STORAGE_CONNECTION:
            return azurite
        if value.startswith(TOPIC_ENDPOINT):
            return f"event-grid:{topic_endpoint}"
        return GRID_KEY if value.startswith(TOPIC_KEY) else value

    return {k: resolved(v) for k, v in written.settings if k.startswith("PORTABLE_FN_") or k == "AzureWebJobsStorage"}


@pytest.fixture
def shop_app() -> Iterator[App]:
    """The shop loaded afresh (another test of this worker may have loaded a copy of it since the session's
    was), its modules put back as they were after the test."""
    before = {k: v for k, v in sys.modules.items() if k == "shop" or k.startswith("shop.")}
    try:
        yield load_app(REPO / "samples" / "shop")
    finally:
        for name in [k for k in sys.modules if k == "shop" or k.startswith("shop.")]:
            del sys.modules[name]
        sys.modules.update(before)


@pytest.fixture
def on_azure(
    shop_app: App, azurite: str, grid_endpoint: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[QueueClient]:
    """The shop's settings in the environment, its tables and the runner's queue fresh on Azurite, and the
    runtime's state backends and publisher opened anew from them; the workflow's queue."""
    import shop.functions

    monkeypatch.setattr(shop.functions, "DATA_DIR", tmp_path)
    for key, value in deployed_settings(shop_app, azurite, grid_endpoint.url + "/api/events").items():
        monkeypatch.setenv(key, value)
    tables = TableServiceClient.from_connection_string(azurite)
    for state in shop_app.states:
        tables.delete_table(table_name(state.name))
        tables.create_table(table_name(state.name))
    queue = QueueServiceClient.from_connection_string(azurite).get_queue_client(RUNNER_QUEUE)
    try:
        queue.create_queue()
    except Exception:  # left by an earlier test of this session: emptied instead
        queue.clear_messages()
    backends, publisher = use_backends(None), use_publisher(None)
    try:
        yield queue
    finally:
        use_backends(backends)
        use_publisher(publisher)
        queue.delete_queue()
        for state in shop_app.states:
            tables.delete_table(table_name(state.name))


@pytest.fixture
def functions(shop_app: App, indexed: Callable[[App], dict[str, Any]]) -> dict[str, Callable[..., Any]]:
    found = indexed(shop_app)
    return {
        name: lambda *args, _f=fn, _n=name: _f.get_user_function()(*args, HostContext(_n)) for name, fn in found.items()
    }


def as_host_delivers(message: Any) -> QueueMessage:
    return QueueMessage(
        id=message.id,
        body=base64.b64decode(message.content, validate=True),
        dequeue_count=message.dequeue_count,
        insertion_time=message.inserted_on,
        expiration_time=message.expires_on,
        pop_receipt=message.pop_receipt,
        time_next_visible=message.next_visible_on,
    )


def drain(queue: QueueClient, runner: Callable[..., Any]) -> int:
    """Run every visible message of the workflow's queue through the runner, as the host would (deleted once
    the function returns); the number run."""
    ran = 0
    for _ in range(50):
        batch = list(queue.receive_messages(messages_per_page=32, visibility_timeout=300))
        if not batch:
            return ran
        for message in batch:
            poison = Captured()
            runner(as_host_delivers(message), poison)
            assert poison.value is None, poison.value
            queue.delete_message(message)
            ran += 1
    raise AssertionError("the workflow kept sending messages")


def http(method: str, url: str, body: Any = None, route_params: dict[str, str] | None = None) -> func.HttpRequest:
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"}
    return func.HttpRequest(method, url, body=data, headers=headers, route_params=route_params or {})


def test_an_order_is_placed_through_azure_queues_tables_and_event_grid(
    on_azure: QueueClient, functions: dict[str, Any], grid_endpoint: Any, azurite: str
) -> None:
    created = functions["create_order"](http("POST", "https://shop.azurewebsites.net/orders", ORDER))
    assert created.status_code == 201, created.get_body()
    assert drain(on_azure, functions["place_order-run"]) >= 1
    waiting = get_instance(ORDER["id"])
    assert waiting is not None and waiting["status"] != "completed"

    confirm = http(
        "POST", f"https://shop.azurewebsites.net/payments/{ORDER['id']}/confirm", route_params={"order_id": ORDER["id"]}
    )
    confirmed = functions["confirm_payment"](confirm)
    assert confirmed.status_code == 202 and json.loads(confirmed.get_body())["woken"] == 1
    assert drain(on_azure, functions["place_order-run"]) >= 1

    done = get_instance(ORDER["id"])
    assert done is not None and done["status"] == "completed", done
    assert done["result"]["order_id"] == ORDER["id"] and done["result"]["tracking"] == f"TRK-{ORDER['id']}"
    assert [i["id"] for i in list_instances("place_order")] == [ORDER["id"]]  # Table Storage's scan
    workflows = TableServiceClient.from_connection_string(azurite).get_table_client(table_name("pfn-workflows"))
    assert f"wf#{ORDER['id']}" in {e["key"] for e in workflows.list_entities()}  # checkpoints in Azurite's table

    shipped = [e for _, headers, batch in grid_endpoint.received for e in batch]
    assert [(e["type"], e["subject"], e["data"]) for e in shipped] == [
        ("shop.order.shipped", ORDER["id"], {"order_id": ORDER["id"], "tracking": f"TRK-{ORDER['id']}"})
    ]
    assert all(h["content-type"].startswith("application/cloudevents-batch+json") for _, h, _ in grid_endpoint.received)
    notify = EventGridEventInConverter.decode(Datum(json.dumps(shipped[0]), "json"), trigger_metadata={})
    dead = Captured()
    functions["notify"](notify, dead)  # Event Grid's delivery of it to the topic's function
    assert dead.value is None, dead.value  # acknowledged: nothing written to its dead-letter queue

    assert on_azure.get_queue_properties().approximate_message_count == 1  # the wait's timeout, still hidden
    assert list(on_azure.peek_messages()) == []

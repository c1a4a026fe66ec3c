"""A `DeadLetter` of an Event Grid topic, blob (created and deleted) or timer function end to end: the
generated function_app.py, indexed by the real `azure-functions` library, given the objects the worker
builds (`EventGridEvent` / `CloudEvent`, `InputStream`, `TimerRequest`); what the shim sets on the
function's dead-letter output binding written to Azurite's queue as the host's binding writes it (base64);
`dead-letters` listing it with reason, function and attempt (their `--redrive`, which needs the app's host
from ARM, is in deploy/test_host_redrive.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueServiceClient
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.provider import AzureProvider
from portable_fn_azure.shim import DeliveryFailed

from portable_fn.app import App, load_app
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info

from .conftest import DATA
from .host_objects import Captured, HostContext

FAILING = Path(__file__).resolve().parent / "apps" / "failing"
EXAMPLES = DATA / "azure-rest-api-specs/specification/eventgrid/data-plane/Microsoft.Storage/stable/2018-01-01/examples"
EVENT_FUNCTIONS = ("on_news", "on_upload", "on_gone", "tick")
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


class RetryingHost(HostContext):
    """The worker's Context with the host's retry context (a timer's: `retry_count` of `max_retry_count`)."""

    def __init__(self, name: str, retry_count: int = 0, max_retry_count: int | None = None) -> None:
        super().__init__(name)
        self._retry = SimpleNamespace(retry_count=retry_count, max_retry_count=max_retry_count)

    retry_context = property(lambda self: self._retry)


@pytest.fixture
def app() -> App:
    return load_app(FAILING)


@pytest.fixture
def functions(app: App, indexed: Callable[[App], dict[str, Any]]) -> dict[str, Any]:
    import failing

    failing.TICK.clear()
    return dict(indexed(app))


@pytest.fixture
def queues(azurite: str) -> Any:
    service = QueueServiceClient.from_connection_string(azurite)
    for queue in service.list_queues():
        service.delete_queue(queue.name)
    for function in EVENT_FUNCTIONS:
        service.create_queue(dead_letter_queue(function))
    return service


@pytest.fixture
def provider(azurite: str) -> AzureProvider:
    return AzureProvider(
        {"subscription_id": SUBSCRIPTION, "location": "westeurope", "storage_connection_string": azurite}
    )


def native(name: str, ask: str) -> Any:
    """What the worker hands function `name` for an event asking for `ask` (the timer's ask is in TICK)."""
    if name == "on_news":  # the custom topic's subscription delivers the CloudEvents 1.0 schema
        event = {"specversion": "1.0", "id": f"n-{ask}", "source": "/shop", "type": "t", "data": {"ask": ask}}
        return EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})
    if name == "on_gone":  # the system topic's subscription delivers the Event Grid schema
        deleted = json.loads((EXAMPLES / "blob_deleted.json").read_text(encoding="utf-8"))
        event = {
            **deleted,
            "id": f"g-{ask}",
            "subject": f"/blobServices/default/containers/uploads/blobs/{ask}.txt",
            "data": {**deleted["data"], "url": f"https://acct.blob.core.windows.net/uploads/{ask}.txt"},
        }
        return EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})
    if name == "on_upload":
        return func.blob.InputStream(
            data=b"x",
            name=f"uploads/{ask}.txt",
            uri=f"https://acct.blob.core.windows.net/uploads/{ask}.txt",
            length=1,
            blob_properties={"ContentType": "text/plain", "ETag": f"0x{ask}"},
        )
    import failing

    failing.TICK[:] = [ask]
    return TimerRequest(past_due=False)


def deliver(functions: dict[str, Any], queues: Any, name: str, ask: str, context: HostContext | None = None) -> Any:
    """One invocation of the generated function; what it set on its dead-letter binding is written to the
    queue as the host writes it. Returns what the invocation raised, else None."""
    dead = Captured()
    try:
        functions[name].get_user_function()(native(name, ask), dead, context or HostContext(name))
    except Exception as exc:
        assert dead.value is None  # the host writes no output of an invocation that failed
        return exc
    if dead.value is not None:
        queue = queues.get_queue_client(dead_letter_queue(name))
        queue.send_message(base64.b64encode(dead.value.encode()).decode())
    return None


@pytest.mark.parametrize("name", EVENT_FUNCTIONS)
def test_the_dead_letter_binding_is_the_functions_queue_in_the_apps_storage(
    functions: dict[str, Any], name: str
) -> None:
    bindings = {b["name"]: b for b in json.loads(functions[name].get_function_json())["bindings"]}
    dead = bindings["dead"]
    assert (dead["type"], dead["direction"], dead["queueName"], dead["connection"]) == (
        "queue",
        "OUT",
        dead_letter_queue(name),
        "AzureWebJobsStorage",
    )


@pytest.mark.parametrize("name", EVENT_FUNCTIONS)
def test_a_dead_letter_lands_in_the_functions_queue_with_why_and_the_invocation_succeeds(
    functions: dict[str, Any], queues: Any, provider: AzureProvider, app: App, name: str
) -> None:
    assert deliver(functions, queues, name, "dead") is None  # success: no transport tries it again
    [entry] = provider.dead_letters(app, "dev", app.function(name))
    assert (entry.function, entry.reason, entry.attempts, entry.where) == (
        name,
        "no such order",
        1,
        f"storage queue {dead_letter_queue(name)}",
    )
    assert entry.event is not None
    letter = CloudEvent.from_dict(entry.event)
    assert dead_letter_info(letter) == {"reason": "no such order", "function": name, "attempt": 1}
    assert len(queues.get_queue_client(dead_letter_queue(name)).peek_messages(max_messages=32)) == 1  # kept


@pytest.mark.parametrize("name", EVENT_FUNCTIONS)
@pytest.mark.parametrize("ask", ["retry", "crash"])
def test_a_retry_still_raises_and_writes_no_dead_letter(
    functions: dict[str, Any], queues: Any, name: str, ask: str
) -> None:
    raised = deliver(functions, queues, name, ask)
    assert isinstance(raised, DeliveryFailed) and raised.outcome == "retry"
    assert queues.get_queue_client(dead_letter_queue(name)).peek_messages(max_messages=32) == []


def test_a_timer_retry_on_its_last_attempt_is_dead_lettered_with_the_hosts_attempt(
    functions: dict[str, Any], queues: Any, provider: AzureProvider, app: App
) -> None:
    """`tick` has retries=1: the generated `retry` policy's max_retry_count is 1, so its second run is the last;
    the attempt is the host's retry count + 1."""
    assert functions["tick"].get_settings_dict("retry_policy")["max_retry_count"] == "1"
    first = deliver(functions, queues, "tick", "retry", RetryingHost("tick", retry_count=0, max_retry_count=1))
    assert isinstance(first, DeliveryFailed)
    assert deliver(functions, queues, "tick", "retry", RetryingHost("tick", retry_count=1, max_retry_count=1)) is None
    [entry] = provider.dead_letters(app, "dev", app.function("tick"))
    assert (entry.reason, entry.attempts) == ("stock arrives tomorrow", 2)


def test_an_event_grid_event_that_cannot_be_read_is_dead_lettered_with_its_body(
    functions: dict[str, Any], queues: Any, provider: AzureProvider, app: App
) -> None:
    event = {"specversion": "1.0", "id": "bad-1", "source": "/shop", "type": "", "data": {"ask": "none"}}
    dead = Captured()
    unreadable = EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})
    functions["on_news"].get_user_function()(unreadable, dead, HostContext("on_news"))
    letter = CloudEvent.from_json(dead.value)
    assert (letter.id, letter.type) == ("bad-1", "dev.portable-fn.undecodable")
    assert json.loads(letter.data)["data"] == {"ask": "none"}
    reason = (dead_letter_info(letter) or {})["reason"]
    assert "'type' is required" in reason


def test_invoke_reports_the_dead_letter_of_an_event_grid_function(app: App) -> None:
    """`portable-fn invoke --provider azure` hands every event function its dead-letter binding, as the
    host does."""
    event = {"specversion": "1.0", "id": "n-1", "source": "/shop", "type": "t", "data": {"ask": "dead"}}
    [result] = AzureProvider().invoke(app, app.function("on_news"), event)["results"]
    assert (result["outcome"], result["reason"]) == ("dead_letter", "no such order")
    assert dead_letter_info(CloudEvent.from_dict(result["dead_letter"]))["function"] == "on_news"


def test_deploy_makes_each_event_functions_dead_letter_queue(app: App) -> None:
    """With the default transports, every function but the http one and the Storage Queue one (which has
    `<queue>-poison`) gets its `pfdl-` queue in the app's account, the queue its binding writes to."""
    from portable_fn_azure.deploy import AzureDeployer
    from portable_fn_azure.deploy.resources import StorageQueue

    from portable_fn.deploy import Artifact

    deployer = AzureDeployer({"subscription_id": SUBSCRIPTION, "location": "westeurope"})
    desired = deployer.desired(app, "dev", Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1))
    queues = {r.queue for r in desired if isinstance(r, StorageQueue)}
    assert queues == {"orders", "orders-poison"} | {dead_letter_queue(name) for name in EVENT_FUNCTIONS}

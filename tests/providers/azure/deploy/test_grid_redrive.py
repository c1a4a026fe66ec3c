"""`portable-fn dead-letters --redrive --provider azure` for a topic function, end to end offline: the
topic's endpoint and access key read from ARM (the fake ARM's Topics_Get and Topics_ListSharedAccessKeys),
the dead-letter blobs on Azurite, each blob's events POSTed to the topic's endpoint (a 127.0.0.1 server
standing in for it, reached through `event_grid_endpoint`) and the blob deleted."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.deploy import AzureDeployer
from portable_fn_azure.deploy.naming import DEAD_LETTER_CONTAINER, subscription_name
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.emulators import free_port
from portable_fn.runtime.errors import ProviderError

AZURE = Path(__file__).resolve().parents[1]
OUTCOMES = AZURE / "apps" / "outcomes"
LETTERS = AZURE / "data" / "grid_dead_letters"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
TOPIC_KEY = "dG9waWMta2V5LW9uZQ=="  # what the fake ARM lists as every custom topic's key1


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch) -> App:
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_MANAGER_URL", "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    return load_app(OUTCOMES)


def provider_for(
    arm: Any, certificate: tuple[Path, Path], azurite: str, helpers: types.SimpleNamespace, **extra: Any
) -> AzureProvider:
    settings = {
        "subscription_id": SUBSCRIPTION,
        "location": "westeurope",
        "connection_verify": str(certificate[0]),
        "storage_connection_string": azurite,
        **extra,
    }
    provider = AzureProvider(settings, arm.url)
    provider.deployer = AzureDeployer(provider.settings, arm.url, credential=helpers.StaticToken())
    return provider


def deployed_topic(arm: Any, provider: AzureProvider, app: App) -> str:
    """The custom topic deploy makes for `topic("acts")`, as ARM holds it once created; its endpoint's host."""
    names = provider.deployer.names(app, "dev")
    topic = names.topic("acts")
    host = f"{topic}.westeurope-1.eventgrid.azure.net"
    path = names.arm_id("Microsoft.EventGrid/topics", topic)
    arm.put(
        path,
        {
            "id": path,
            "name": topic,
            "type": "Microsoft.EventGrid/topics",
            "location": "westeurope",
            "tags": {},
            "properties": {
                "inputSchema": "CloudEventSchemaV1_0",
                "endpoint": f"https://{host}/api/events",
                "provisioningState": "Succeeded",
            },
        },
    )
    return host


def planted(blobs: Any) -> Any:
    container = blobs.create_container(DEAD_LETTER_CONTAINER)
    prefix = subscription_name("act_on_event").upper()
    container.upload_blob(
        f"{prefix}/2026/12/6/7/5b1e0c4a-0000-4000-8000-000000000007.json",
        (LETTERS / "topic_shim_dead.json").read_bytes(),
    )
    container.upload_blob(
        f"{prefix}/2026/12/6/10/5b1e0c4a-0000-4000-8000-000000000010.json",
        (LETTERS / "topic_cloudevents.json").read_bytes(),
    )
    return container


def test_redrive_publishes_to_the_topic_with_its_key_and_deletes_the_blobs(
    arm: Any,
    blobs: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    grid_endpoint: Any,
    outcomes: App,
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers, event_grid_endpoint=grid_endpoint.url)
    host = deployed_topic(arm, provider, outcomes)
    container = planted(blobs)
    entries = provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event"), redrive=True)
    assert [(e.id, e.redriven) for e in entries] == [("order-0", True), ("order-1", True), ("order-2", True)]
    assert [(path, headers["host"], headers["aeg-sas-key"]) for path, headers, _ in grid_endpoint.received] == [
        ("/api/events", host, TOPIC_KEY)
    ] * 2
    assert [e["id"] for _, _, batch in grid_endpoint.received for e in batch] == ["order-0", "order-1", "order-2"]
    assert list(container.list_blobs()) == []
    assert any(path.lower().endswith("/listkeys") for _, _, path in provider.deployer.client.calls)


def test_listing_reads_no_key_and_a_topic_not_deployed_is_said(
    arm: Any, blobs: Any, azurite: str, certificate: tuple[Path, Path], helpers: types.SimpleNamespace, outcomes: App
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers)
    container = planted(blobs)
    assert len(provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event"))) == 3
    assert {service for service, _, _ in provider.deployer.client.calls} == {"blob", "queue"}  # no ARM call to list
    with pytest.raises(
        ProviderError, match="it is not deployed .* every dead-letter blob is kept. Run `portable-fn deploy"
    ):
        provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event"), redrive=True)
    assert len(list(container.list_blobs())) == 2  # nothing published, nothing deleted


def shim_letter(azurite: str, app: App) -> Any:
    """The dead letter the shim writes for a DeadLetter of `act_on_event` (what `invoke` shows it setting on the
    dead-letter binding), put on the function's queue on Azurite as the host's binding writes it."""
    import base64
    import json

    from azure.storage.queue import QueueServiceClient
    from portable_fn_azure.names import dead_letter_queue

    event = {"specversion": "1.0", "id": "order-9", "source": "/shop", "type": "t", "data": {"ask": "dead"}}
    [result] = AzureProvider().invoke(app, app.function("act_on_event"), event)["results"]
    service = QueueServiceClient.from_connection_string(azurite)
    queue = service.get_queue_client(dead_letter_queue("act_on_event"))
    try:
        queue.create_queue()
    except Exception:  # already there: emptied
        queue.clear_messages()
    queue.send_message(base64.b64encode(json.dumps(result["dead_letter"]).encode()).decode())
    return queue


def test_the_shims_letters_and_event_grids_blobs_are_listed_together_and_redriven_to_the_topic(
    arm: Any,
    blobs: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: types.SimpleNamespace,
    grid_endpoint: Any,
    outcomes: App,
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers, event_grid_endpoint=grid_endpoint.url)
    deployed_topic(arm, provider, outcomes)
    container, queue = planted(blobs), shim_letter(azurite, outcomes)
    listed = provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event"))
    assert [(e.id, e.reason, e.where.split(" ")[0]) for e in listed] == [
        ("order-0", "never", "blob"),
        ("order-1", "MaxDeliveryAttemptsExceeded", "blob"),
        ("order-2", "UndeliverableDueToClientError", "blob"),
        ("order-9", "never", "storage"),  # written now, after Event Grid's blobs of 2026-12-06
    ]
    entries = provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event"), redrive=True)
    assert sorted((e.id, e.redriven) for e in entries) == [(f"order-{n}", True) for n in (0, 1, 2, 9)]
    sent = [e for _, _, batch in grid_endpoint.received for e in batch]
    assert sorted(e["id"] for e in sent) == ["order-0", "order-1", "order-2", "order-9"]
    [again] = [e for e in sent if e["id"] == "order-9"]
    assert (again["data"], again["source"]) == ({"ask": "dead"}, "/shop")
    assert not {k for k in again if k.startswith("deadletter")}  # published as it first was
    assert queue.peek_messages(max_messages=32) == [] and list(container.list_blobs()) == []


def test_a_refused_publish_keeps_the_shims_letters(
    arm: Any, azurite: str, certificate: tuple[Path, Path], helpers: types.SimpleNamespace, outcomes: App
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the publish fails
    provider = provider_for(arm, certificate, azurite, helpers, event_grid_endpoint=closed)
    deployed_topic(arm, provider, outcomes)
    queue = shim_letter(azurite, outcomes)
    with pytest.raises(Exception, match="Connection refused|Errno"):
        provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event"), redrive=True)
    assert len(provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event"))) == 1  # kept, visible
    assert len(queue.peek_messages(max_messages=32)) == 1

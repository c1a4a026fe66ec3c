"""`portable-fn dead-letters --provider azure` for functions Event Grid delivers to, on Azurite's blob
service: the blobs Event Grid writes into the app's `portable-fn-dead-letters` container, planted in the
documented layout (data/grid_dead_letters/NOTICE), listed oldest first, redriven to a topic's endpoint (a
127.0.0.1 server checking the access key); a blob function's redrive, which needs the app's host from ARM,
is in deploy/test_host_redrive.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from portable_fn_azure.deploy.naming import DEAD_LETTER_CONTAINER, subscription_name
from portable_fn_azure.grid_letters import GridDeadLetters, TopicPublisher
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.runtime.cloudevent import CloudEvent

HERE = Path(__file__).resolve().parent
OUTCOMES = HERE / "apps" / "outcomes"
EVERY = HERE / "apps" / "every_trigger"
LETTERS = HERE / "data" / "grid_dead_letters"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
GRID_KEY = "dG9waWMta2V5LW9uZQ=="  # conftest's GridEndpoint takes this key


@pytest.fixture
def container(azurite: str) -> Any:
    """The dead-letter container on Azurite, empty."""
    service = BlobServiceClient.from_connection_string(azurite)
    for found in service.list_containers():
        service.delete_container(found["name"])
    return service.create_container(DEAD_LETTER_CONTAINER)


@pytest.fixture
def provider(azurite: str) -> AzureProvider:
    return AzureProvider(
        {"subscription_id": SUBSCRIPTION, "location": "westeurope", "storage_connection_string": azurite}
    )


def plant(container: Any, function: str, hour: str, name: str, guid: str) -> str:
    """A dead-letter blob as Event Grid writes it: `<SUBSCRIPTION>/<YYYY>/<M>/<D>/<H>/<guid>.json`."""
    path = f"{subscription_name(function).upper()}/2026/12/6/{hour}/{guid}.json"
    container.upload_blob(path, (LETTERS / name).read_bytes())
    return path


def planted_for_topic(container: Any) -> tuple[str, str]:
    """The shim's dead letter in hour 7 and two events given up on in hour 10 (10 sorts before 7 as text)."""
    later = plant(container, "act_on_event", "10", "topic_cloudevents.json", "5b1e0c4a-0000-4000-8000-000000000010")
    earlier = plant(container, "act_on_event", "7", "topic_shim_dead.json", "5b1e0c4a-0000-4000-8000-000000000007")
    plant(container, "act", "7", "topic_cloudevents.json", "5b1e0c4a-0000-4000-8000-0000000000aa")  # another's
    return earlier, later


@pytest.fixture
def outcomes() -> App:
    return load_app(OUTCOMES)


def test_the_blobs_of_a_topic_function_are_listed_oldest_first_and_kept(
    provider: AzureProvider, outcomes: App, container: Any
) -> None:
    earlier, later = planted_for_topic(container)
    entries = provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event"))
    where = f"blob {DEAD_LETTER_CONTAINER}/"
    assert [(e.function, e.id, e.reason, e.attempts, e.time, e.where) for e in entries] == [
        ("act_on_event", "order-0", "never", 2, "2026-12-06T07:10:31.0000000Z", where + earlier),
        ("act_on_event", "order-1", "MaxDeliveryAttemptsExceeded", 3, "2026-12-06T09:03:12.5000000Z", where + later),
        ("act_on_event", "order-2", "UndeliverableDueToClientError", 1, "2026-12-06T08:59:41.0000000Z", where + later),
    ]
    first = entries[1].event
    assert first is not None and first["data"] == {"ask": "crash"} and first["source"] == "/shop/orders"
    assert not {"deadLetterReason", "deliveryAttempts", "publishTime"} & set(first)  # Event Grid's members are off
    assert CloudEvent.from_dict(first).id == "order-1"
    assert not any(e.redriven for e in entries)
    assert len(list(container.list_blobs())) == 3  # nothing deleted by a listing


def test_no_container_yet_means_no_dead_letters(provider: AzureProvider, outcomes: App, azurite: str) -> None:
    service = BlobServiceClient.from_connection_string(azurite)
    for found in service.list_containers():
        service.delete_container(found["name"])
    assert provider.dead_letters(outcomes, "dev", outcomes.function("act_on_event")) == []


def test_blob_events_are_listed_as_cloudevents(provider: AzureProvider, container: Any) -> None:
    every = load_app(EVERY)
    path = plant(container, "on_photo_deleted", "10", "blob_deleted.json", "0d0e0a0d-0000-4000-8000-000000000001")
    [entry] = provider.dead_letters(every, "dev", every.function("on_photo_deleted"))
    assert (entry.reason, entry.attempts, entry.where) == (
        "MaxDeliveryAttemptsExceeded",
        30,
        f"blob {DEAD_LETTER_CONTAINER}/{path}",
    )
    assert entry.event is not None and entry.event["type"] == "Microsoft.Storage.BlobDeleted"
    assert entry.event["subject"] == "/blobServices/default/containers/photos/blobs/raw/cat.jpg"


def test_redrive_publishes_each_blob_to_the_topic_then_deletes_it(container: Any, grid_endpoint: Any) -> None:
    planted_for_topic(container)
    publish = TopicPublisher(grid_endpoint.url + "/api/events", GRID_KEY)
    letters = GridDeadLetters(container, "act_on_event", subscription_name("act_on_event"), publish, "acts-topic")
    entries = letters.read(redrive=True)
    assert [(e.id, e.redriven) for e in entries] == [("order-0", True), ("order-1", True), ("order-2", True)]
    assert [(path, headers["content-type"]) for path, headers, _ in grid_endpoint.received] == [
        ("/api/events", "application/cloudevents-batch+json; charset=utf-8")
    ] * 2
    sent = [event for _, _, batch in grid_endpoint.received for event in batch]
    assert [(e["id"], e["data"]) for e in sent] == [
        ("order-0", {"ask": "dead"}),
        ("order-1", {"ask": "crash"}),
        ("order-2", {"ask": "bad"}),
    ]
    for event in sent:  # each as it was published: no Event Grid members, no portable-fn dead-letter extensions
        assert CloudEvent.from_dict(event).extensions == {}
    assert [b.name for b in container.list_blobs()] == [
        f"{subscription_name('act').upper()}/2026/12/6/7/5b1e0c4a-0000-4000-8000-0000000000aa.json"
    ]


def test_a_refused_publish_keeps_the_blob(container: Any, grid_endpoint: Any) -> None:
    planted_for_topic(container)
    publish = TopicPublisher(grid_endpoint.url + "/api/events", "not-the-key")
    letters = GridDeadLetters(container, "act_on_event", subscription_name("act_on_event"), publish, "acts-topic")
    with pytest.raises(Exception, match="401"):
        letters.read(redrive=True)
    assert len(list(container.list_blobs())) == 3


def test_the_cli_lists_a_topic_functions_dead_letters(
    container: Any, azurite: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portable_fn.cli import main

    planted_for_topic(container)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    argv = ["dead-letters", "act_on_event", "--provider", "azure", "--app", str(OUTCOMES), "--stage", "dev", "--json"]
    assert main(argv) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["function"], listed["provider"], listed["stage"]) == ("act_on_event", "azure", "dev")
    assert [(e["id"], e["reason"], e["attempts"]) for e in listed["dead_letters"]] == [
        ("order-0", "never", 2),
        ("order-1", "MaxDeliveryAttemptsExceeded", 3),
        ("order-2", "UndeliverableDueToClientError", 1),
    ]
    assert all(e["where"].startswith(f"blob {DEAD_LETTER_CONTAINER}/") for e in listed["dead_letters"])


def test_the_members_spelt_in_lower_case_are_read_the_same(container: Any, grid_endpoint: Any) -> None:
    """CloudEvents extension names are lower case: should Event Grid spell its members so in a CloudEvents
    schema blob, they are read (and taken off before a redrive) all the same."""
    events = json.loads((LETTERS / "topic_cloudevents.json").read_text())
    lowered = [{k.lower(): v for k, v in event.items()} for event in events]
    path = f"{subscription_name('act_on_event').upper()}/2026/12/6/9/5b1e0c4a-0000-4000-8000-000000000009.json"
    container.upload_blob(path, json.dumps(lowered).encode())
    publish = TopicPublisher(grid_endpoint.url + "/api/events", GRID_KEY)
    letters = GridDeadLetters(container, "act_on_event", subscription_name("act_on_event"), publish, "acts-topic")
    entries = letters.read(redrive=True)
    assert [(e.id, e.reason, e.attempts, e.time) for e in entries] == [
        ("order-1", "MaxDeliveryAttemptsExceeded", 3, "2026-12-06T09:03:12.5000000Z"),
        ("order-2", "UndeliverableDueToClientError", 1, "2026-12-06T08:59:41.0000000Z"),
    ]
    [(_, _, sent)] = grid_endpoint.received
    assert [CloudEvent.from_dict(e).extensions for e in sent] == [{}, {}]

"""Channels on Azure, deployed: every topic and queue a function sends to (the sender app: `orders`, which
`take` receives from, `order-events`, which `notify` receives from, and `audit-events`, which no function of
the app receives from) is made (the queue through ARM's Queue_Create, the custom topics through Event Grid's
Topics_CreateOrUpdate, both held to their specs by the fake ARM), the function app's identity gets a sender's
role scoped to exactly each (Storage Queue Data Message Sender, EventGrid Data Sender), its settings carry
the locators the publisher reads (a topic's endpoint as ARM answers it), a rerun changes nothing and
`remove` takes it all away. Without the identity a topic's key is in the settings instead of a role; on
Service Bus the namespace is the user's, and the role is on the entity when the settings name it. The
queue locator deploy wrote drives the real publisher to Azurite."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueServiceClient
from portable_fn_azure.codegen import max_attempts
from portable_fn_azure.deploy import AzureDeployer
from portable_fn_azure.deploy.naming import Names, queue_name
from portable_fn_azure.deploy.resources import RoleAssignment
from portable_fn_azure.deploy.roles import BUS_SENDER as BUS
from portable_fn_azure.deploy.roles import QUEUE_SENDER as QUEUE
from portable_fn_azure.deploy.roles import TOPIC_SENDER as TOPIC
from portable_fn_azure.deploy.roles import definition_id
from portable_fn_azure.publish import AzurePublisher

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact, pipeline
from portable_fn.runtime.channels import Channel, locator_env
from portable_fn.runtime.cloudevent import CloudEvent

SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
GROUP = f"{SUB}/resourceGroups/sender-dev-rg"
SENDER = Path(__file__).resolve().parents[1] / "apps" / "sender"
ROLE_TYPE = "Microsoft.Authorization/roleAssignments"
NAMES = Names("sender", "dev", SUB.rsplit("/", 1)[-1])
QUEUE_SENDER, TOPIC_SENDER, BUS_SENDER = (definition_id(NAMES, use) for use in (QUEUE, TOPIC, BUS))  # custom roles
TOPIC_KEY = "dG9waWMta2V5LW9uZQ=="  # the fake ARM's key1 of every custom topic
NAMESPACE = f"{SUB}/resourceGroups/messaging/providers/Microsoft.ServiceBus/namespaces/shop-bus"


@pytest.fixture
def sender(tmp_path: Path) -> App:
    target = tmp_path / "sender"
    shutil.copytree(SENDER, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return load_app(target)


def provider_for(arm: Any, certificate: Any, azurite: str, helpers: Any, app: App, **settings: Any) -> Any:
    return helpers.ArmProvider(helpers.settings_for(app, "dev", certificate, azurite, **settings), arm.url)


@pytest.fixture
def provider(arm: Any, blobs: Any, azurite: str, certificate: Any, sender: App, helpers: Any) -> Any:
    return provider_for(arm, certificate, azurite, helpers, sender)


def roles_at(arm: Any, scope: str) -> dict[str, str]:
    found = arm.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments", ROLE_TYPE)
    return {r["properties"]["roleDefinitionId"]: r["properties"]["principalId"] for r in found}


def own_principal(arm: Any, provider: Any, app: App, function: str) -> str:
    """The principal id of `function`'s own user-assigned identity, as the endpoint holds it."""
    identity = provider.deployer.names(app, "dev").identity(function)
    found = arm.get(f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}")
    return str(found["properties"]["principalId"])


def app_settings(arm: Any, provider: Any, app: App) -> dict[str, str]:
    site = provider.deployer.names(app, "dev").function_app
    return dict(arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{site}/config/appsettings")["properties"])


def test_each_channel_is_made_granted_exactly_and_located(provider: Any, sender: App, arm: Any, helpers: Any) -> None:
    names = provider.deployer.names(sender, "dev")
    planned = pipeline.plan(provider, sender, "dev").plan
    grants = {s.resource.name for s in planned.steps if s.resource.kind == "role assignment"}
    topics = {name: names.topic(name) for name in ("order-events", "audit-events")}
    assert {
        f"{names.storage_account}/orders/portable-fn queue sender for place",
        f"{topics['order-events']}/portable-fn topic sender for place",
        f"{topics['audit-events']}/portable-fn topic sender for audit",
    } <= grants  # what `plan` shows: each for the one function that declares it

    pipeline.deploy(provider, sender, "dev")
    place, audit = (own_principal(arm, provider, sender, f) for f in ("place", "audit"))
    account = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{names.storage_account}"
    queue = f"{account}/queueServices/default/queues/orders"
    arm.get(queue)
    assert roles_at(arm, queue) == {QUEUE_SENDER: place}
    for name, topic in topics.items():  # audit-events too, though no function of the app receives from it
        found = arm.get(f"{GROUP}/providers/Microsoft.EventGrid/topics/{topic}")
        assert found["tags"] == {"portable-fn-app": "sender", "portable-fn-stage": "dev"}
        assert found["properties"]["inputSchema"] == "CloudEventSchemaV1_0"
        assert roles_at(arm, found["id"]) == {TOPIC_SENDER: place if name == "order-events" else audit}
    assert (
        arm.children(
            f"{GROUP}/providers/Microsoft.EventGrid/topics/{topics['audit-events']}",
            "Microsoft.EventGrid/topics/eventSubscriptions",
        )
        == []
    )

    settings = app_settings(arm, provider, sender)
    assert settings[locator_env("queue", "orders")] == "storage-queue:AzureWebJobsStorage/orders"
    for name, topic in topics.items():
        endpoint = arm.get(f"{GROUP}/providers/Microsoft.EventGrid/topics/{topic}")["properties"]["endpoint"]
        assert settings[locator_env("topic", name)] == f"event-grid:{endpoint}"
        assert locator_env("topic", name) + "_KEY" not in settings  # the identity publishes

    channels = pipeline.info(provider, sender, "dev").outputs["channels"]  # what `info` shows
    assert channels["queue orders"] == {"senders": ["place"], "queue": "orders"}
    assert channels["topic audit-events"] == {
        "senders": ["audit"],
        "topic": topics["audit-events"],
        "endpoint": settings[locator_env("topic", "audit-events")].split(":", 1)[1],
    }

    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, sender, "dev").plan.empty
    assert provider.deployer.client.mutating_calls() == []

    pipeline.remove(provider, sender, "dev")  # all but the audit trail's group and account, which outlive the stage
    assert {key: found["tags"] for key, found in arm.state.resources.items()} == helpers.audit_trail("sender", "dev")


def test_the_deployed_queue_locator_sends_through_the_real_publisher(
    provider: Any, sender: App, arm: Any, azurite: str
) -> None:
    """The setting deploy wrote, with the connection the trigger binding uses (Azurite's here), is all the
    publisher needs: the event lands on the queue the `take` function's binding reads."""
    pipeline.deploy(provider, sender, "dev")
    settings = app_settings(arm, provider, sender)
    queues = QueueServiceClient.from_connection_string(azurite)
    queue = queues.get_queue_client(queue_name("orders"))
    queue.create_queue()  # ARM made it in the fake; the emulator's data plane is apart
    try:
        env = {locator_env("queue", "orders"): settings[locator_env("queue", "orders")], "AzureWebJobsStorage": azurite}
        event = CloudEvent(id=f"e-{uuid.uuid4().hex}", source="/sender", type="t", data={"n": 1})
        AzurePublisher(env).publish(Channel("queue", "orders"), [event])
        (message,) = queue.receive_messages()
        assert json.loads(base64.b64decode(message.content)) == json.loads(event.to_json())
    finally:
        queue.delete_queue()


def test_without_the_identity_a_topic_gets_its_key_and_no_role(
    arm: Any, blobs: Any, sender: App, certificate: Any, azurite: str, helpers: Any
) -> None:
    provider = provider_for(arm, certificate, azurite, helpers, sender, storage_auth="connection_string")
    outcome = pipeline.deploy(provider, sender, "dev")
    assert "role assignment" not in {s.resource.kind for s in outcome.plan.steps}
    settings = app_settings(arm, provider, sender)
    assert settings[locator_env("topic", "order-events") + "_KEY"] == TOPIC_KEY
    assert settings[locator_env("topic", "order-events")].startswith("event-grid:https://")
    assert pipeline.plan(provider, sender, "dev").plan.empty  # the key and endpoint read back as their markers


def test_on_service_bus_the_role_is_on_the_users_entity(
    arm: Any, blobs: Any, sender: App, certificate: Any, azurite: str, helpers: Any
) -> None:
    bus = {"queue_transport": "service_bus", "topic_transport": "service_bus"}
    sender.config = sender.config.model_copy(update={"azure": {**sender.config.azure, **bus}})
    for kind, entity in (("queues", "orders"), ("topics", "order-events"), ("topics", "audit-events")):
        path = f"{NAMESPACE}/{kind}/{entity}"  # the user's namespace and entities
        arm.state.resources[path.lower()] = {
            "id": path,
            "name": entity,
            "type": f"Microsoft.ServiceBus/namespaces/{kind}",
            "properties": {"maxDeliveryCount": 10, "lockDuration": "PT2M", "requiresSession": False},
        }
    receivers = user_entities(arm, sender)  # what take and notify receive from: the queue, notify's subscription
    provider = provider_for(arm, certificate, azurite, helpers, sender, service_bus_namespace_id=NAMESPACE, **bus)
    planned = pipeline.plan(provider, sender, "dev").plan
    counts = {(s.action, s.resource.name) for s in planned.steps if s.resource.kind == "service bus max delivery count"}
    assert counts == {("update", receivers["take"]), ("update", receivers["notify"])}  # from 10, shown in the plan
    pipeline.deploy(provider, sender, "dev")
    for function, entity in receivers.items():  # the function's attempts + 1, everything else as it was
        attempts = max_attempts(sender, sender.function(function))
        assert arm.get(entity)["properties"] == {
            "maxDeliveryCount": attempts + 1,
            "lockDuration": "PT2M",
            "requiresSession": False,
        }
    place, audit = (own_principal(arm, provider, sender, f) for f in ("place", "audit"))
    for kind, entity, who in (
        ("queues", "orders", place),
        ("topics", "order-events", place),
        ("topics", "audit-events", audit),
    ):
        assert roles_at(arm, f"{NAMESPACE}/{kind}/{entity}") == {BUS_SENDER: who}
    bus_role = arm.get(BUS_SENDER)["properties"]  # exact, and assignable in the user's namespace alone
    assert bus_role["permissions"][0]["dataActions"] == ["Microsoft.ServiceBus/namespaces/messages/send/action"]
    assert bus_role["assignableScopes"] == [NAMESPACE]
    assert not [k for k in arm.state.resources if "/microsoft.eventgrid/topics/" in k]  # nothing of Event Grid
    settings = app_settings(arm, provider, sender)
    assert settings[locator_env("queue", "orders")] == "service-bus:ServiceBusConnection/orders"
    assert settings[locator_env("topic", "order-events")] == "service-bus:ServiceBusConnection/order-events"

    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, sender, "dev").plan.empty
    assert provider.deployer.client.mutating_calls() == []
    pipeline.remove(provider, sender, "dev")
    assert all(arm.get(e)["properties"]["maxDeliveryCount"] > 1 for e in receivers.values())  # the user's: kept
    assert [k for k in arm.state.resources if "roleassignments" in k] == []  # its grants went with it
    assert [k for k in arm.state.resources if "roledefinitions" in k] == []  # ...and its custom roles after them


def user_entities(arm: Any, app: App) -> dict[str, str]:
    """The Service Bus entity each receiving function of the sender binds (take: the queue `orders`; notify:
    its own subscription of `order-events`), the subscription made in the user's namespace as a user would."""
    subscription = f"{NAMESPACE}/topics/order-events/subscriptions/notify"
    arm.state.resources[subscription.lower()] = {
        "id": subscription,
        "name": "notify",
        "type": "Microsoft.ServiceBus/namespaces/topics/subscriptions",
        "properties": {"maxDeliveryCount": 10, "lockDuration": "PT2M", "requiresSession": False},
    }
    return {"take": f"{NAMESPACE}/queues/orders", "notify": subscription}


def test_a_missing_service_bus_entity_is_an_error_naming_it_and_nothing_is_made_there(
    arm: Any, blobs: Any, sender: App, certificate: Any, azurite: str, helpers: Any
) -> None:
    bus = {"queue_transport": "service_bus", "topic_transport": "service_bus"}
    sender.config = sender.config.model_copy(update={"azure": {**sender.config.azure, **bus}})
    for kind, entity in (("queues", "orders"), ("topics", "order-events"), ("topics", "audit-events")):
        path = f"{NAMESPACE}/{kind}/{entity}"  # the user's entities, but not the subscription notify binds
        arm.state.resources[path.lower()] = {
            "id": path,
            "name": entity,
            "type": f"Microsoft.ServiceBus/namespaces/{kind}",
        }
    provider = provider_for(arm, certificate, azurite, helpers, sender, service_bus_namespace_id=NAMESPACE, **bus)
    with pytest.raises(
        Exception, match=r"Service Bus subscription .*/order-events/subscriptions/notify does not exist"
    ):
        pipeline.deploy(provider, sender, "dev")
    assert f"{NAMESPACE}/topics/order-events/subscriptions/notify".lower() not in arm.state.resources  # not made


# -- the grants, as generated (no endpoint) -----------------------------------------------------------------
def test_generated_channel_grants_are_exactly_the_declared_channels(sender: App) -> None:
    """One sender's role per channel some function declares, scoped to that queue or topic itself: no
    wildcard, nothing account- or group-wide, nothing for a channel only received from."""
    deployer = AzureDeployer({"subscription_id": SUB.rsplit("/", 1)[-1], "location": "westeurope"})
    resources = deployer.desired(sender, "dev", Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1))
    names = deployer.names(sender, "dev")
    grants = {
        r.scope: r.role_definition_id
        for r in resources
        if isinstance(r, RoleAssignment) and r.role_definition_id in (QUEUE_SENDER, TOPIC_SENDER, BUS_SENDER)
    }
    assert grants == {
        names.queue_id("orders"): QUEUE_SENDER,
        names.topic_id(names.topic("order-events")): TOPIC_SENDER,
        names.topic_id(names.topic("audit-events")): TOPIC_SENDER,
    }
    assert all("*" not in scope for scope in grants)


def test_sending_to_a_fifo_queue_is_refused_naming_the_sender() -> None:
    from portable_fn_azure.provider import AzureProvider

    from portable_fn.runtime.errors import UnsupportedTriggerError

    app = load_app(SENDER.parent / "fifo_sender")
    with pytest.raises(UnsupportedTriggerError, match=r"'record' on azure: sending to queue\('ledger', fifo=True\)"):
        AzureProvider({"subscription_id": SUB.rsplit("/", 1)[-1], "location": "westeurope"}).check(app)

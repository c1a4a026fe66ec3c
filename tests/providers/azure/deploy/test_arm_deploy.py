"""Deploying samples/shop through the shared pipeline to the local ARM endpoint and Azurite.

Each test starts from an empty subscription and an empty Azurite (see conftest). Calls are counted by
`AzureClient`'s pipeline policy: a mutating call is a PUT, PATCH, DELETE, or a POST other than the list
reads (keys, application settings). The fake ARM keeps its own log of what it was sent, checked too.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from portable_fn_azure.deploy import TAG_APP, TAG_STAGE, AzureDeployer
from portable_fn_azure.deploy.appliers import ROLE_NAMESPACE
from portable_fn_azure.deploy.naming import subscription_name, table_name
from portable_fn_azure.deploy.roles import QUEUE_SENDER, STATE_WRITER, TOPIC_SENDER, definition_id
from portable_fn_azure.names import dead_letter_queue
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
ROLE_TYPE = "Microsoft.Authorization/roleAssignments"
GROUP = f"{SUB}/resourceGroups/shop-dev-rg"
TAGS = {TAG_APP: "shop", TAG_STAGE: "dev"}
# group, account, 3 containers (packages, uploads, Event Grid's dead letters), 4 queues (orders and the order
# workflow's, each with its poison queue), 4 state tables, package blob, plan, 3 functions' own identities
# (place_order-run, create_order, confirm_payment: those that declare a use), function app, 13 role assignments
# (the host's 3 on the account for the app's identity; for the functions' own identities 6 on the tables, 3
# senders' on the workflow queue and 1 on the order-events topic), settings, the package release, the account's
# system topic and on_upload's subscription, the order-events topic and notify's subscription
SHOP_STEPS = 45
SHOP_GRANTS = 13
HOST_GRANTS = 3  # the function app's system identity's, on its storage account
SHOP_IDENTITIES = 3
SHOP_ROLES = 3  # the shop's custom roles (`roles`): state writer, queue sender, topic sender
GRID = f"{GROUP}/providers/Microsoft.EventGrid"
UPLOADS = f"{GRID}/systemTopics/shop-dev-storage-events/eventSubscriptions/{subscription_name('on_upload')}"


def names(provider: Any, shop: Any, stage: str = "dev") -> Any:
    return provider.deployer.names(shop, stage)


def settings_of(arm: Any, site: str) -> dict[str, str]:
    return dict(arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{site}/config/appsettings")["properties"])


@pytest.fixture
def deployed(provider: Any, shop: Any) -> Any:
    pipeline.deploy(provider, shop, "dev")
    provider.deployer.client.calls.clear()
    provider.deployer.audit_client.calls.clear()
    return provider


# -- what one deploy creates ---------------------------------------------------------------------------
def test_resources_are_created_tagged_and_configured(provider: Any, shop: Any, arm: Any) -> None:
    messages: list[str] = []
    outcome = pipeline.deploy(provider, shop, "dev", messages.append)
    n = names(provider, shop)
    assert arm.get(GROUP)["tags"] == TAGS
    account = arm.get(f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{n.storage_account}")
    assert (account["kind"], account["sku"]["name"], account["tags"]) == ("StorageV2", "Standard_LRS", TAGS)
    assert account["properties"]["supportsHttpsTrafficOnly"] is True
    assert account["properties"]["allowBlobPublicAccess"] is False
    storage = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{n.storage_account}"
    # the queue functions' queues and poison queues, and a dead-letter queue of its own for each function that
    # has no poison queue (the timers, the blob trigger and the Event Grid topic's function)
    own_dead_letters = [dead_letter_queue(f) for f in ("sweep", "nightly_report", "on_upload", "notify")]
    assert sorted(
        q["name"]
        for q in arm.children(
            f"{storage}/queueServices/default/queues", "Microsoft.Storage/storageAccounts/queueServices/queues"
        )
    ) == sorted(["orders", "orders-poison", "pfn-wf-place-order", "pfn-wf-place-order-poison", *own_dead_letters])
    assert [
        c["name"]
        for c in arm.children(
            f"{storage}/blobServices/default/containers", "Microsoft.Storage/storageAccounts/blobServices/containers"
        )
    ] == ["portable-fn-dead-letters", "portable-fn-packages", "uploads"]
    plan = arm.get(f"{GROUP}/providers/Microsoft.Web/serverfarms/shop-dev-plan")
    assert (plan["sku"], plan["properties"]["reserved"], plan["tags"]) == (
        {"name": "Y1", "tier": "Dynamic"},
        True,
        TAGS,
    )
    site = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}")
    package = settings_of(arm, n.function_app)["WEBSITE_RUN_FROM_PACKAGE"].split("/portable-fn-packages/", 1)[1]
    released = {"portable-fn-release": package}  # the host took it: triggers synced
    assert outcome.audit is not None
    audited = outcome.audit.tags()  # merged by the audit trail once the change was made (pfn-audit-*)
    assert sorted(audited) == ["pfn-audit-at", "pfn-audit-commit", "pfn-audit-digest"]
    assert (site["kind"], site["identity"]["type"], site["tags"]) == (
        "functionapp,linux",
        "SystemAssigned, UserAssigned",  # the host's own identity, and one per function that declares a use
        {**TAGS, **released, **audited},
    )
    attached = {i.rsplit("/", 1)[-1] for i in site["identity"]["userAssignedIdentities"]}
    # create_order, confirm_payment and place_order-run declare uses; the other functions run as none
    assert len(attached) == 3 and all(i.startswith("shop-dev-") for i in attached)
    assert site["properties"]["httpsOnly"] is True
    assert site["properties"]["serverFarmId"] == f"{GROUP}/providers/Microsoft.Web/serverfarms/shop-dev-plan"
    config = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}/config/web")
    assert config["properties"]["linuxFxVersion"] == "Python|3.11"
    assert any("waiting for function app" in m for m in messages)  # the LRO reported while it ran


def test_app_settings_point_at_the_uploaded_package(
    provider: Any, shop: Any, arm: Any, blobs: Any, azurite: str
) -> None:
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    settings = settings_of(arm, n.function_app)
    assert settings["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert settings["FUNCTIONS_EXTENSION_VERSION"] == "~4"
    assert settings["AzureWebJobsStorage__accountName"] == n.storage_account  # through the app's identity
    assert "AzureWebJobsStorage" not in settings
    assert (settings["PORTABLE_FN_APP"], settings["PORTABLE_FN_STAGE"]) == ("shop", "dev")
    zip_bytes = (shop.root / ".portable-fn/build/azure/dev/app.zip").read_bytes()
    blob = f"shop-dev/{hashlib.sha256(zip_bytes).hexdigest()}.zip"
    # the package too is fetched with the app's identity: its plain blob URL, no SAS anywhere
    assert settings["WEBSITE_RUN_FROM_PACKAGE"] == f"{blob_endpoint(azurite)}/portable-fn-packages/{blob}"
    assert settings["WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"] == "SystemAssigned"
    assert_no_sas(arm)
    site_id = f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}".lower()
    assert arm.state.mounted[site_id] == settings["WEBSITE_RUN_FROM_PACKAGE"]  # the host mounted it
    assert [b["name"] for b in blobs.get_container_client("portable-fn-packages").list_blobs()] == [blob]


def blob_endpoint(azurite: str) -> str:
    return azurite.split("BlobEndpoint=")[1].split(";")[0]


def assert_no_sas(arm: Any) -> None:
    """No app settings request carried a SAS (a signature or a signed expiry) in any value."""
    written = [r.body for r in arm.state.requests if r.method == "PUT" and r.path.lower().endswith("/appsettings")]
    assert written and all("sig=" not in v and "se=" not in v for body in written for v in body["properties"].values())


def test_the_package_role_is_granted_before_the_settings_name_the_package(provider: Any, shop: Any, arm: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    puts = [r.path.lower() for r in arm.state.requests if r.method == "PUT"]
    last_role = max(i for i, p in enumerate(puts) if "/roleassignments/" in p)
    assert last_role < puts.index(next(p for p in puts if p.endswith("/config/appsettings")))
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_every_request_was_authenticated_and_versioned(provider: Any, shop: Any, arm: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    assert {r.status for r in arm.state.requests} <= {200, 201, 202, 204, 404}
    polled = [r for r in arm.state.requests if r.path.startswith("/_poll/")]
    assert len(polled) >= 4  # storage account (Location) and function app (Azure-AsyncOperation)
    assert all(s == ("https://management.azure.com/.default",) for s in provider.credential.scopes)


def test_a_wrong_token_is_refused(arm: Any, shop: Any, certificate: Any, azurite: str, helpers: Any) -> None:
    settings = helpers.settings_for(shop, "dev", certificate, azurite)
    deployer = AzureDeployer(settings, arm.url, credential=helpers.StaticToken("not-the-token"))
    with pytest.raises(ClientAuthenticationError) as refused:
        deployer.read_remote(shop, "dev")
    said = AzureProvider(settings, arm.url).explain(refused.value)  # what the pipeline and executor say
    assert said is not None and said.startswith("Azure refused the credentials (") and "`az login`" in said


def test_outputs_name_the_app_and_its_triggers(provider: Any, shop: Any) -> None:
    outcome = pipeline.deploy(provider, shop, "dev")
    out = outcome.outputs
    site = names(provider, shop).function_app
    assert out["function_app"] == site and out["url"] == f"https://{site}.azurewebsites.net"
    assert out["functions"]["create_order"]["url"] == f"https://{site}.azurewebsites.net/api/orders"
    assert out["functions"]["fulfil"] == {"trigger": "queue", "queue": "orders", "poison_queue": "orders-poison"}
    assert out["functions"]["on_upload"]["container"] == "uploads"
    assert out["functions"]["on_upload"]["subscription"] == UPLOADS.split("/systemTopics/")[1].replace(
        "/eventSubscriptions/", "/"
    )
    topic = names(provider, shop).topic("order-events")
    assert out["functions"]["notify"] == {
        "trigger": "topic",
        "topic": topic,
        "subscription": f"{topic}/notify",
        "endpoint": f"https://{topic}.westeurope-1.eventgrid.azure.net/api/events",
        "dead_letters": "portable-fn-dead-letters/NOTIFY/",  # the folder Event Grid writes in the app's container
    }
    assert out["states"] == {state.name: table_name(state.name) for state in shop.states}
    assert pipeline.info(provider, shop, "dev").outputs == out


# -- the app's identity and its storage roles -----------------------------------------------------------
ROLE_IDS = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
}


def roles_of(arm: Any, account: str) -> dict[str, str]:
    """Role definition GUID -> principal id, of the assignments at the account."""
    scope = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{account}"
    found = arm.children(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments", "Microsoft.Authorization/roleAssignments"
    )
    return {r["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]: r["properties"]["principalId"] for r in found}


def test_the_app_identity_gets_the_storage_roles(provider: Any, shop: Any, arm: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    principal = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}")["identity"]["principalId"]
    assert roles_of(arm, n.storage_account) == {guid: principal for guid in ROLE_IDS.values()}
    puts = [r for r in arm.state.requests if r.method == "PUT" and "/roleassignments/" in r.path.lower()]
    assert {(r.status, r.body["properties"]["principalType"], r.body["properties"]["description"]) for r in puts} == {
        (201, "ServicePrincipal", "portable-fn")
    }
    assert all(
        r.body["properties"]["roleDefinitionId"].startswith(f"{SUB}/providers/Microsoft.Authorization/") for r in puts
    )


def test_a_recreated_app_identity_gets_the_roles_again(deployed: Any, shop: Any, arm: Any) -> None:
    n = names(deployed, shop)
    site = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}")
    site["identity"]["principalId"] = new = "99999999-8888-7777-6666-555555555555"  # as after a recreate
    steps = [(s.action, s.resource.kind) for s in pipeline.deploy(deployed, shop, "dev").plan.steps]
    # the host's roles follow the app's new identity; the functions' own identities keep theirs
    assert (
        sorted(steps) == [("create", "role assignment")] * HOST_GRANTS + [("delete", "role assignment")] * HOST_GRANTS
    )
    assert roles_of(arm, n.storage_account) == {guid: new for guid in ROLE_IDS.values()}
    assert pipeline.plan(deployed, shop, "dev").plan.empty


def test_storage_auth_connection_string_keeps_the_key_and_grants_nothing(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    settings = helpers.settings_for(shop, "dev", certificate, azurite, storage_auth="connection_string")
    provider = helpers.ArmProvider(settings, arm.url)
    outcome = pipeline.deploy(provider, shop, "dev")
    assert "role assignment" not in {s.resource.kind for s in outcome.plan.steps}
    n = names(provider, shop)
    site_settings = settings_of(arm, n.function_app)
    assert site_settings["AzureWebJobsStorage"] == azurite and "AzureWebJobsStorage__accountName" not in site_settings
    assert roles_of(arm, n.storage_account) == {}
    url = site_settings["WEBSITE_RUN_FROM_PACKAGE"]  # the package through a read-only SAS, as before
    assert url.startswith(f"{blob_endpoint(azurite)}/portable-fn-packages/shop-dev/")
    assert "sp=r" in url and "sig=" in url
    assert "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID" not in site_settings
    zip_bytes = (shop.root / ".portable-fn/build/azure/dev/app.zip").read_bytes()
    with urllib.request.urlopen(url, timeout=10) as response:  # the SAS URL really serves the zip
        assert response.read() == zip_bytes
    site_id = f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}".lower()
    assert arm.state.mounted[site_id] == hashlib.sha256(zip_bytes).hexdigest()
    assert pipeline.plan(provider, shop, "dev").plan.empty

    switched = helpers.ArmProvider({**settings, "storage_auth": "identity"}, arm.url)
    steps = [(s.action, s.resource.kind) for s in pipeline.deploy(switched, shop, "dev").plan.steps]
    # the functions' identities attached to the app, roles before the switch, and the topic's key gives way to
    # the identity's role
    assert steps == [("create", "managed identity")] * SHOP_IDENTITIES + [("update", "function app")] + [
        ("create", "role definition")
    ] * SHOP_ROLES + [("create", "role assignment")] * SHOP_GRANTS + [("update", "app settings")]
    now = settings_of(arm, n.function_app)
    assert now["AzureWebJobsStorage__accountName"] == n.storage_account
    assert now["WEBSITE_RUN_FROM_PACKAGE"] == url.split("?")[0]  # the SAS is gone, the identity fetches it
    assert now["WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"] == "SystemAssigned"
    switched.deployer.client.calls.clear()
    assert pipeline.deploy(switched, shop, "dev").plan.empty
    assert switched.deployer.client.mutating_calls() == []


# -- Event Grid ----------------------------------------------------------------------------------------
def test_storage_events_reach_the_blob_trigger_through_the_system_topic(provider: Any, shop: Any, arm: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    system = arm.get(f"{GRID}/systemTopics/shop-dev-storage-events")
    assert (system["tags"], system["location"], system["properties"]["topicType"]) == (
        TAGS,
        "westeurope",
        "Microsoft.Storage.StorageAccounts",
    )
    assert system["properties"]["source"] == f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{n.storage_account}"
    assert subscription_name("on_upload").startswith("on-upload-")  # no "_" in subscription names
    sub = arm.get(UPLOADS)["properties"]
    assert sub["filter"] == {
        "includedEventTypes": ["Microsoft.Storage.BlobCreated"],
        "subjectBeginsWith": "/blobServices/default/containers/uploads/blobs/in/",
        "subjectEndsWith": "",
    }
    assert sub["eventDeliverySchema"] == "EventGridSchema"
    assert sub["destination"]["endpointType"] == "WebHook"  # the blob trigger's Event Grid source
    full = arm.state.secrets[UPLOADS.lower()]
    key = arm.state.host_keys[f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}".lower()]["blobs_extension"]
    assert full == (
        f"https://{n.function_app}.azurewebsites.net/runtime/webhooks/blobs"
        f"?functionName=Host.Functions.on_upload&code={key}"
    )


def test_the_blob_webhook_goes_to_the_host_name_arm_gives_the_app(provider: Any, shop: Any, arm: Any) -> None:
    arm.state.unique_host_names = True  # <app>-<hash>.<region>-01.azurewebsites.net, not <app>.azurewebsites.net
    outcome = pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    host = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}")["properties"]["defaultHostName"]
    assert host.startswith(f"{n.function_app}-") and host.endswith(".westeurope-01.azurewebsites.net")
    assert arm.state.secrets[UPLOADS.lower()].startswith(
        f"https://{host}/runtime/webhooks/blobs?functionName=Host.Functions.on_upload&code="
    )
    assert outcome.outputs["url"] == f"https://{host}"
    provider.deployer.client.calls.clear()
    again = pipeline.deploy(provider, shop, "dev")
    assert again.plan.empty and provider.deployer.client.mutating_calls() == []

    # a webhook to another host (e.g. written by a version that assumed <app>.azurewebsites.net) is fixed
    sub = UPLOADS.lower()
    arm.state.secrets[sub] = arm.state.secrets[sub].replace(host, f"{n.function_app}.azurewebsites.net")
    fixed = pipeline.deploy(provider, shop, "dev")
    assert [s.describe() for s in fixed.plan.steps] == [
        f"~ update event subscription shop-dev-storage-events/{subscription_name('on_upload')} (destination)"
    ]
    assert arm.state.secrets[sub].startswith(f"https://{host}/runtime/webhooks/blobs?")


def test_topic_events_reach_the_event_grid_trigger_as_cloudevents(provider: Any, shop: Any, arm: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    topic = arm.get(f"{GRID}/topics/{n.topic('order-events')}")
    assert (topic["tags"], topic["properties"]["inputSchema"]) == (TAGS, "CloudEventSchemaV1_0")
    sub = arm.get(f"{GRID}/topics/{n.topic('order-events')}/eventSubscriptions/notify")["properties"]
    assert sub["eventDeliverySchema"] == "CloudEventSchemaV1_0"
    assert sub["destination"] == {
        "endpointType": "AzureFunction",
        "properties": {
            "resourceId": f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}/functions/notify",
            "maxEventsPerBatch": 1,
            "preferredBatchSizeInKilobytes": 64,
        },
    }
    creates = [r for r in arm.state.requests if r.method == "PUT" and "/eventsubscriptions/" in r.path.lower()]
    assert {r.status for r in creates} == {201} and len(creates) == 2  # then polled (Azure-AsyncOperation)


def test_event_grid_dead_letters_into_the_apps_container_instead_of_dropping(
    provider: Any, shop: Any, arm: Any
) -> None:
    """Without a dead-letter destination Event Grid drops what it could not deliver after its retries; every
    subscription deploy makes names the app's `portable-fn-dead-letters` container (held to the spec's
    StorageBlobDeadLetterDestination), with Event Grid's default 30 attempts when no RetryPolicy is declared."""
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    account = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{n.storage_account}"
    arm.get(f"{account}/blobServices/default/containers/portable-fn-dead-letters")
    topic = n.topic("order-events")
    for path in (UPLOADS, f"{GRID}/topics/{topic}/eventSubscriptions/{subscription_name('notify')}"):
        props = arm.get(path)["properties"]
        assert props["deadLetterDestination"] == {
            "endpointType": "StorageBlob",
            "properties": {"resourceId": account, "blobContainerName": "portable-fn-dead-letters"},
        }
        assert props["retryPolicy"] == {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440}


def test_a_lost_blobs_key_is_set_again_and_the_subscription_follows(deployed: Any, shop: Any, arm: Any) -> None:
    n = names(deployed, shop)
    arm.state.host_keys.clear()  # e.g. the host's secrets were reset: the webhook's code no longer matches
    sub = UPLOADS.lower()
    arm.state.secrets[sub] = arm.state.secrets[sub].split("&code=")[0] + "&code=stale"
    assert pipeline.plan(deployed, shop, "dev").plan.empty  # the key is a secret: not compared
    arm.state.secrets[sub] = arm.state.secrets[sub].replace("Host.Functions.on_upload", "Host.Functions.other")
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        f"~ update event subscription shop-dev-storage-events/{subscription_name('on_upload')} (destination)"
    ]
    key = arm.state.host_keys[f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}".lower()]["blobs_extension"]
    assert arm.state.secrets[sub].endswith(f"functionName=Host.Functions.on_upload&code={key}")


def test_a_deleted_subscription_is_recreated(deployed: Any, shop: Any, arm: Any) -> None:
    topic = names(deployed, shop).topic("order-events")
    deployed.deployer.client.eventgrid.topic_event_subscriptions.begin_delete("shop-dev-rg", topic, "notify").result()
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [f"+ create event subscription {topic}/notify"]


# -- redeploys ---------------------------------------------------------------------------------------
def test_unchanged_redeploy_makes_no_mutating_call(deployed: Any, shop: Any, arm: Any) -> None:
    sent = len(arm.state.requests)
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert outcome.plan.empty and len(outcome.plan.unchanged) == SHOP_STEPS
    client = deployed.deployer.client
    assert client.calls and client.mutating_calls() == []
    assert [c for c in client.calls if c[0] == "blob" and c[1] == "PUT"] == []  # no re-upload
    # ARM changed nothing of the app: it saw the POST reads of the one read the plan and the outputs share (the
    # settings list and the webhook subscription's full URL; keys are not needed), and the audit trail's
    # merge of the new record's tags into the function app's (the Tags API's `tags/default`), its only write
    site = f"{GROUP}/providers/Microsoft.Web/sites/{names(deployed, shop).function_app}"
    assert outcome.audit is not None
    assert arm.tagged(sent) == [("Merge", site, outcome.audit.tags())]
    assert sorted(p.rsplit("/", 1)[-1] for _, p in arm.mutating(sent)) == ["default", "getFullUrl", "list"]
    assert deployed.deployer.audit_client.mutating_calls() == [
        ("blob", "PUT", f"/devstoreaccount1/pfn-audit/shop/dev/{outcome.audit.name}"),
        ("arm", "PATCH", f"{site}/providers/Microsoft.Resources/tags/default"),
    ]


def test_code_change_uploads_a_new_blob_and_updates_only_the_package_setting(
    deployed: Any, shop: Any, arm: Any, blobs: Any
) -> None:
    site = names(deployed, shop).function_app
    old = settings_of(arm, site)
    deployed.code = "# the handlers changed\n"
    outcome = pipeline.deploy(deployed, shop, "dev")
    assert [(s.action, s.resource.kind, s.changes) for s in outcome.plan.steps] == [
        ("create", "package blob", ()),
        ("update", "app settings", ("settings",)),
        ("update", "package release", ("package",)),
        ("delete", "package blob", ()),
    ]
    new = settings_of(arm, site)
    assert {k for k in new if new[k] != old[k]} == {"WEBSITE_RUN_FROM_PACKAGE"}
    assert [(c[0], c[1]) for c in deployed.deployer.client.mutating_calls()] == [  # upload, settings, sync, tag
        ("blob", "PUT"),
        ("arm", "PUT"),
        ("arm", "POST"),
        ("arm", "PATCH"),
        ("blob", "DELETE"),
    ]
    [blob] = [b["name"] for b in blobs.get_container_client("portable-fn-packages").list_blobs()]
    assert blob in new["WEBSITE_RUN_FROM_PACKAGE"]
    assert arm.state.mounted[f"{GROUP}/providers/Microsoft.Web/sites/{site}".lower()] == new["WEBSITE_RUN_FROM_PACKAGE"]
    assert_no_sas(arm)
    assert pipeline.plan(deployed, shop, "dev").plan.empty


def test_settings_change_updates_only_the_settings(deployed: Any, shop: Any, arm: Any) -> None:
    pyproject = shop.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.stages.dev]\n", '[tool.portable-fn.stages.dev]\nenv = { LOG_LEVEL = "debug" }\n'
        )
    )
    changed = load_app(shop.root)
    outcome = pipeline.deploy(deployed, changed, "dev")
    assert [(s.action, s.resource.kind, s.changes) for s in outcome.plan.steps] == [
        ("update", "app settings", ("settings",))
    ]
    assert settings_of(arm, names(deployed, shop).function_app)["LOG_LEVEL"] == "debug"
    assert [(c[0], c[1]) for c in deployed.deployer.client.mutating_calls()] == [("arm", "PUT")]  # no sync


# -- failures, plan, remove -----------------------------------------------------------------------------
def test_failure_names_the_step_and_a_rerun_converges(provider: Any, shop: Any, arm: Any) -> None:
    site = names(provider, shop).function_app
    arm.fail_once("PUT", f"/providers/microsoft.web/sites/{site}")
    with pytest.raises(DeployError) as raised:
        pipeline.deploy(provider, shop, "dev")
    message = str(raised.value)
    assert f"'+ create function app {site}'" in message
    assert "InjectedFailure" in message and "injected outage" in message
    assert "run `portable-fn deploy` again" in message

    rerun = pipeline.deploy(provider, shop, "dev")
    assert rerun.plan.steps[0].describe() == f"+ create function app {site}"
    assert {s.resource.kind for s in rerun.plan.steps[1:]} == {  # what comes after the app
        "role definition",  # the custom roles come before their assignments: none was made yet
        "role assignment",
        "app settings",
        "package release",
        "event grid topic",
        "event grid system topic",
        "event subscription",
    }
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_plan_prints_and_changes_nothing(provider: Any, shop: Any, arm: Any, blobs: Any) -> None:
    outcome = pipeline.plan(provider, shop, "dev")
    printed = [step.describe() for step in outcome.plan.steps]
    assert outcome.plan.count("create") == SHOP_STEPS
    assert f"+ create function app {names(provider, shop).function_app}" in printed
    assert provider.deployer.client.mutating_calls() == [] and arm.mutating() == []
    assert arm.state.resources == {} and list(blobs.list_containers()) == []


def test_remove_deletes_exactly_what_the_app_created(
    provider: Any, shop: Any, arm: Any, blobs: Any, tmp_path: Path, certificate: Any, azurite: str, helpers: Any
) -> None:
    other_dir = tmp_path / "depot"
    shutil.copytree(shop.root, other_dir, ignore=shutil.ignore_patterns(".portable-fn"))
    pyproject = other_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('app = "shop"', 'app = "depot"'))
    other = load_app(other_dir)
    other_provider = helpers.ArmProvider(helpers.settings_for(other, "dev", certificate, azurite), arm.url)
    pipeline.deploy(other_provider, other, "dev")
    shop = load_app(shop.root)
    pipeline.deploy(provider, shop, "dev")
    pipeline.deploy(provider, shop, "prod")
    suffix = f" shop-dev-{names(provider, shop).suffix}"  # how shop dev's custom roles end (in the subscription)
    roles = {k for k, r in arm.state.resources.items() if r["properties"].get("roleName", "").endswith(suffix)}
    assert len(roles) == SHOP_ROLES
    others = {k for k in arm.state.resources if "/resourcegroups/shop-dev-rg" not in k} - roles
    since = len(arm.state.requests)

    outcome = pipeline.remove(provider, shop, "dev")
    assert outcome.plan.count("delete") == SHOP_STEPS
    assert set(arm.state.resources) == others
    deleted = [path.lower() for method, path in arm.mutating(since) if method == "DELETE"]
    last_assignment = max(i for i, path in enumerate(deleted) if "/roleassignments/" in path)
    assert sorted(deleted[last_assignment + 1 :][: len(roles)]) == sorted(roles)  # after what was assigned them
    packages = [b["name"] for b in blobs.get_container_client("portable-fn-packages").list_blobs()]
    assert sorted(p.split("/")[0] for p in packages) == ["depot-dev", "shop-prod"]
    assert pipeline.plan(other_provider, load_app(other_dir), "dev").plan.empty
    assert pipeline.plan(provider, shop, "prod").plan.empty
    assert pipeline.remove(provider, shop, "dev").plan.empty  # nothing left to find


def test_an_existing_resource_group_is_used_and_kept(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    settings = helpers.settings_for(shop, "dev", certificate, azurite, resource_group="shared-rg")
    provider = helpers.ArmProvider(settings, arm.url)
    provider.deployer.client.resources.resource_groups.create_or_update("shared-rg", {"location": "westeurope"})
    outcome = pipeline.deploy(provider, shop, "dev")
    assert "resource group" not in {s.resource.kind for s in outcome.plan.steps}
    assert pipeline.plan(provider, shop, "dev").plan.empty
    pipeline.remove(provider, shop, "dev")
    # the group, and the audit trail's account in it (the trail outlives the stage)
    kept = {k: r.get("tags") for k, r in arm.state.resources.items()}
    assert kept == {f"{SUB}/resourcegroups/shared-rg".lower(): {}, **helpers.audit_trail("shop", "dev", "shared-rg")}


# -- Flex Consumption ------------------------------------------------------------------------------------
def flex_provider(shop: Any, arm: Any, certificate: Any, azurite: str, helpers: Any, **extra: Any) -> Any:
    settings = helpers.settings_for(shop, "dev", certificate, azurite, plan_sku="FC1", **extra)
    return helpers.ArmProvider(settings, arm.url)


def test_flex_consumption_runs_the_package_from_its_deployment_container(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    provider = flex_provider(shop, arm, certificate, azurite, helpers, instance_memory_mb=4096)
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    plan = arm.get(f"{GROUP}/providers/Microsoft.Web/serverfarms/shop-dev-plan")
    assert (plan["sku"], plan["kind"], plan["properties"]["reserved"]) == (
        {"name": "FC1", "tier": "FlexConsumption"},
        "functionapp",
        True,
    )
    site = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}")
    endpoint = blob_endpoint(azurite)
    assert site["properties"]["functionAppConfig"] == {
        "deployment": {
            "storage": {
                "type": "blobContainer",
                "value": f"{endpoint}/portable-fn-deployment",
                "authentication": {"type": "SystemAssignedIdentity"},
            }
        },
        "runtime": {"name": "python", "version": "3.11"},
        "scaleAndConcurrency": {"instanceMemoryMB": 4096, "maximumInstanceCount": 100},
    }
    storage = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{n.storage_account}"
    assert arm.get(f"{storage}/blobServices/default/containers/portable-fn-deployment")
    settings = settings_of(arm, n.function_app)
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"} & set(settings)
    zip_bytes = (shop.root / ".portable-fn/build/azure/dev/app.zip").read_bytes()
    sha = hashlib.sha256(zip_bytes).hexdigest()
    assert settings["PORTABLE_FN_PACKAGE"] == f"{endpoint}/portable-fn-packages/shop-dev/{sha}.zip"
    assert arm.state.deployed[site["id"].lower()] == [sha]  # exactly this zip was published
    host = site["properties"]["defaultHostName"]  # Flex apps get <app>-<hash>.<region>-01.azurewebsites.net
    assert host != f"{n.function_app}.azurewebsites.net"
    assert arm.state.secrets[UPLOADS.lower()].startswith(f"https://{host}/runtime/webhooks/blobs?")
    assert not any(r.path.lower().endswith("/syncfunctiontriggers") for r in arm.state.requests)

    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, shop, "dev").plan.empty
    assert provider.deployer.client.mutating_calls() == []


def test_flex_code_change_deploys_the_new_package_once(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    provider = flex_provider(shop, arm, certificate, azurite, helpers)
    pipeline.deploy(provider, shop, "dev")
    provider.code = "# the handlers changed\n"
    outcome = pipeline.deploy(provider, shop, "dev")
    assert [(s.action, s.resource.kind) for s in outcome.plan.steps] == [
        ("create", "package blob"),
        ("update", "app settings"),
        ("update", "package release"),
        ("delete", "package blob"),
    ]
    site_id = f"{GROUP}/providers/Microsoft.Web/sites/{names(provider, shop).function_app}".lower()
    new = hashlib.sha256((shop.root / ".portable-fn/build/azure/dev/app.zip").read_bytes()).hexdigest()
    assert len(arm.state.deployed[site_id]) == 2 and arm.state.deployed[site_id][-1] == new
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_flex_scale_change_updates_only_the_app(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    pipeline.deploy(flex_provider(shop, arm, certificate, azurite, helpers), shop, "dev")
    bigger = flex_provider(shop, arm, certificate, azurite, helpers, maximum_instance_count=200)
    outcome = pipeline.deploy(bigger, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        f"~ update function app {names(bigger, shop).function_app} (maximum_instance_count)"
    ]
    site = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{names(bigger, shop).function_app}")
    assert site["properties"]["functionAppConfig"]["scaleAndConcurrency"]["maximumInstanceCount"] == 200
    assert [(c[0], c[1]) for c in bigger.deployer.client.mutating_calls()] == [("arm", "PUT")]  # see below


def test_flex_with_a_connection_string_names_it_for_the_deployment_storage(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    provider = flex_provider(shop, arm, certificate, azurite, helpers, storage_auth="connection_string")
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    storage = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}")["properties"]["functionAppConfig"][
        "deployment"
    ]["storage"]
    assert storage["authentication"] == {
        "type": "StorageAccountConnectionString",
        "storageAccountConnectionStringName": "DEPLOYMENT_STORAGE_CONNECTION_STRING",
    }
    assert settings_of(arm, n.function_app)["DEPLOYMENT_STORAGE_CONNECTION_STRING"] == azurite
    assert pipeline.plan(provider, shop, "dev").plan.empty


# -- switching between Linux Consumption and Flex Consumption ----------------------------------------------
def site_of(arm: Any, site: str) -> dict[str, Any]:
    return dict(arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{site}"))


def assert_serves_the_new_app(arm: Any, provider: Any, shop: Any, old: dict[str, Any]) -> None:
    """The app was made anew: new identity holding every role, webhook on its host with its key."""
    n = names(provider, shop)
    new = site_of(arm, n.function_app)
    assert new["identity"]["principalId"] != old["identity"]["principalId"]
    assert roles_of(arm, n.storage_account) == {guid: new["identity"]["principalId"] for guid in ROLE_IDS.values()}
    key = arm.state.host_keys[new["id"].lower()]["blobs_extension"]
    assert arm.state.secrets[UPLOADS.lower()] == (
        f"https://{new['properties']['defaultHostName']}/runtime/webhooks/blobs"
        f"?functionName=Host.Functions.on_upload&code={key}"
    )
    provider.deployer.client.calls.clear()
    again = pipeline.deploy(provider, shop, "dev")
    assert again.plan.empty and provider.deployer.client.mutating_calls() == []


def test_switching_y1_to_fc1_and_back_replaces_the_app_and_its_plan(
    provider: Any, arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    consumption = site_of(arm, n.function_app)
    flex = flex_provider(shop, arm, certificate, azurite, helpers)
    before = len(arm.mutating())
    printed = [s.describe() for s in pipeline.plan(flex, shop, "dev").plan.steps]
    assert "~ update app service plan shop-dev-plan (replace: Y1 -> FC1)" in printed
    assert f"~ update function app {n.function_app} (replace: moves to Flex Consumption)" in printed
    assert f"~ update event subscription {n.topic('order-events')}/notify (destination)" in printed  # new app
    created = [p for p in printed if "role assignment" in p and p.startswith("+")]
    assert created[:3] == [f"+ create role assignment {n.storage_account}/{role}" for role in ROLE_IDS]
    assert len(created) == HOST_GRANTS  # the functions' own identities keep their roles on the tables and channels
    assert sorted(p.rsplit("/", 1)[-1] for _, p in arm.mutating()[before:]) == ["getFullUrl", "list"]  # reads

    pipeline.deploy(flex, shop, "dev")
    plan = arm.get(f"{GROUP}/providers/Microsoft.Web/serverfarms/shop-dev-plan")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    new = site_of(arm, n.function_app)
    assert new["properties"]["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    zip_sha = hashlib.sha256((shop.root / ".portable-fn/build/azure/dev/app.zip").read_bytes()).hexdigest()
    assert arm.state.deployed[new["id"].lower()] == [zip_sha]
    assert "WEBSITE_RUN_FROM_PACKAGE" not in settings_of(arm, n.function_app)
    assert_serves_the_new_app(arm, flex, shop, consumption)

    back = pipeline.deploy(provider, shop, "dev")
    assert "~ update app service plan shop-dev-plan (replace: FC1 -> Y1)" in [s.describe() for s in back.plan.steps]
    site = site_of(arm, n.function_app)
    assert "functionAppConfig" not in site["properties"]
    assert settings_of(arm, n.function_app)["WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"] == "SystemAssigned"
    assert arm.state.mounted[site["id"].lower()] == settings_of(arm, n.function_app)["WEBSITE_RUN_FROM_PACKAGE"]
    assert_serves_the_new_app(arm, provider, shop, new)


def test_remove_after_switching_the_setting_still_removes_everything(
    provider: Any, arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    """`plan_sku` changed to FC1 but never deployed: remove with the new settings still finds the Y1 app,
    its plan and all that hangs on the app, and leaves nothing of the stage."""
    pipeline.deploy(provider, shop, "dev")
    flex = flex_provider(shop, arm, certificate, azurite, helpers)
    outcome = pipeline.remove(flex, shop, "dev")
    assert outcome.plan.count("delete") == SHOP_STEPS
    assert not [k for k in arm.state.resources if "/resourcegroups/shop-dev-rg" in k]
    assert pipeline.remove(provider, shop, "dev").plan.empty


@pytest.mark.parametrize(
    "fails",
    [
        "DELETE /serverfarms/shop-dev-plan",
        "PUT /serverfarms/shop-dev-plan",
        "PUT /sites/{site}",
        "PUT /sites/{site}/config/appsettings",
        "PUT /eventsubscriptions/{subscription}",
    ],
)
def test_a_switch_that_fails_half_way_converges_when_rerun(
    fails: str, provider: Any, arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    pipeline.deploy(provider, shop, "dev")
    n = names(provider, shop)
    consumption = site_of(arm, n.function_app)
    flex = flex_provider(shop, arm, certificate, azurite, helpers)
    method, suffix = fails.split(" ")
    arm.fail_once(method, suffix.format(site=n.function_app, subscription=subscription_name("on_upload")))
    with pytest.raises(DeployError, match="injected outage"):
        pipeline.deploy(flex, shop, "dev")
    pipeline.deploy(flex, shop, "dev")
    assert arm.get(f"{GROUP}/providers/Microsoft.Web/serverfarms/shop-dev-plan")["sku"]["name"] == "FC1"
    assert_serves_the_new_app(arm, flex, shop, consumption)


@pytest.mark.parametrize("plan_sku", ["Y1", "FC1"])
def test_a_package_step_that_fails_is_done_again_by_the_rerun(
    plan_sku: str, provider: Any, arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    """The settings are written before the host is told (sync triggers) or the package published (Flex):
    when that second call fails, a rerun must make it again, though the settings already match."""
    target = provider if plan_sku == "Y1" else flex_provider(shop, arm, certificate, azurite, helpers)
    site = names(target, shop).function_app
    arm.fail_once("POST", f"/sites/{site}/syncfunctiontriggers" if plan_sku == "Y1" else "/api/publish")
    with pytest.raises(DeployError, match="injected outage"):
        pipeline.deploy(target, shop, "dev")
    pipeline.deploy(target, shop, "dev")
    stored = site_of(arm, site)["id"].lower()
    if plan_sku == "Y1":
        assert arm.state.mounted.get(stored) == settings_of(arm, site)["WEBSITE_RUN_FROM_PACKAGE"]
    else:
        assert len(arm.state.deployed.get(stored, [])) == 1
    assert pipeline.plan(target, shop, "dev").plan.empty


# -- roles Azure has not applied yet ------------------------------------------------------------------
def waiting_provider(
    shop: Any, arm: Any, certificate: Any, azurite: str, helpers: Any, plan_sku: str, **extra: Any
) -> Any:
    settings = helpers.settings_for(shop, "dev", certificate, azurite, plan_sku=plan_sku, retry_every_s=0.01, **extra)
    return helpers.ArmProvider(settings, arm.url)


@pytest.mark.parametrize("plan_sku", ["Y1", "FC1"])
def test_the_first_deploy_waits_for_the_new_roles_to_take_effect(
    plan_sku: str, arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    """Azure applies new role assignments after a while: until then the host cannot read its package
    (syncing triggers answers an error from the host runtime) or the platform cannot write a published
    package into the deployment container (BlobUploadFailedException). The first deploy waits it out."""
    arm.state.role_delay = 3
    provider = waiting_provider(shop, arm, certificate, azurite, helpers, plan_sku)
    messages: list[str] = []
    pipeline.deploy(provider, shop, "dev", messages.append)
    waits = [m for m in messages if "waiting for the app's new roles to take effect" in m]
    assert waits and all(("syncing the triggers" if plan_sku == "Y1" else "publishing the package") in m for m in waits)
    action = "syncfunctiontriggers" if plan_sku == "Y1" else "/api/publish"
    answered = [r.status for r in arm.state.requests if r.path.lower().endswith(action)]
    assert answered[: len(waits)] == [400] * len(waits) and answered[-1] < 300
    site = site_of(arm, names(provider, shop).function_app)
    if plan_sku == "Y1":  # the host mounted the package the settings name, and the app is tagged with it
        mounted = arm.state.mounted[site["id"].lower()]
        assert mounted == settings_of(arm, site["name"])["WEBSITE_RUN_FROM_PACKAGE"]
        assert mounted.endswith("/" + site["tags"]["portable-fn-release"])
    else:
        assert len(arm.state.deployed[site["id"].lower()]) == 1
        assert settings_of(arm, site["name"])["PORTABLE_FN_PACKAGE"].endswith("/" + site["tags"]["portable-fn-release"])
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_a_refusal_without_a_role_granted_in_this_run_is_not_waited_for(deployed: Any, shop: Any, arm: Any) -> None:
    """The roles were there before this run: a refusal is not Azure catching up, and fails at once."""
    deployed.code = "# the handlers changed\n"
    arm.fail_once(
        "POST",
        "/syncfunctiontriggers",
        400,
        "BadRequest",
        "Encountered an error (ServiceUnavailable) from host runtime.",
    )
    with pytest.raises(DeployError, match="from host runtime"):
        pipeline.deploy(deployed, shop, "dev")
    assert len([r for r in arm.state.requests if r.path.lower().endswith("syncfunctiontriggers")]) == 2
    pipeline.deploy(deployed, shop, "dev")
    assert pipeline.plan(deployed, shop, "dev").plan.empty


@pytest.mark.parametrize("plan_sku", ["Y1", "FC1"])
def test_event_subscriptions_wait_for_the_host_that_took_the_new_package(
    plan_sku: str, arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    """Event Grid checks a subscription's function, or the blobs webhook's handshake, when it is written:
    right after the package release the host is still starting, and deploy waits for it."""
    arm.state.host_start_delay = 2
    provider = waiting_provider(shop, arm, certificate, azurite, helpers, plan_sku)
    messages: list[str] = []
    pipeline.deploy(provider, shop, "dev", messages.append)
    waits = [m for m in messages if "waiting for the app's host to start with its new package" in m]
    assert waits and all("event subscription" in m for m in waits)
    refused = [
        r
        for r in arm.state.requests
        if "/eventsubscriptions/" in r.path.lower() and r.method == "PUT" and r.status == 400
    ]
    assert len(refused) == 2  # the first subscription written, twice, then the host is up
    assert len([k for k in arm.state.resources if "/eventsubscriptions/" in k]) == 2
    assert pipeline.plan(provider, shop, "dev").plan.empty


# what never takes effect: the waited step, Azure's refusal in the message, the setting, how it clears
NEVER = {
    "roles": ("role_delay", "role_wait_s", "package release", ("from host runtime",), "pending_roles"),
    "host": (
        "host_start_delay",
        "host_wait_s",
        "create event subscription",
        ("Destination endpoint not found", "validation handshake failed"),
        "starting",
    ),
}


@pytest.mark.parametrize("what", sorted(NEVER))
def test_what_never_takes_effect_fails_with_what_to_do_and_a_rerun_converges(
    what: str, arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    delay, setting, step, refusals, pending = NEVER[what]
    setattr(arm.state, delay, 10_000)
    provider = waiting_provider(shop, arm, certificate, azurite, helpers, "Y1", **{setting: 0.2})
    with pytest.raises(DeployError) as raised:
        pipeline.deploy(provider, shop, "dev")
    message = str(raised.value)
    assert step in message and "still refused" in message and f"`{setting}`" in message
    assert any(refusal in message for refusal in refusals) and "run `portable-fn deploy` again" in message
    getattr(arm.state, pending).clear()  # Azure caught up meanwhile
    rerun = pipeline.deploy(provider, shop, "dev")
    assert step in rerun.plan.steps[0].describe()  # only what was left
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_a_role_for_an_identity_the_directory_has_not_seen_yet_is_granted_once_it_has(
    arm: Any, shop: Any, blobs: Any, certificate: Any, azurite: str, helpers: Any
) -> None:
    """A managed identity made moments ago may not have reached the directory: ARM answers the role
    assignment PrincipalNotFound until it has, and deploy waits for it rather than failing."""
    provider = waiting_provider(shop, arm, certificate, azurite, helpers, "Y1")
    arm.state.principal_delay = 2
    messages: list[str] = []
    pipeline.deploy(provider, shop, "dev", messages.append)
    waits = [m for m in messages if "waiting for the app's new identity to reach the directory" in m]
    assert waits and all("granting the role assignment" in m for m in waits)
    refused = [r for r in arm.state.requests if "/roleassignments/" in r.path.lower() and r.status == 400]
    assert len(refused) == 2
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_an_app_granted_built_in_roles_before_moves_to_its_custom_roles(deployed: Any, shop: Any, arm: Any) -> None:
    """An app deployed before deploy defined custom roles holds Microsoft's built-in roles for what it declares
    (Storage Table Data Contributor on each state table, the queue and topic senders'): the next deploy defines
    the custom roles, grants them and takes the built-in ones away, and the plan after it is empty."""
    n = names(deployed, shop)
    retired = {  # the built-in role each use had, by GUID (Azure's built-in roles reference)
        definition_id(n, STATE_WRITER): "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        definition_id(n, QUEUE_SENDER): "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
        definition_id(n, TOPIC_SENDER): "d5a91429-5739-47e2-a06b-3470a27159e7",
    }
    for key, found in list(arm.state.resources.items()):  # back to what the earlier deploy made
        props = found.get("properties") or {}
        if found.get("type") == "Microsoft.Authorization/roleDefinitions":
            del arm.state.resources[key]
        elif props.get("roleDefinitionId") in retired:
            del arm.state.resources[key]
            role = f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{retired[props['roleDefinitionId']]}"
            name = uuid.uuid5(ROLE_NAMESPACE, f"{props['scope']}|{role}|{props['principalId']}".lower())
            path = f"{props['scope']}/providers/Microsoft.Authorization/roleAssignments/{name}"
            old = {**found, "id": path, "name": str(name), "properties": {**props, "roleDefinitionId": role}}
            arm.state.resources[path.lower()] = old
    steps = [(s.action, s.resource.kind) for s in pipeline.deploy(deployed, shop, "dev").plan.steps]
    assert sorted(steps) == sorted(
        [("create", "role definition")] * SHOP_ROLES
        + [("create", "role assignment")] * (SHOP_GRANTS - HOST_GRANTS)  # all but the host's 3 on the account
        + [("delete", "role assignment")] * (SHOP_GRANTS - HOST_GRANTS)
    )
    held = {r["properties"]["roleDefinitionId"] for r in arm.state.resources.values() if r.get("type") == ROLE_TYPE}
    assert held.isdisjoint(f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{g}" for g in retired.values())
    assert pipeline.plan(deployed, shop, "dev").plan.empty


# -- each function's own identity -------------------------------------------------------------------------
def test_each_declaring_function_gets_its_own_identity_and_a_failure_half_way_converges(
    provider: Any, shop: Any, arm: Any
) -> None:
    """The identities are PUT (held to Microsoft.ManagedIdentity's spec), attached to the site beside its own,
    their client ids in the settings, every declared role on one of them; an identity PUT that fails is made by
    the rerun, which then attaches it and grants it; remove deletes the identities after their role assignments."""
    n = names(provider, shop)
    functions = ("confirm_payment", "create_order", "place_order-run")  # the shop's functions that declare a use
    arm.fail_once("PUT", f"/userAssignedIdentities/{n.identity('create_order')}")
    with pytest.raises(DeployError, match="injected outage"):
        pipeline.deploy(provider, shop, "dev")
    rerun = pipeline.deploy(provider, shop, "dev")
    assert ("create", "managed identity") in [(s.action, s.resource.kind) for s in rerun.plan.steps]
    identities = f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    own = {f: arm.get(f"{identities}/{n.identity(f)}") for f in functions}
    assert {f: found["tags"]["portable-fn-function"] for f, found in own.items()} == {f: f for f in functions}
    puts = [r for r in arm.state.requests if r.method == "PUT" and "/userassignedidentities/" in r.path.lower()]
    assert {r.query["api-version"] for r in puts} == {"2023-01-31"} and len({r.path for r in puts}) == 3

    site = site_of(arm, n.function_app)
    assert site["identity"]["type"] == "SystemAssigned, UserAssigned"
    assert site["identity"]["userAssignedIdentities"] == {
        found["id"]: {k: found["properties"][k] for k in ("principalId", "clientId")} for found in own.values()
    }
    settings = settings_of(arm, n.function_app)
    assert {k: v for k, v in settings.items() if k.startswith("PORTABLE_FN_IDENTITY_")} == {
        "PORTABLE_FN_IDENTITY_" + f.upper().replace("-", "_"): own[f]["properties"]["clientId"] for f in functions
    }
    granted = [r["properties"] for r in arm.state.resources.values() if r.get("type") == ROLE_TYPE]
    principals = {found["properties"]["principalId"] for found in own.values()}
    assert sum(p["principalId"] in principals for p in granted) == SHOP_GRANTS - HOST_GRANTS
    assert sum(p["principalId"] == site["identity"]["principalId"] for p in granted) == HOST_GRANTS
    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, shop, "dev").plan.empty and provider.deployer.client.mutating_calls() == []

    since = len(arm.state.requests)
    pipeline.remove(provider, shop, "dev")
    deleted = [r.path.lower() for r in arm.state.requests[since:] if r.method == "DELETE"]
    last_role = max(i for i, path in enumerate(deleted) if "/roleassignments/" in path)
    assert [i for i, path in enumerate(deleted) if "/userassignedidentities/" in path] and all(
        i > last_role for i, path in enumerate(deleted) if "/userassignedidentities/" in path
    )
    assert not [k for k in arm.state.resources if "/userassignedidentities/" in k]

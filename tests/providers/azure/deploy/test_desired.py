"""The pure half of Azure deploy: names within Azure's rules, the resources an app needs, and the
planner over in-memory remote states. No endpoint is involved."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.deploy import AzureDeployer, container_name, queue_name
from portable_fn_azure.deploy.naming import Names, dead_letter_queue, subscription_name
from portable_fn_azure.deploy.resources import (
    AppSettings,
    EventGridTopic,
    EventSubscription,
    FunctionApp,
    FunctionPlan,
    StorageQueue,
    SystemTopic,
)
from portable_fn_azure.settings import AzureSettings

from portable_fn import queue
from portable_fn.deploy import Artifact, RemoteState, make_plan
from portable_fn.runtime.errors import ConfigError, UnsupportedTriggerError
from portable_fn.runtime.function import FunctionSpec

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
ARTIFACT = Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1)


@pytest.fixture
def deployer() -> AzureDeployer:
    return AzureDeployer({"subscription_id": SUBSCRIPTION, "location": "westeurope"})


def test_globally_unique_names_fit_azure_rules() -> None:
    names = Names("a-very-long-application-name", "production", SUBSCRIPTION)
    assert re.fullmatch(r"[a-z0-9]{3,24}", names.storage_account)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,58}[a-z0-9]", names.function_app)
    assert names.storage_account != Names("a-very-long-application-name", "production", "other-sub").storage_account
    assert queue_name("Orders_In") == "orders-in" and container_name("uploads") == "uploads"
    assert len(queue_name("q" * 80) + "-poison") <= 63


def test_shop_needs_one_function_app_and_its_storage(deployer: AzureDeployer, shop: Any) -> None:
    resources = deployer.desired(shop, "dev", ARTIFACT)
    assert [r.kind for r in resources] == [
        "resource group",
        "storage account",
        "blob container",
        "blob container",
        "blob container",
        *["storage queue"] * 8,  # orders and the order workflow's queue, each with its poison queue; the
        # dead-letter queues of sweep, nightly_report, on_upload and notify (`dead_letter_queue`)
        *["state table"] * 4,
        "package blob",
        "app service plan",
        *["managed identity"] * 3,  # the own identities of the functions that declare a use
        "function app",
        "event grid topic",
        *["role definition"] * 3,  # custom (`roles`): the state writer, the queue and the topic sender
        *["role assignment"] * 13,  # the host's 3 on the account; per function 6 on tables, 3 on the queue, 1 topic
        "app settings",
        "package release",
        "event grid system topic",
        "event subscription",
        "event subscription",
    ]
    settings = dict(next(r for r in resources if isinstance(r, AppSettings)).settings)
    release = next(r for r in resources if r.kind == "package release")
    assert (release.package, release.flex) == (f"shop-dev/{'ab' * 32}.zip", False)
    assert release.package_url == settings["WEBSITE_RUN_FROM_PACKAGE"]
    assert settings["WEBSITE_RUN_FROM_PACKAGE"].endswith(f"/portable-fn-packages/shop-dev/{'ab' * 32}.zip")
    assert "?" not in settings["WEBSITE_RUN_FROM_PACKAGE"]  # the SAS is added only when written
    assert make_plan(resources, RemoteState(resources)).empty


def test_a_named_resource_group_is_used_not_owned(shop: Any) -> None:
    deployer = AzureDeployer({"subscription_id": SUBSCRIPTION, "location": "westeurope", "resource_group": "mine"})
    resources = deployer.desired(shop, "dev", ARTIFACT)
    assert "resource group" not in [r.kind for r in resources]
    assert {getattr(r, "resource_group", "mine") for r in resources} == {"mine"}


def test_missing_settings_say_what_to_set(shop: Any) -> None:
    with pytest.raises(ConfigError, match="subscription_id"):
        AzureDeployer({"location": "westeurope"}).desired(shop, "dev", ARTIFACT)
    with pytest.raises(ConfigError, match=r"azure.plan_sku: use 'Y1', .*not 'S1'"):
        AzureDeployer({"plan_sku": "S1"})


def test_the_deployer_reads_typed_settings_and_a_misspelled_key_is_refused_with_the_right_one() -> None:
    config = AzureDeployer(AzureSettings(location="westeurope", plan_sku="FC1")).config
    assert (config.location, config.plan_sku, config.role_wait_s) == ("westeurope", "FC1", 600)
    with pytest.raises(ConfigError, match=r"tool.portable-fn.azure.plan_skus: .*'plan_sku'"):
        AzureDeployer({"plan_skus": "FC1"})


def _bindings(fn: Any) -> dict[str, Any]:
    """The trigger binding of an indexed function, as the host reads it from function.json."""
    return next(b for b in json.loads(fn.get_function_json())["bindings"] if b["type"].endswith("Trigger"))


def test_every_subscription_reaches_a_function_bound_to_take_it(
    deployer: AzureDeployer, every_app: Any, indexed: Any
) -> None:
    """The destinations name functions as the generated function_app.py registers them, with the binding
    that takes that delivery: a blob trigger with the Event Grid source for the blobs webhook, an Event
    Grid trigger for an AzureFunction destination."""
    resources = deployer.desired(every_app, "dev", ARTIFACT)
    functions = indexed(every_app)
    subscriptions = [r for r in resources if isinstance(r, EventSubscription)]
    assert len(subscriptions) == 3  # news, photos created, photos deleted
    for sub in subscriptions:
        if sub.endpoint_type == "WebHook":
            function = sub.destination.split("functionName=Host.Functions.")[1]
            binding = _bindings(functions[function])
            assert (binding["type"], binding["source"]) == ("blobTrigger", "EventGrid")
        else:
            function = sub.destination.split("/functions/")[1]
            assert _bindings(functions[function])["type"] == "eventGridTrigger"
        assert sub.name.endswith("/" + subscription_name(function))


def test_storage_and_topic_triggers_get_their_event_grid_resources(deployer: AzureDeployer, every_app: Any) -> None:
    by_key = {r.key: r for r in deployer.desired(every_app, "dev", ARTIFACT)}
    names = deployer.names(every_app, "dev")
    system = by_key[("event grid system topic", "every-dev-storage-events")]
    assert isinstance(system, SystemTopic) and system.source == names.account_id
    created = by_key[("event subscription", f"every-dev-storage-events/{subscription_name('on_photo')}")]
    assert isinstance(created, EventSubscription)
    assert (created.event_types, created.subject_begins_with, created.subject_ends_with) == (
        ("Microsoft.Storage.BlobCreated",),
        "/blobServices/default/containers/photos/blobs/raw/",
        ".jpg",
    )
    deleted = by_key[("event subscription", f"every-dev-storage-events/{subscription_name('on_photo_deleted')}")]
    assert isinstance(deleted, EventSubscription) and deleted.event_types == ("Microsoft.Storage.BlobDeleted",)
    assert (deleted.endpoint_type, deleted.delivery_schema) == ("AzureFunction", "EventGridSchema")
    topic = by_key[("event grid topic", names.topic("news"))]
    assert isinstance(topic, EventGridTopic) and topic.input_schema == "CloudEventSchemaV1_0"
    assert re.fullmatch(r"every-dev-news-[0-9a-f]{6}", topic.name)


def test_service_bus_topics_get_no_event_grid_topic(deployer: AzureDeployer, every_app: Any) -> None:
    app = copy.copy(every_app)
    app.config = every_app.config.model_copy(
        update={"azure": {**every_app.config.azure, "topic_transport": "service_bus"}}
    )
    kinds = [r.kind for r in deployer.desired(app, "dev", ARTIFACT)]
    assert "event grid topic" not in kinds and kinds.count("event subscription") == 2  # the storage ones
    site = FunctionApp(deployer.names(app, "dev").function_app, host_name="every.azurewebsites.net")
    outputs = deployer.outputs(app, "dev", RemoteState([site]))
    assert outputs["functions"]["on_news"] == {"trigger": "topic", "topic": "news", "provisioned": False}


def test_a_service_bus_function_gets_its_dead_letter_queue_and_nothing_in_the_namespace(
    deployer: AzureDeployer, every_app: Any
) -> None:
    """Each Service Bus function's `pfdl-` Storage Queue (what its output binding writes to) is planned in the
    app's account, as each timer's and blob function's; the Storage Queues a Storage Queue trigger would
    have had are not."""
    app = copy.copy(every_app)
    app.config = every_app.config.model_copy(
        update={"azure": {**every_app.config.azure, "queue_transport": "service_bus", "topic_transport": "service_bus"}}
    )
    desired = deployer.desired(app, "dev", ARTIFACT)
    queues = {r.queue for r in desired if isinstance(r, StorageQueue)}
    functions = ("work", "slow", "on_news", "every_quarter", "weekdays", "on_photo", "on_photo_deleted")
    assert queues == {dead_letter_queue(name) for name in functions}
    planned = [(s.action, s.resource.kind, s.resource.name) for s in make_plan(desired, RemoteState([])).steps]
    account = deployer.names(app, "dev").storage_account
    assert ("create", "storage queue", f"{account}/{dead_letter_queue('work')}") in planned


def test_a_queue_named_like_a_dead_letter_queue_is_refused(every_app: Any) -> None:
    from portable_fn_azure.codegen import check

    app = copy.copy(every_app)
    app.config = every_app.config.model_copy(
        update={"azure": {**every_app.config.azure, "topic_transport": "service_bus"}}
    )
    check(app)
    clash = next(s for s in app.functions if s.trigger.kind == "queue")
    renamed = FunctionSpec(clash.name, clash.handler, queue(dead_letter_queue("on_news")), clash.options)
    app.functions = [renamed] + [s for s in app.functions if s is not clash]
    with pytest.raises(UnsupportedTriggerError, match=r"where function 'on_news' keeps its dead letters"):
        check(app)


def test_flex_consumption_is_a_plan_sku_with_its_own_settings(shop: Any) -> None:
    deployer = AzureDeployer({"subscription_id": SUBSCRIPTION, "location": "westeurope", "plan_sku": "FC1"})
    by_kind = {r.kind: r for r in deployer.desired(shop, "dev", ARTIFACT)}
    plan, app, settings = by_kind["app service plan"], by_kind["function app"], by_kind["app settings"]
    assert isinstance(plan, FunctionPlan) and (plan.sku, plan.tier) == ("FC1", "FlexConsumption")
    assert isinstance(app, FunctionApp) and app.flex and app.linux_fx_version == ""
    assert app.function_app_config()["scaleAndConcurrency"] == {"instanceMemoryMB": 2048, "maximumInstanceCount": 100}
    assert isinstance(settings, AppSettings) and "WEBSITE_RUN_FROM_PACKAGE" not in dict(settings.settings)
    for bad, match in (
        ({"instance_memory_mb": 1024}, r"azure.instance_memory_mb: use 512, 2048 or 4096"),
        ({"maximum_instance_count": 5}, r"azure.maximum_instance_count: must be 40 or more, not 5"),
    ):
        with pytest.raises(ConfigError, match=match):
            AzureDeployer({"plan_sku": "FC1", **bad})
    with pytest.raises(ConfigError, match=r"azure.storage_auth: use 'identity' or 'connection_string', not 'sas'"):
        AzureDeployer({"storage_auth": "sas"})


def test_a_move_to_or_from_flex_consumption_is_planned_as_a_replacement() -> None:
    """Azure cannot convert a plan or its app to or from Flex Consumption, so the plan says they are replaced;
    other changes stay field by field."""
    y1, fc1 = FunctionPlan("p", sku="Y1", tier="Dynamic"), FunctionPlan("p", sku="FC1", tier="FlexConsumption")
    ep1 = FunctionPlan("p", sku="EP1", tier="ElasticPremium")
    assert fc1.changed_fields(y1) == ("replace: Y1 -> FC1",) and y1.changed_fields(fc1) == ("replace: FC1 -> Y1",)
    assert ep1.changed_fields(y1) == ("sku", "tier")
    consumption = FunctionApp("app", linux_fx_version="Python|3.11")
    flex = FunctionApp("app", deployment_storage="https://a.blob.core.windows.net/d", runtime_version="3.11")
    step = make_plan([flex], RemoteState([consumption])).steps[0]
    assert step.describe() == "~ update function app app (replace: moves to Flex Consumption)"
    assert consumption.changed_fields(flex) == ("replace: moves off Flex Consumption",)
    assert FunctionApp("app", linux_fx_version="Python|3.12").changed_fields(consumption) == ("linux_fx_version",)

"""What an app needs on Azure: its functions and triggers turned into resources. Pure: no Azure call.

All functions of an app run in one function app, so the resources are per app, not per function:

    always    resource group (unless settings name one), storage account, the packages container and
              the package blob, the plan, the function app and its application settings, and (with
              `storage_auth = "identity"`, the default) the roles of the app's identity on the account
    queue     the queue and its poison queue (`<queue>-poison`, where the host moves a message after
              `maxDequeueCount` failed deliveries and where `DeadLetter` sends it at once)
    storage   the blob container the trigger watches, the storage account's Event Grid system topic and
              a subscription filtered to the container, prefix, suffix and event (BlobCreated for
              `on="created"`, delivered to the blob trigger's webhook; BlobDeleted for `on="deleted"`,
              delivered to the function's Event Grid trigger)
    topic     a custom Event Grid topic taking CloudEvents 1.0 and a subscription delivering them, in
              that schema, to the function's Event Grid trigger (with `topic_transport = "service_bus"`
              nothing: the Service Bus namespace is the user's)

Subscriptions name the function as `function_app.py` registers it (`@app.function_name(name=...)`), so
`<site>/functions/<name>` and the blobs extension's `Host.Functions.<name>` reach the right function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from portable_fn.deploy import Artifact, Resource
from portable_fn.runtime.errors import UnsupportedTriggerError
from portable_fn.runtime.triggers import Queue, Storage, Topic

from ..codegen import transports
from .naming import (
    PACKAGES_CONTAINER,
    POISON_SUFFIX,
    STORAGE_ROLES,
    Names,
    container_name,
    queue_name,
    subscription_name,
)
from .resources import (
    STORAGE_CONNECTION,
    AppSettings,
    BlobContainer,
    EventGridTopic,
    EventSubscription,
    FunctionApp,
    FunctionPlan,
    PackageBlob,
    ResourceGroup,
    RoleAssignment,
    StorageAccount,
    StorageQueue,
    SystemTopic,
    in_order,
)

PLAN_TIERS = {"Y1": "Dynamic", "EP1": "ElasticPremium", "EP2": "ElasticPremium", "EP3": "ElasticPremium"}
BLOB_EVENTS = {"created": "Microsoft.Storage.BlobCreated", "deleted": "Microsoft.Storage.BlobDeleted"}
RUNTIME_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME": "python", "FUNCTIONS_EXTENSION_VERSION": "~4"}


@dataclass(frozen=True)
class Target:
    """Everything the builders need: app, stage, names, location, the artifact and where blobs live."""

    app: Any
    stage: str
    names: Names
    location: str
    artifact: Artifact
    blob_endpoint: str  # e.g. https://<account>.blob.core.windows.net, or Azurite's http://127.0.0.1:port/<account>
    plan_sku: str = "Y1"
    identity: bool = True  # the host reaches its storage through the app's identity, not a key


def desired(target: Target) -> list[Resource]:
    """Every resource of the app, dependencies first."""
    names = target.names
    group, account = names.resource_group, names.storage_account
    resources: list[Resource] = [ResourceGroup(group, location=target.location)] if names.owns_group else []
    resources += [
        StorageAccount(account, resource_group=group, location=target.location),
        container(names, PACKAGES_CONTAINER),
        package_blob(target),
        FunctionPlan(names.plan, resource_group=group, location=target.location, sku=target.plan_sku,
                     tier=PLAN_TIERS[target.plan_sku]),
        function_app(target),
        app_settings(target),
        *(role_assignments(target) if target.identity else []),
    ]
    event_grid_topics = transports(target.app)["topic_transport"] == "event_grid"
    for spec in target.app.functions:
        resources += trigger_resources(target, spec, event_grid_topics)
    return in_order(resources)


def trigger_resources(target: Target, spec: Any, event_grid_topics: bool) -> list[Resource]:
    names, trigger = target.names, spec.trigger
    if isinstance(trigger, Queue):
        logical = queue_name(trigger.name)
        return [queue(names, logical), queue(names, logical + POISON_SUFFIX)]
    if isinstance(trigger, Storage):
        return [container(names, container_name(trigger.bucket)),
                SystemTopic(names.system_topic, resource_group=names.resource_group, location=target.location,
                            source=names.account_id),
                blob_subscription(names, spec.name, trigger)]
    if isinstance(trigger, Topic) and event_grid_topics:
        topic = names.topic(trigger.name)
        return [EventGridTopic(topic, resource_group=names.resource_group, location=target.location),
                EventSubscription(f"{topic}/{subscription_name(spec.name)}", resource_group=names.resource_group,
                                  topic=topic, destination=f"{names.site_id}/functions/{spec.name}",
                                  delivery_schema="CloudEventSchemaV1_0")]
    return []


def blob_subscription(names: Names, function: str, trigger: Storage) -> EventSubscription:
    """Blob events of the trigger's container, prefix and suffix. `created` is a blob trigger with the
    Event Grid source, reached through the blobs extension's webhook; `deleted` an Event Grid trigger."""
    topic = names.system_topic
    if trigger.on == "created":
        endpoint_type = "WebHook"
        destination = (f"https://{names.function_app}.azurewebsites.net/runtime/webhooks/blobs"
                       f"?functionName=Host.Functions.{quote(function)}")
    else:
        endpoint_type, destination = "AzureFunction", f"{names.site_id}/functions/{function}"
    return EventSubscription(
        f"{topic}/{subscription_name(function)}", resource_group=names.resource_group, topic=topic,
        system_topic=True, endpoint_type=endpoint_type, destination=destination,
        event_types=(BLOB_EVENTS[trigger.on],),
        subject_begins_with=f"/blobServices/default/containers/{container_name(trigger.bucket)}/blobs/{trigger.prefix}",
        subject_ends_with=trigger.suffix,
    )


def queue(names: Names, name: str) -> StorageQueue:
    account = names.storage_account
    return StorageQueue(f"{account}/{name}", resource_group=names.resource_group, account=account, queue=name)


def container(names: Names, name: str) -> BlobContainer:
    account = names.storage_account
    return BlobContainer(f"{account}/{name}", resource_group=names.resource_group, account=account, container=name)


def package_blob(target: Target) -> PackageBlob:
    blob = target.names.package_blob(target.artifact.sha256)
    return PackageBlob(f"{PACKAGES_CONTAINER}/{blob}", container=PACKAGES_CONTAINER, blob=blob,
                       path=str(target.artifact.path))


def package_url(target: Target) -> str:
    """The package blob's URL without a SAS (the applier adds one when it writes the setting)."""
    blob = target.names.package_blob(target.artifact.sha256)
    return f"{target.blob_endpoint.rstrip('/')}/{PACKAGES_CONTAINER}/{quote(blob)}"


def function_app(target: Target) -> FunctionApp:
    names = target.names
    return FunctionApp(
        names.function_app, resource_group=names.resource_group, location=target.location,
        plan_id=plan_id(names), linux_fx_version=f"Python|{target.app.config.python}",
    )


def role_assignments(target: Target) -> list[RoleAssignment]:
    """The storage roles of the app's identity; Storage Account Contributor only when a blob trigger needs it."""
    names = target.names
    roles = list(STORAGE_ROLES)
    if not any(isinstance(s.trigger, Storage) and s.trigger.on == "created" for s in target.app.functions):
        roles.remove("Storage Account Contributor")
    return [RoleAssignment(f"{names.storage_account}/{role}", scope=names.account_id,
                           role_definition_id=names.role_definition_id(role)) for role in roles]


def plan_id(names: Names) -> str:
    return names.arm_id("Microsoft.Web/serverfarms", names.plan)


def app_settings(target: Target) -> AppSettings:
    """App defaults < stage < the functions' own env < the runtime's and portable-fn's own settings. The
    host's storage is the account name (reached with the app's identity), or the connection string."""
    config, names = target.app.config, target.names
    stage = config.stages.get(target.stage)
    values: dict[str, str] = {**config.defaults.env, **(stage.env if stage else {})}
    for spec in target.app.functions:
        values.update(spec.options.env)
    values.update({
        **RUNTIME_SETTINGS,
        **({"AzureWebJobsStorage__accountName": names.storage_account} if target.identity
           else {"AzureWebJobsStorage": STORAGE_CONNECTION}),
        "WEBSITE_RUN_FROM_PACKAGE": package_url(target),
        "PORTABLE_FN_APP": target.app.name, "PORTABLE_FN_STAGE": target.stage, "PORTABLE_FN_PROVIDER": "azure",
    })
    return AppSettings(names.function_app, resource_group=names.resource_group, settings=tuple(sorted(values.items())))


def check_env(app: Any) -> None:
    """One function app has one set of settings: two functions must not set one variable differently."""
    seen: dict[str, tuple[str, str]] = {}
    for spec in app.functions:
        for key, value in spec.options.env.items():
            if key in seen and seen[key][1] != value:
                raise UnsupportedTriggerError(
                    f"Functions {seen[key][0]!r} and {spec.name!r} on azure set env {key!r} to different values, "
                    "but all functions of an app share one function app and its settings. Use one value, or "
                    "move the variable to [tool.portable-fn.defaults] env."
                )
            seen[key] = (spec.name, value)


def check_storage_auth(value: str) -> bool:
    """True for `identity` (the default), False for `connection_string`."""
    if value not in ("identity", "connection_string"):
        raise UnsupportedTriggerError(
            f"Deploying to azure: storage_auth {value!r} is not supported; use \"identity\" (the function app's "
            "managed identity, with role assignments on the storage account) or \"connection_string\" (a key "
            "in the app settings) under [tool.portable-fn.azure]."
        )
    return value == "identity"


def check_plan_sku(sku: str) -> str:
    if sku not in PLAN_TIERS:
        raise UnsupportedTriggerError(
            f"Deploying to azure: plan_sku {sku!r} is not supported; use one of {', '.join(PLAN_TIERS)} "
            "(Y1 is Linux Consumption) under [tool.portable-fn.azure]."
        )
    return sku

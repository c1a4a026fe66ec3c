"""What a user needs after a deploy, read from the remote state: the function app, its URL, the table of
each state, where each topic and queue a function sends to is, and per function how to reach or feed it
(HTTP URL, queue and poison queue, container, the Event Grid topic's endpoint that takes CloudEvents 1.0,
and the container folder Event Grid dead-letters into, which `portable-fn dead-letters` reads)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portable_fn.deploy import RemoteState
from portable_fn.runtime import triggers

from ..codegen import transports
from .desired import transport_of
from .naming import POISON_SUFFIX, Names, container_name, queue_name, subscription_name, table_name
from .resources import (
    BlobContainer,
    EventGridTopic,
    EventSubscription,
    FunctionApp,
    StateTable,
    StorageAccount,
    StorageQueue,
)

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionSpec


def outputs(app: App, stage: str, remote: RemoteState, names: Names, location: str) -> dict[str, Any]:
    site = remote.get((FunctionApp.kind, names.function_app))
    host = site.host_name if isinstance(site, FunctionApp) else ""
    deployed = isinstance(site, FunctionApp)
    out: dict[str, Any] = {
        "provider": "azure",
        "location": location,
        "stage": stage,
        "resource_group": names.resource_group,
        "function_app": names.function_app if deployed else None,
        "storage_account": names.storage_account if (StorageAccount.kind, names.storage_account) in remote else None,
        "states": state_outputs(app, remote, names),
        "buckets": bucket_outputs(app, remote, names),
        "channels": channel_outputs(app, remote, names),
        "functions": {},
    }
    if not deployed:
        return out
    out["url"] = f"https://{host}" if host else ""
    event_grid = transports(app)["topic_transport"] == "event_grid"
    out["functions"] = {
        spec.name: {
            "trigger": spec.trigger.kind,
            **trigger_outputs(spec.trigger, host),
            **event_grid_outputs(spec, remote, names, event_grid),
        }
        for spec in app.functions
    }
    return out


def event_grid_outputs(spec: FunctionSpec, remote: RemoteState, names: Names, event_grid: bool) -> dict[str, Any]:
    """The subscription delivering to the function, and for a topic the endpoint publishers POST to. A
    Service Bus topic (`topic_transport = "service_bus"`) is the user's: deploy provisions nothing."""
    trigger, kind = spec.trigger, spec.trigger.kind
    if isinstance(trigger, triggers.Topic) and not event_grid:
        return {"topic": trigger.name, "provisioned": False}
    if not isinstance(trigger, (triggers.Topic, triggers.Storage)):
        return {}
    topic = names.topic(trigger.name) if isinstance(trigger, triggers.Topic) else names.system_topic
    subscription = f"{topic}/{subscription_name(spec.name)}"
    found_subscription = remote.get((EventSubscription.kind, subscription))
    out: dict[str, Any] = {"subscription": subscription if found_subscription else None}
    if isinstance(found_subscription, EventSubscription) and found_subscription.dead_letter_container:
        # the folder Event Grid writes this subscription's dead letters into (`grid_letters`)
        out["dead_letters"] = f"{found_subscription.dead_letter_container}/{subscription_name(spec.name).upper()}/"
    if kind == "topic":
        found = remote.get((EventGridTopic.kind, topic))
        out.update(topic=topic, endpoint=found.endpoint if isinstance(found, EventGridTopic) else None)
    return out


def channel_outputs(app: App, remote: RemoteState, names: Names) -> dict[str, dict[str, Any]]:
    """Each topic and queue a function sends to (`<kind> <name>`): its queue or Event Grid topic and endpoint
    once deployed; a Service Bus entity is the user's (`provisioned`: False)."""
    out: dict[str, dict[str, Any]] = {}
    for channel in app.channels:
        where: dict[str, Any] = {"senders": [s.name for s in app.senders(channel)]}
        transport = transport_of(app, channel)
        if transport == "storage_queue":
            deployed = (StorageQueue.kind, f"{names.storage_account}/{queue_name(channel.name)}") in remote
            where["queue"] = queue_name(channel.name) if deployed else None
        elif transport == "event_grid":
            found = remote.get((EventGridTopic.kind, names.topic(channel.name)))
            where["topic"] = found.name if isinstance(found, EventGridTopic) else None
            where["endpoint"] = found.endpoint if isinstance(found, EventGridTopic) else None
        else:
            where.update(service_bus=queue_name(channel.name), provisioned=False)
        out[f"{channel.kind} {channel.name}"] = where
    return out


def state_outputs(app: App, remote: RemoteState, names: Names) -> dict[str, str | None]:
    """Each state's table in the app's account (None until deployed)."""
    tables = {s.name: f"{names.storage_account}/{table_name(s.name)}" for s in app.states}
    return {name: key.split("/", 1)[1] if (StateTable.kind, key) in remote else None for name, key in tables.items()}


def bucket_outputs(app: App, remote: RemoteState, names: Names) -> dict[str, str | None]:
    """Each declared bucket's container in the app's account (None until deployed)."""
    found = {b.name: f"{names.storage_account}/{container_name(b.name)}" for b in app.buckets}
    return {name: key.split("/", 1)[1] if (BlobContainer.kind, key) in remote else None for name, key in found.items()}


def trigger_outputs(trigger: triggers.Trigger, host: str) -> dict[str, Any]:
    if isinstance(trigger, triggers.Http):
        return {"url": f"https://{host}/api{trigger.path}" if host else "", "method": trigger.method}
    if isinstance(trigger, triggers.Queue):
        return {"queue": queue_name(trigger.name), "poison_queue": queue_name(trigger.name) + POISON_SUFFIX}
    if isinstance(trigger, triggers.Storage):
        return {"container": container_name(trigger.bucket)}
    return {}

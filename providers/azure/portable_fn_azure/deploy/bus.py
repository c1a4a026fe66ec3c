"""The MaxDeliveryCount of the Service Bus entities an app's functions receive from, set from their retry policy.

A Service Bus function's message is dead-lettered by the shim itself on the last attempt of the function's
`RetryPolicy` (the reason, function and attempt on it, in the function's own dead-letter queue: see the
shim). Service Bus moves a message to the entity's `$deadletterqueue` by itself after the entity's
MaxDeliveryCount deliveries, whatever the function asked. So that the function's attempts run in full and
Service Bus only catches an invocation that never returned (a crash, a timeout), the entity's
MaxDeliveryCount is the policy's attempts + 1: on the queue, or on the topic's subscription named after the
function (the subscription its trigger binds, see `codegen`).

The namespace and its entities are the user's. When `service_bus_namespace_id` names the namespace, deploy
reads each entity and writes it back whole with only that count changed (an ARM PUT replaces what it is not
given), never creates or deletes an entity (a missing one is an error naming it), and `remove` leaves the
count as deploy set it (`BusDeliveryCount.kept_because`). Without the namespace's id, `plan` names the value
to set (`retries.service_bus_notes`).

Service Bus's management API, api-version 2021-11-01 (Azure/azure-rest-api-specs, specification/servicebus/
resource-manager/Microsoft.ServiceBus/stable/2021-11-01, Queue.json and subscriptions.json; facts relied
on): `GET` and `PUT` of `<namespace id>/queues/<queue>` and of
`<namespace id>/topics/<topic>/subscriptions/<subscription>`; the body is an SBQueue / SBSubscription, whose
`properties.maxDeliveryCount` is an int32, 10 unless set; read-only members (`countDetails`, `createdAt`,
`updatedAt`, `accessedAt`, `sizeInBytes`, `messageCount`, `systemData`) are ignored in a request. Deploy
installs no Service Bus SDK: the requests go through `AzureClient.arm_request`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portable_fn.runtime.errors import DeployError
from portable_fn.runtime.triggers import Queue, Topic

from .. import codegen
from .appliers import Applier
from .client import AzureClient, missing
from .resources import BusDeliveryCount

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionSpec

BUS_API = "2021-11-01"  # Microsoft.ServiceBus's api-version (no SDK of it is installed: raw ARM requests)
READ_ONLY = ("countDetails", "createdAt", "updatedAt", "accessedAt", "sizeInBytes", "messageCount")


def entity_id(namespace: str, spec: FunctionSpec) -> str:
    """The ARM id of what `spec` receives from: its queue, or its subscription of the topic."""
    trigger = spec.trigger
    if isinstance(trigger, Queue):
        return f"{namespace}/queues/{codegen.physical_queue(trigger.name)}"
    assert isinstance(trigger, Topic), "only queue and topic functions receive through Service Bus"
    return f"{namespace}/topics/{codegen.physical_queue(trigger.name)}/subscriptions/{spec.name}"


def delivery_counts(app: App, namespace: str) -> list[BusDeliveryCount]:
    """What the app wants of the entities its Service Bus functions receive from (none without the namespace)."""
    if not namespace:
        return []
    return [
        BusDeliveryCount(entity_id(namespace, spec), max_delivery_count=codegen.max_attempts(app, spec) + 1)
        for spec in app.functions
        if codegen.on_service_bus(app, spec)
    ]


def read(azure: AzureClient, wanted: list[BusDeliveryCount]) -> list[BusDeliveryCount]:
    """The count each wanted entity has now; an entity that is not there is left out (its plan step is then a
    create, which refuses, naming it)."""
    found = []
    for resource in wanted:
        entity = get(azure, resource.name)
        if entity is not None:
            count = int((entity.get("properties") or {}).get("maxDeliveryCount") or 10)
            found.append(BusDeliveryCount(resource.name, max_delivery_count=count))
    return found


def get(azure: AzureClient, entity: str) -> dict[str, Any] | None:
    """The entity as ARM answers it, or None when it does not exist."""
    try:
        return dict(azure.arm_request("GET", entity, api_version=BUS_API).json() or {})
    except Exception as exc:
        if missing(exc):
            return None
        raise


def write_count(azure: AzureClient, resource: BusDeliveryCount) -> None:
    """Read the entity and PUT it back with only its MaxDeliveryCount changed."""
    entity = get(azure, resource.name)
    if entity is None:
        kind = "subscription" if "/subscriptions/" in resource.name.split("/providers/", 1)[-1] else "queue"
        raise DeployError(
            f"The Service Bus {kind} {resource.name} does not exist. It is yours (service_bus_namespace_id names "
            f"its namespace): create it, then deploy again; deploy only sets its MaxDeliveryCount "
            f"({resource.max_delivery_count})."
        )
    properties = {k: v for k, v in (entity.get("properties") or {}).items() if k not in READ_ONLY}
    body = {"properties": {**properties, "maxDeliveryCount": resource.max_delivery_count}}
    azure.arm_request("PUT", resource.name, body, api_version=BUS_API)


class BusDeliveryCounts(Applier[BusDeliveryCount]):
    """Sets an entity's MaxDeliveryCount (`write_count`), the same read and PUT for a create or an update; never
    deletes anything (the count is kept: `BusDeliveryCount.kept_because`)."""

    def create(self, resource: BusDeliveryCount) -> None:
        write_count(self.azure, resource)

    def delete(self, resource: BusDeliveryCount) -> None:
        return None  # the entity and its count are the user's

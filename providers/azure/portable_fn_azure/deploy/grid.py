"""The Event Grid appliers: custom topics, the storage account's system topic, and the subscriptions that
deliver their events to the functions. Kept apart from `appliers` (same `Applier` base and `ApplyContext`)
because a webhook subscription also reads, and when missing sets, a key of the function app's host.
"""

from __future__ import annotations

import secrets
from typing import Any

from .appliers import Applier, ApplyContext
from .client import arm_json
from .resources import APP_HOST, EventGridTopic, EventSubscription, SystemTopic

BLOBS_KEY = "blobs_extension"  # the host's system key the blob trigger's Event Grid webhook checks
# Event Grid's defaults, stated: a subscription's attempts when the function declares no RetryPolicy (its
# declared attempts otherwise, `EventSubscription.max_delivery_attempts`) and an event's time to live
EVENT_RETRY = {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440}


class EventGridTopics(Applier[EventGridTopic]):
    def create(self, resource: EventGridTopic) -> None:
        body = {
            "location": resource.location,
            "tags": self.ctx.tags_for(resource),
            "properties": {"inputSchema": resource.input_schema},
        }
        poller = self.azure.eventgrid.topics.begin_create_or_update(resource.resource_group, resource.name, body)
        self.ctx.wait(poller, f"event grid topic {resource.name}")

    def update(self, resource: EventGridTopic, previous: EventGridTopic, changes: tuple[str, ...]) -> None:
        scope = self.arm_id(resource.resource_group, "Microsoft.EventGrid/topics", resource.name)
        if self.retag(resource, previous, changes, scope):
            self.create(resource)

    def delete(self, resource: EventGridTopic) -> None:
        topics = self.azure.eventgrid.topics
        self.tolerate_missing(
            lambda: self.ctx.wait(
                topics.begin_delete(resource.resource_group, resource.name),
                f"deleting event grid topic {resource.name}",
            )
        )


class SystemTopics(Applier[SystemTopic]):
    def create(self, resource: SystemTopic) -> None:
        body = {
            "location": resource.location,
            "tags": self.ctx.tags_for(resource),
            "properties": {"source": resource.source, "topicType": resource.topic_type},
        }
        topics = self.azure.eventgrid.system_topics
        poller = topics.begin_create_or_update(resource.resource_group, resource.name, body)
        self.ctx.wait(poller, f"event grid system topic {resource.name}")

    def update(self, resource: SystemTopic, previous: SystemTopic, changes: tuple[str, ...]) -> None:
        scope = self.arm_id(resource.resource_group, "Microsoft.EventGrid/systemTopics", resource.name)
        if self.retag(resource, previous, changes, scope):
            self.create(resource)

    def delete(self, resource: SystemTopic) -> None:
        topics = self.azure.eventgrid.system_topics
        self.tolerate_missing(
            lambda: self.ctx.wait(
                topics.begin_delete(resource.resource_group, resource.name),
                f"deleting event grid system topic {resource.name}",
            )
        )


class EventSubscriptions(Applier[EventSubscription]):
    """Subscriptions on custom and system topics. A webhook to the blobs extension goes to the function
    app's `defaultHostName` (read from the app when the subscription is written: not every app is
    `<app>.azurewebsites.net`) and carries the host's `blobs_extension` system key, read from the app too
    (and set there when the host has none yet). Event Grid checks the function or webhook when the
    subscription is written, so right after a new package the host is waited for (the plan's `waits_for`,
    `Releases.settles`)."""

    def __init__(self, ctx: ApplyContext, site: str) -> None:
        super().__init__(ctx)
        self.site = site

    def operations(self, resource: EventSubscription) -> Any:
        grid = self.azure.eventgrid
        return grid.system_topic_event_subscriptions if resource.system_topic else grid.topic_event_subscriptions

    def create(self, resource: EventSubscription) -> None:
        filters: dict[str, Any] = {
            "subjectBeginsWith": resource.subject_begins_with,
            "subjectEndsWith": resource.subject_ends_with,
        }
        if resource.event_types:
            filters["includedEventTypes"] = list(resource.event_types)
        body = {
            "properties": {
                "destination": self.destination(resource),
                "filter": filters,
                "eventDeliverySchema": resource.delivery_schema,
                "retryPolicy": {
                    "maxDeliveryAttempts": resource.max_delivery_attempts,
                    "eventTimeToLiveInMinutes": EVENT_RETRY["eventTimeToLiveInMinutes"],
                },
            }
        }
        if resource.dead_letter_container:
            body["properties"]["deadLetterDestination"] = {
                "endpointType": "StorageBlob",
                "properties": {
                    "resourceId": resource.dead_letter_account,
                    "blobContainerName": resource.dead_letter_container,
                },
            }
        name, what = resource.name.split("/", 1)[1], f"event subscription {resource.name}"
        operations = self.operations(resource)
        self.until_settled(
            lambda: self.ctx.wait(
                operations.begin_create_or_update(resource.resource_group, resource.topic, name, body), what
            ),
            what,
        )

    def destination(self, resource: EventSubscription) -> dict[str, Any]:
        if resource.endpoint_type == "WebHook":
            group = resource.resource_group
            url = f"{resource.destination.replace(APP_HOST, self.host(group))}&code={self.blobs_key(group)}"
            return {"endpointType": "WebHook", "properties": {"endpointUrl": url}}
        return {
            "endpointType": "AzureFunction",
            "properties": {
                "resourceId": resource.destination,
                "maxEventsPerBatch": 1,
                "preferredBatchSizeInKilobytes": 64,
            },
        }

    def host(self, group: str) -> str:
        """The function app's `defaultHostName` as ARM answers it now (after the app was created or updated)."""
        host = arm_json(self.azure.web.web_apps.get(group, self.site)).get("properties", {}).get("defaultHostName")
        if not host:
            raise LookupError(
                f"function app {self.site} has no default host name yet, so no webhook can reach "
                "it; check the app in the portal"
            )
        return str(host)

    def blobs_key(self, group: str) -> str:
        web = self.azure.web.web_apps
        key = (arm_json(web.list_host_keys(group, self.site)).get("systemKeys") or {}).get(BLOBS_KEY)
        if not key:
            key = secrets.token_urlsafe(40)
            web.create_or_update_host_secret(
                group, self.site, "systemKeys", BLOBS_KEY, {"name": BLOBS_KEY, "value": key}
            )
        return str(key)

    def delete(self, resource: EventSubscription) -> None:
        operations, name = self.operations(resource), resource.name.split("/", 1)[1]
        self.tolerate_missing(
            lambda: self.ctx.wait(
                operations.begin_delete(resource.resource_group, resource.topic, name),
                f"deleting event subscription {resource.name}",
            )
        )

"""The Azure publisher: CloudEvents sent to the Storage Queues, Service Bus entities and Event Grid topics
deploy made, from inside a function. Ships in the package when a function sends (`packaging`).

Deploy sets `PORTABLE_FN_QUEUE_<NAME>` / `PORTABLE_FN_TOPIC_<NAME>` (`channels.locator_env`) to a locator
that names the transport, as the app's `queue_transport` / `topic_transport` chose it, and where to send:

| locator                                      | sent with                                              |
|----------------------------------------------|--------------------------------------------------------|
| `storage-queue:<connection setting>/<queue>` | azure-storage-queue `send_message`: the event's JSON   |
|                                              | in base64, as the host's queue trigger decodes it; a   |
|                                              | delay is the message's `visibility_timeout`            |
| `service-bus:<connection setting>/<entity>`  | azure-servicebus, a `ServiceBusMessage` per event      |
|                                              | (`application/cloudevents+json`); a delay is its       |
|                                              | `scheduled_enqueue_time_utc`                           |
| `event-grid:<topic endpoint>`                | an HTTPS POST of the batch (CloudEvents 1.0,           |
|                                              | `application/cloudevents-batch+json`: Event Grid's     |
|                                              | PublishCloudEventEvents, api-version 2018-01-01)       |

A connection setting is the app setting the queue trigger's binding names (`storage_connection`,
`service_bus_connection`), read as the Functions host reads it: a connection string in `<setting>`, else
the identity-based form (`<setting>__queueServiceUri` or `<setting>__accountName`, `<setting>__fullyQualifiedNamespace`)
reached with the running function's own managed identity (`identity.client_id`), else the app's
(`<setting>__clientId` for a user-assigned one). An Event
Grid topic takes the key in `<locator env>_KEY` when deploy set one (`storage_auth = "connection_string"`),
else an Entra token of the managed identity for `https://eventgrid.azure.net/.default` (EventGrid Data Sender).

Storage Queue delays a message for at most 7 days (`MAX_DELAY_S`; a workflow waits longer in hops), and the
message then lives 7 days more. Service Bus schedules as far ahead as asked; the same 7 days are kept as
`max_delay_s`, one figure for the app whatever its transport. Topics take no delay: asked one, the
publisher refuses. An event larger than a Storage Queue message (64 KiB in base64) or an Event Grid publish
(1 MB) is refused before anything is sent; Event Grid takes events in POSTs of up to 1 MB. No events: nothing
is sent. The SDKs are imported on first send only.
"""

from __future__ import annotations

import base64
import math
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.channels import CONTENT_TYPE, TOPIC, Channel, PublishError, encode, locator, locator_env

from .identity import client_id, managed_identity

if TYPE_CHECKING:
    from portable_fn.runtime.cloudevent import CloudEvent

Events = Sequence["CloudEvent[Any]"]

STORAGE_QUEUE, SERVICE_BUS, EVENT_GRID = "storage-queue", "service-bus", "event-grid"
MAX_DELAY_S = 7 * 24 * 3600.0  # Storage Queue's longest visibility timeout
KEPT_S = 7 * 24 * 3600  # how long a delayed message lives once visible (Storage Queue's default time to live)
GRID_SCOPE = "https://eventgrid.azure.net/.default"
GRID_API_VERSION = "2018-01-01"  # Event Grid's data plane (PublishCloudEventEvents), required as `api-version`
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"
TIMEOUT_S = 30.0
MAX_QUEUE_MESSAGE = 64 * 1024  # a Storage Queue message, as sent (base64)
MAX_GRID_BATCH = 1024 * 1024  # an Event Grid publish request: events of at most this, batched up to it


class AzurePublisher:
    """Sends to the channels this function app's settings locate. `env` is where the settings are read
    (os.environ in the cloud), `credential(client_id)` makes the managed identity's credential (azure-identity's
    ManagedIdentityCredential by default), `client_options` go to every SDK client made (a `raw_response_hook`,
    `connection_verify`), and `urlopen` posts to Event Grid. An SDK client is made once per connection and
    kept for the process."""

    max_delay_s = MAX_DELAY_S

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        credential: Callable[[str | None], Any] | None = None,
        urlopen: Callable[..., Any] = urllib.request.urlopen,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.env = os.environ if env is None else env
        self.credential = credential or managed_identity
        self.urlopen = urlopen
        self.options = dict(client_options or {})
        self._clients: dict[str, Any] = {}

    def publish(self, channel: Channel, events: Events, delay_s: float = 0.0) -> None:
        transport, _, where = self.locate(channel).partition(":")
        send = {STORAGE_QUEUE: self.to_storage_queue, SERVICE_BUS: self.to_service_bus, EVENT_GRID: self.to_topic}
        if transport not in send:
            raise PublishError(
                f"{channel!r}: {locator_env(channel.kind, channel.name)} names no transport portable-fn knows "
                f"({transport!r}); deploy sets it: run `portable-fn deploy` again."
            )
        if delay_s > 0 and (channel.kind == TOPIC or transport == EVENT_GRID):
            raise PublishError(f"{channel!r}: a topic takes no delay (asked {delay_s:g} s); send to a queue to delay.")
        if delay_s > self.max_delay_s:
            raise PublishError(
                f"{channel!r}: a delay of {delay_s:g} s is longer than Azure keeps a message hidden "
                f"({self.max_delay_s:g} s); send it in hops of at most max_delay_s."
            )
        if not events:
            return
        try:
            send[transport](channel, where, events, delay_s)
        except PublishError:
            raise
        except Exception as exc:  # the SDKs' and urllib's errors, said with the channel
            raise PublishError(f"{channel!r}: sending {len(events)} event(s) failed: {exc}") from exc

    def locate(self, channel: Channel) -> str:
        found = self.env.get(locator_env(channel.kind, channel.name))
        return found if found else locator(channel)  # unset: the runtime's error, naming the fix

    # -- Storage Queue ---------------------------------------------------------------------------------
    def to_storage_queue(self, channel: Channel, where: str, events: Events, delay_s: float) -> None:
        setting, _, queue = where.rpartition("/")
        client = self.client(f"queue:{where}", lambda: self.queue_client(channel, setting, queue))
        hidden = math.ceil(delay_s) if delay_s > 0 else None
        ttl = hidden + KEPT_S if hidden else None
        bodies = [base64.b64encode(encode(event)).decode("ascii") for event in events]
        for event, body in zip(events, bodies):  # all checked before any is sent
            fits(
                channel, event, len(body), MAX_QUEUE_MESSAGE, "in base64, over the 64 KiB a Storage Queue message holds"
            )
        for body in bodies:
            client.send_message(body, visibility_timeout=hidden, time_to_live=ttl)

    def queue_client(self, channel: Channel, setting: str, queue: str) -> Any:
        from azure.storage.queue import QueueClient

        connection = self.env.get(setting)
        if connection:
            return QueueClient.from_connection_string(connection, queue, **self.options)
        service = self.env.get(f"{setting}__queueServiceUri") or self.env.get(f"{setting}__serviceUri")
        account = self.env.get(f"{setting}__accountName")
        if not service and account:
            service = f"https://{account}.queue.core.windows.net"
        if not service:
            raise PublishError(self.no_connection(channel, setting, "__accountName"))
        credential = self.credential(self.identity(setting))
        return QueueClient(service, queue, credential=credential, **self.options)

    # -- Service Bus -----------------------------------------------------------------------------------
    def to_service_bus(self, channel: Channel, where: str, events: Events, delay_s: float) -> None:
        setting, _, entity = where.rpartition("/")
        sender = self.client(f"bus:{channel.kind}:{where}", lambda: self.bus_sender(channel, setting, entity))
        sender.send_messages(bus_messages(events, delay_s))

    def bus_sender(self, channel: Channel, setting: str, entity: str) -> Any:
        try:
            from azure.servicebus import ServiceBusClient
        except ImportError as exc:
            raise PublishError(
                f'{channel!r} is a Service Bus entity (queue_transport or topic_transport = "service_bus" under '
                "[tool.portable-fn.azure]) but azure-servicebus is not installed in the function app; deploy "
                "adds it to requirements.txt when a function sends: run `portable-fn deploy` again."
            ) from exc
        connection = self.env.get(setting)
        namespace = self.env.get(f"{setting}__fullyQualifiedNamespace")
        if connection:
            client = ServiceBusClient.from_connection_string(connection, **self.options)
        elif namespace:
            client = ServiceBusClient(namespace, self.credential(self.identity(setting)), **self.options)
        else:
            raise PublishError(self.no_connection(channel, setting, "__fullyQualifiedNamespace"))
        if channel.kind == TOPIC:
            return client.get_topic_sender(topic_name=entity)
        return client.get_queue_sender(queue_name=entity)

    # -- Event Grid ------------------------------------------------------------------------------------
    def to_topic(self, channel: Channel, where: str, events: Events, delay_s: float) -> None:
        items = [encode(event) for event in events]
        for event, item in zip(events, items):
            fits(channel, event, len(item), MAX_GRID_BATCH - 2, "over the 1 MB an Event Grid publish takes")
        batch: list[bytes] = []
        for item in items:  # as many events per POST as fit in 1 MB
            if batch and sum(len(b) + 1 for b in batch) + len(item) + 1 > MAX_GRID_BATCH:
                self.post_batch(channel, where, batch)
                batch = []
            batch.append(item)
        self.post_batch(channel, where, batch)

    def post_batch(self, channel: Channel, where: str, items: list[bytes]) -> None:
        body = b"[" + b",".join(items) + b"]"
        headers = {"Content-Type": BATCH_CONTENT_TYPE, **self.grid_auth(channel)}
        url = f"{where}{'&' if '?' in where else '?'}api-version={GRID_API_VERSION}"
        request = urllib.request.Request(url, body, headers, method="POST")
        try:
            with self.urlopen(request, timeout=TIMEOUT_S) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise PublishError(
                f"{channel!r}: Event Grid answered {exc.code} to {len(items)} event(s): {detail or exc.reason}"
                + (
                    " (the function app's identity needs EventGrid Data Sender on the topic: deploy grants it)"
                    if exc.code in (401, 403)
                    else ""
                )
            ) from exc

    def grid_auth(self, channel: Channel) -> dict[str, str]:
        key = self.env.get(locator_env(channel.kind, channel.name) + "_KEY")
        if key:
            return {"aeg-sas-key": key}
        token = self.client("grid-credential", lambda: self.credential(client_id(self.env))).get_token(GRID_SCOPE).token
        return {"Authorization": f"Bearer {token}"}

    # -- shared ----------------------------------------------------------------------------------------
    def client(self, key: str, make: Callable[[], Any]) -> Any:
        """One SDK client per connection and identity (the running function's own, `identity.client_id`), made
        on first use and kept for the process: a function never sends with a client another one's identity
        signed."""
        key = f"{key}|{client_id(self.env) or ''}"
        if key not in self._clients:
            self._clients[key] = make()
        return self._clients[key]

    def identity(self, setting: str) -> str | None:
        """The client id to send with: the running function's own identity, else the one the connection
        setting names (`<setting>__clientId`), else None (the app's system-assigned identity)."""
        return client_id(self.env) or self.env.get(f"{setting}__clientId")

    def no_connection(self, channel: Channel, setting: str, identity_form: str) -> str:
        return (
            f"{channel!r}: the app setting {setting!r} (the connection its binding names) is unset, and so is "
            f"{setting}{identity_form}; set one of them on the function app, or deploy again."
        )


def fits(channel: Channel, event: CloudEvent[Any], size: int, limit: int, what: str) -> None:
    """PublishError when one event is larger than the transport takes, before Azure refuses it."""
    if size > limit:
        raise PublishError(
            f"{channel!r}: event {event.id!r} is {size} bytes {what}; send a reference to the data (a blob, a "
            "state key) in the event instead."
        )


def bus_messages(events: Events, delay_s: float = 0.0) -> list[Any]:
    """A `ServiceBusMessage` per event: its JSON (`application/cloudevents+json`, which the shim reads as the
    event carried), the event's id as the message id, enqueued `delay_s` from now when delayed."""
    from azure.servicebus import ServiceBusMessage

    at = datetime.now(timezone.utc) + timedelta(seconds=delay_s) if delay_s > 0 else None
    return [
        ServiceBusMessage(encode(event), content_type=CONTENT_TYPE, message_id=event.id, scheduled_enqueue_time_utc=at)
        for event in events
    ]


def open_publisher() -> AzurePublisher:
    """The publisher `portable_fn.runtime.channels.publisher()` opens when PORTABLE_FN_PROVIDER is azure."""
    return AzurePublisher()

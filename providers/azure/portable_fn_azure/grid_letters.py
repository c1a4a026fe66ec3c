"""`portable-fn dead-letters FUNCTION --provider azure [--redrive]` for a function Event Grid delivers to
(a topic trigger, blob events): reading the dead-letter blobs Event Grid wrote, and sending topic events back.
Provider side (azure-storage-blob, through the deploy side's client).

Where and what, as Microsoft documents it (NOTICE: facts relied on, not copied text):
- https://learn.microsoft.com/en-us/azure/event-grid/manage-event-delivery ("Set dead-letter location and
  retry policy"): Event Grid writes blobs `<container>/<EVENT SUBSCRIPTION NAME IN UPPER CASE>/<YYYY>/<M>/<D>/
  <H>/<guid>.json`, the date and hour in UTC and not zero-padded; a blob holds one or more events.
- https://learn.microsoft.com/en-us/azure/event-grid/delivery-and-retry ("Event Grid message delivery and
  retry", dead-letter events): each dead-lettered event is the event as delivered (Event Grid schema or
  CloudEvents 1.0) plus the members `deadLetterReason`, `deliveryAttempts`, `lastDeliveryOutcome`,
  `lastHttpStatusCode`, `publishTime` and `lastDeliveryAttemptTime`; a blob's body is a JSON array of them.

Each event is one `DeadLetterEntry`, oldest blob first and in blob order within one:

| field    | from                                                                                          |
|----------|-----------------------------------------------------------------------------------------------|
| reason   | the event's `deadletterreason` extension when the shim dead-lettered it, else `deadLetterReason` |
| attempts | `deliveryAttempts` (else the shim's `deadletterattempt`)                                      |
| time     | `lastDeliveryAttemptTime` (else `publishTime`, else when the blob was written)                 |
| where    | `blob <container>/<blob path>`                                                                |
| event    | the CloudEvent, Event Grid's members taken off (an Event Grid schema event converted)          |

Redrive: a topic function's blobs have their events POSTed back to the function's custom topic, the
CloudEvents 1.0 endpoint deploy created (`aeg-sas-key` header, `application/cloudevents-batch+json`),
without Event Grid's members or the shim's `deadletter*` extensions, then the blob is deleted: a blob is
never both redriven and kept, nor lost when its publish fails. Event Grid has no way to publish to one
subscription, so every function subscribed to the same topic gets a redriven event again (as with a
publisher's retry). Blob events come from the storage account's system topic, which only Azure Storage
publishes to: they go to the function's webhook on the app's host instead, each exactly as Event Grid
delivered it (`exact`; `host_redrive`), the blob deleted once the host took them.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any

from portable_fn.provider import DeadLetterEntry
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import REASON, dead_letter_info, undead
from portable_fn.runtime.errors import InvalidEventError, ProviderError

from .events import event_grid_to_cloudevent

# What Event Grid adds to each event it dead-letters (the delivery-and-retry page above).
GRID_MEMBERS = (
    "deadLetterReason",
    "deliveryAttempts",
    "lastDeliveryOutcome",
    "lastHttpStatusCode",
    "publishTime",
    "lastDeliveryAttemptTime",
)
# The same in lower case, as a CloudEvent's extension attributes must be spelt: read too. `deadletterreason`
# is left out, as it is portable-fn's own extension (`runtime.dead_letters`): read as the reason either way.
LOWER_MEMBERS = tuple(m.lower() for m in GRID_MEMBERS if m.lower() != REASON)
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"
PUBLISH_TIMEOUT_S = 30
SYSTEM_TOPIC_REFUSAL = (
    "Function {function!r} on azure: its dead letters are blob events from the storage account's Event Grid "
    "system topic {topic!r}, which only Azure Storage can publish to, so portable-fn cannot send them back; "
    "they are kept in {where}. List them with `portable-fn dead-letters {function} --provider azure`, then "
    "write the blobs again (or delete them again) so Azure Storage raises the events anew, and delete each "
    "dead-letter blob yourself once it is handled."
)

Publish = Callable[[list[dict[str, Any]]], None]


def blob_prefix(subscription: str) -> str:
    """Where Event Grid puts the dead letters of event subscription `subscription` in the container."""
    return subscription.upper() + "/"


class TopicPublisher:
    """POSTs CloudEvents to an Event Grid custom topic's endpoint with its access key (`aeg-sas-key`)."""

    def __init__(self, endpoint: str, key: str, host: str | None = None) -> None:
        self.endpoint = endpoint
        self.key = key
        self.host = host  # a Host header of its own (an emulator standing in for the topic's host)

    def __call__(self, events: list[dict[str, Any]]) -> None:
        headers = {"aeg-sas-key": self.key, "Content-Type": BATCH_CONTENT_TYPE}
        if self.host:
            headers["Host"] = self.host
        request = urllib.request.Request(self.endpoint, json.dumps(events).encode(), headers, method="POST")
        with urllib.request.urlopen(request, timeout=PUBLISH_TIMEOUT_S) as response:
            response.read()


class GridDeadLetters:
    """One event subscription's dead-letter blobs, read through `container` (an azure.storage.blob
    ContainerClient). `publish` sends events back to the function's topic; None for a system topic, whose
    `topic` name the refusal gives. `exact`: what is sent is each event as Event Grid delivered it (a blob
    event, to the function's webhook), else its CloudEvent without dead-letter extensions (to a topic)."""

    def __init__(
        self,
        container: Any,
        function: str,
        subscription: str,
        publish: Publish | None,
        topic: str = "",
        exact: bool = False,
    ) -> None:
        self.container = container
        self.function = function
        self.prefix = blob_prefix(subscription)
        self.publish = publish
        self.topic = topic
        self.exact = exact

    @property
    def where(self) -> str:
        return f"{self.container.container_name}/{self.prefix}"

    def read(self, redrive: bool = False) -> list[DeadLetterEntry]:
        """Every dead-lettered event, oldest blob first; with `redrive`, each blob's events published back
        (to the topic, or to the function's webhook) and the blob deleted."""
        if redrive and self.publish is None:
            raise ProviderError(SYSTEM_TOPIC_REFUSAL.format(function=self.function, topic=self.topic, where=self.where))
        entries: list[DeadLetterEntry] = []
        for blob in self.blobs():
            events = self.events_of(blob.name)
            found = [self.entry(blob, event) for event in events]
            if redrive and self.publish is not None:
                self.publish([delivered(e) if self.exact else sent_back(e) for e in events])
                self.container.delete_blob(blob.name)
                for entry in found:
                    entry.redriven = True
            entries += found
        return entries

    def blobs(self) -> list[Any]:
        """The dead-letter blobs, oldest first: by the hour their path names, then by when each was written."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            found = list(self.container.list_blobs(name_starts_with=self.prefix))
        except ResourceNotFoundError:
            return []  # no container (not deployed yet): no dead letters
        return sorted(found, key=lambda b: (hour_of(b.name), b.creation_time or b.last_modified, b.name))

    def events_of(self, name: str) -> list[dict[str, Any]]:
        """The dead-lettered events a blob holds: a JSON array (one object alone is read too)."""
        body = json.loads(self.container.download_blob(name).readall())
        return [e for e in (body if isinstance(body, list) else [body]) if isinstance(e, dict)]

    def entry(self, blob: Any, dead: dict[str, Any]) -> DeadLetterEntry:
        event = cloudevent_of(dead)
        info = None if event is None else dead_letter_info(event)
        attempts = member(dead, "deliveryAttempts")
        if not isinstance(attempts, int) and info is not None:
            attempts = info["attempt"]
        moment = member(dead, "lastDeliveryAttemptTime") or member(dead, "publishTime")
        if not moment:
            written = blob.creation_time or blob.last_modified
            moment = written.isoformat() if isinstance(written, datetime) else None
        return DeadLetterEntry(
            function=info["function"] if info and info["function"] else self.function,
            id=event.id if event is not None else str(dead.get("id", blob.name)),
            reason=info["reason"] if info else dead.get("deadLetterReason"),
            attempts=attempts if isinstance(attempts, int) else None,
            time=str(moment) if moment else None,
            where=f"blob {self.container.container_name}/{blob.name}",
            event=json.loads(event.to_json()) if event is not None else None,
        )


def hour_of(name: str) -> tuple[int, ...]:
    """The UTC year, month, day and hour a blob's path names (`.../<YYYY>/<M>/<D>/<H>/<guid>.json`, numbers
    not zero-padded, so compared as numbers); () when the path is not in that layout."""
    parts = name.split("/")[-5:-1]
    return tuple(int(p) for p in parts) if len(parts) == 4 and all(p.isdigit() for p in parts) else ()


def member(dead: dict[str, Any], name: str) -> Any:
    """One of Event Grid's dead-letter members, spelt as documented or in lower case."""
    return dead[name] if name in dead else dead.get(name.lower())


def delivered(dead: dict[str, Any]) -> dict[str, Any]:
    """The event as Event Grid delivered it: its dead-letter members taken off."""
    return {k: v for k, v in dead.items() if k not in GRID_MEMBERS and k not in LOWER_MEMBERS}


def cloudevent_of(dead: dict[str, Any]) -> CloudEvent[Any] | None:
    """The CloudEvent of a dead-lettered event (either schema), or None when it is not one."""
    try:
        return event_grid_to_cloudevent(delivered(dead))
    except (InvalidEventError, KeyError, ValueError, TypeError):
        return None


def sent_back(dead: dict[str, Any]) -> dict[str, Any]:
    """What is published back: the CloudEvent without the shim's dead-letter extensions (the delivered
    event as it was when it is not a CloudEvent)."""
    event = cloudevent_of(dead)
    if event is None:
        return delivered(dead)
    return dict(json.loads(undead(event).to_json()))

"""`portable-fn dead-letters FUNCTION --provider azure [--redrive]` for a Service Bus function: what Service Bus
itself dead-lettered, in the `$deadletterqueue` of the queue or topic subscription the function receives from.
The shim writes its own letters to a Storage Queue (`sb_letters`); Service Bus moves a message to the entity's
dead-letter queue when the shim could not: MaxDeliveryCount deliveries without an answer (the host crashed or
timed out, a message the host could not bind), its time to live ran out, or it broke a limit. Provider side,
standard library only, through the REST API and the connection `sb_letters` uses (a SAS rule or Entra).

What is relied on, as Microsoft documents it (facts, not copied text):
- https://learn.microsoft.com/azure/service-bus-messaging/service-bus-dead-letter-queues: every queue and
  every subscription has a dead-letter subqueue, `<queue>/$deadletterqueue` and
  `<topic>/Subscriptions/<subscription>/$deadletterqueue`, read like any queue; Service Bus sets the
  `DeadLetterReason` and `DeadLetterErrorDescription` properties on what it moves there (MaxDeliveryCountExceeded,
  TTLExpiredException, HeaderSizeExceeded, MaxTransferHopCountExceeded, "Session ID is null").
- https://learn.microsoft.com/rest/api/servicebus/peek-lock-message-non-destructive-read: `POST
  {path}/messages/head?timeout=<seconds>` locks the first unlocked message: 201 with the body, `BrokerProperties`
  (JSON: `MessageId`, `LockToken`, `SequenceNumber`, `DeliveryCount`, `EnqueuedTimeUtc`...), the custom
  properties as headers and `Location` (the locked message's URI); 204 when none came within the timeout; 401
  authorization, 410 no such queue or subscription.
- https://learn.microsoft.com/rest/api/servicebus/unlock-message: `PUT` on that URI
  (`{path}/messages/{messageId|sequenceNumber}/{lockToken}`) releases the lock.
- https://learn.microsoft.com/rest/api/servicebus/delete-message: `DELETE` on it completes the message: 200, 404
  when no message holds that lock (it ran out).
- https://learn.microsoft.com/dotnet/api/azure.messaging.servicebus.servicebusreceivedmessage.deliverycount:
  the delivery count grows when a lock is released or runs out. REST has no lock-free peek, so each listing
  locks and releases every letter and adds one to its `DeliveryCount` (the attempts shown).
- Authorization, and sending back, as `sb_letters` says (its Send Message and SAS pages).

A listing locks the letters one by one (at most LIMIT; the entries say when there are more), then unlocks them
all: nothing is consumed. `--redrive` sends each to the function's queue or topic as it came (body, content
type, message id, custom properties but the dead-letter ones; a portable-fn dead letter without its dead-letter
extensions) and deletes it only once Service Bus answered 201: never both kept and redriven, never lost.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from portable_fn.provider import DeadLetterEntry
from portable_fn.runtime.channels import CONTENT_TYPE, encode
from portable_fn.runtime.dead_letters import dead_letter_info, undead
from portable_fn.runtime.errors import InvalidEventError, ProviderError
from portable_fn.runtime.triggers import Queue, Topic

from .codegen import physical_queue
from .event_letters import EARLIEST
from .events import service_bus_to_cloudevent
from .sb_letters import TIMEOUT_S, Authorization, ServiceBusSender, connection_for, unset

if TYPE_CHECKING:
    from portable_fn.runtime.cloudevent import CloudEvent
    from portable_fn.runtime.function import FunctionSpec

LIMIT = 100  # the most letters one listing or redrive takes
WAIT_S = 1  # how long a peek-lock waits for a message: the dead letters are already there
DEAD_LETTER_PROPERTIES = ("DeadLetterReason", "DeadLetterErrorDescription")
LOCK_GONE = (404, 410)  # an unlock that finds no lock: it ran out, the message is visible again
RESPONSE_HEADERS = {  # what a peek-lock answer carries besides the message's custom properties
    "brokerproperties",
    "connection",
    "content-length",
    "content-type",
    "date",
    "location",
    "server",
    "strict-transport-security",
    "transfer-encoding",
}


def standard(header: str) -> bool:
    """Whether a peek-lock answer's header is the REST API's own rather than a custom property of the message."""
    name = header.lower()
    return name in RESPONSE_HEADERS or name.startswith("x-ms-")


def dead_letter_path(spec: FunctionSpec) -> str:
    """The dead-letter queue of what `spec` receives from: its queue, or its subscription (named after the
    function, as `codegen` binds it) of the topic."""
    trigger = spec.trigger
    if isinstance(trigger, Queue):
        return f"{physical_queue(trigger.name)}/$deadletterqueue"
    assert isinstance(trigger, Topic), "only queue and topic functions receive through Service Bus"
    return f"{physical_queue(trigger.name)}/subscriptions/{spec.name}/$deadletterqueue"


@dataclass(frozen=True)
class Locked:
    """One peek-locked message: its broker properties, custom properties (header values as sent), body and
    content type, and the path of its lock (`Location`'s, else built from its MessageId and LockToken)."""

    broker: dict[str, Any]
    properties: dict[str, str]
    body: bytes
    content_type: str | None
    lock_path: str

    def custom(self, name: str) -> str | None:
        """A custom property's value: header values are JSON (a string quoted), else taken as they are."""
        value = self.properties.get(name)
        if value is None:
            return None
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return str(decoded)

    # What `events.service_bus_to_cloudevent` reads of a message, as azure.functions' ServiceBusMessage has it.
    def get_body(self) -> bytes:
        return self.body

    @property
    def application_properties(self) -> dict[str, str | None]:
        return {name: self.custom(name) for name in self.properties}

    @property
    def message_id(self) -> Any:
        return self.broker.get("MessageId")

    @property
    def subject(self) -> Any:
        return self.broker.get("Label")

    label = subject

    @property
    def partition_key(self) -> Any:
        return self.broker.get("PartitionKey")

    @property
    def enqueued_time_utc(self) -> datetime | None:
        return enqueued(self.broker)


def enqueued(broker: Mapping[str, Any]) -> datetime | None:
    """`EnqueuedTimeUtc` (an HTTP date, as the REST API writes it) as a datetime."""
    text = broker.get("EnqueuedTimeUtc")
    try:
        return parsedate_to_datetime(text) if isinstance(text, str) else None
    except (TypeError, ValueError):
        return None


class ServiceBusReceiver:
    """Peek-locks, unlocks and deletes the messages of one queue or subscription path of `namespace` (its host
    name) through the REST API. `endpoint`, when set, is where the requests go instead, the namespace's host in
    `Host`; the signed resource stays the namespace's own URI of the path."""

    def __init__(
        self,
        namespace: str,
        path: str,
        authorization: Authorization,
        endpoint: str | None = None,
        urlopen: Callable[..., Any] = urllib.request.urlopen,
    ) -> None:
        self.namespace, self.path = namespace, path
        self.quoted = quote(path, safe="/$")
        self.resource = f"https://{namespace}/{self.quoted}"
        self.base = (endpoint or f"https://{namespace}").rstrip("/")
        self.authorization = authorization
        self.host = namespace if endpoint else None
        self.urlopen = urlopen

    def lock(self) -> Locked | None:
        """The first unlocked message, locked; None when there is none."""
        status, headers, body = self.request("POST", f"/{self.quoted}/messages/head?timeout={WAIT_S}")
        if status == 204:
            return None
        if status != 201:
            raise ProviderError(self.refused("reading", status, body))
        broker = json.loads(headers.get("BrokerProperties") or "{}")
        location = headers.get("Location")
        lock_path = urlsplit(location).path if location else self.lock_path_of(broker)
        custom = {k: v for k, v in headers.items() if not standard(k)}
        return Locked(broker, custom, body, headers.get("Content-Type"), lock_path)

    def lock_path_of(self, broker: Mapping[str, Any]) -> str:
        reference = quote(str(broker.get("MessageId") or broker.get("SequenceNumber")), safe="")
        return f"/{self.quoted}/messages/{reference}/{quote(str(broker.get('LockToken')), safe='')}"

    def unlock(self, message: Locked) -> None:
        """Release the lock; one that already ran out is no error (the message is visible again)."""
        status, _, body = self.request("PUT", message.lock_path)
        if status != 200 and status not in LOCK_GONE:
            raise ProviderError(self.refused("unlocking a letter of", status, body))

    def delete(self, message: Locked) -> None:
        status, _, body = self.request("DELETE", message.lock_path)
        if status != 200:
            raise ProviderError(
                self.refused("deleting a letter (already sent back) from", status, body)
                + " That letter was redriven but is still there: delete it yourself, or it is sent again."
            )

    def request(self, method: str, path: str) -> tuple[int, Message, bytes]:
        headers = {"Authorization": self.authorization(self.resource)}
        if self.host:
            headers["Host"] = self.host
        data = None if method == "DELETE" else b""
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with self.urlopen(request, timeout=TIMEOUT_S) as response:
                return int(response.status), response.headers, bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def refused(self, doing: str, status: int, body: bytes) -> str:
        hint = {
            401: "the connection's key or the principal's token was refused",
            403: "the principal needs Azure Service Bus Data Receiver on the entity",
            404: "no message holds that lock any more",
            410: "the queue or subscription does not exist in the namespace",
        }.get(status, body.decode("utf-8", "replace")[:300] or "see the status")
        return f"Service Bus {self.namespace} answered {status} {doing} {self.path!r} ({hint})."


def receiver_for(
    env: Mapping[str, str], setting: str, path: str, credential: Callable[[], Any], endpoint: str | None = None
) -> ServiceBusReceiver:
    """The receiver of the dead-letter queue `path`, through the connection the function's binding names."""
    found = connection_for(env, setting, credential)
    if found is None:
        raise ProviderError(
            f"Reading the Service Bus dead-letter queue {path!r}: {unset(setting)}, so nothing was read. Set one "
            "of them as the function app has it (`service_bus_connection` under [tool.portable-fn.azure] names "
            "the setting), then list again."
        )
    namespace, authorization = found
    return ServiceBusReceiver(namespace, path, authorization, endpoint)


class BrokerDeadLetters:
    """What Service Bus dead-lettered for `spec` (through `receiver`); a redrive sends each to `sender`."""

    def __init__(self, receiver: ServiceBusReceiver, spec: FunctionSpec, sender: ServiceBusSender | None) -> None:
        self.receiver, self.spec, self.sender = receiver, spec, sender
        self.source = f"sb://{receiver.namespace}/{receiver.path.rsplit('/$', 1)[0]}"

    def read(self, redrive: bool = False) -> list[DeadLetterEntry]:
        """The first LIMIT letters, oldest first; with `redrive`, each sent back and deleted."""
        locked: list[Locked] = []
        try:
            more = self.lock_all(locked)
        except Exception:
            self.release(locked)
            raise
        locked.sort(key=lambda m: enqueued(m.broker) or EARLIEST)  # locked in the queue's order: oldest first
        entries = [self.entry(m, more) for m in locked]
        if not redrive:
            self.release(locked)
            return entries
        for done, (entry, message) in enumerate(zip(entries, locked)):
            try:
                self.send_back(message)
                self.receiver.delete(message)  # only once it was sent
            except Exception:
                self.release(locked[done:])  # kept, and visible again at once
                raise
            entry.redriven = True
        return entries

    def lock_all(self, locked: list[Locked]) -> bool:
        """Lock letters into `locked` until none is left or LIMIT are; whether more are there."""
        seen: set[Any] = set()
        while (message := self.receiver.lock()) is not None:
            key = message.broker.get("SequenceNumber", message.lock_path)
            if key in seen or len(locked) == LIMIT:  # its lock ran out while listing; or enough
                self.receiver.unlock(message)
                return key not in seen
            seen.add(key)
            locked.append(message)
        return False

    def release(self, messages: list[Locked]) -> None:
        for message in messages:
            self.receiver.unlock(message)

    def entry(self, message: Locked, more: bool) -> DeadLetterEntry:
        event = self.event(message)
        info = None if event is None else dead_letter_info(event)
        broker = message.broker
        attempts = info["attempt"] if info else broker.get("DeliveryCount")
        moment = enqueued(broker)
        where = f"service bus {self.receiver.path}"
        return DeadLetterEntry(
            function=info["function"] if info and info["function"] else self.spec.name,
            id=event.id if event is not None else str(broker.get("MessageId") or broker.get("SequenceNumber")),
            reason=info["reason"] if info else self.reason(message),
            attempts=attempts if isinstance(attempts, int) else None,
            time=moment.isoformat() if moment else None,
            where=f"{where} (the first {LIMIT}; it holds more)" if more else where,
            event=json.loads(event.to_json()) if event is not None else None,
        )

    @staticmethod
    def reason(message: Locked) -> str:
        """Service Bus's `DeadLetterReason` and its description."""
        reason = message.custom("DeadLetterReason") or "dead-lettered by Service Bus"
        description = message.custom("DeadLetterErrorDescription")
        return f"{reason}: {description}" if description else reason

    def event(self, message: Locked) -> CloudEvent[Any] | None:
        """The CloudEvent the function is given for this message (`events.service_bus_to_cloudevent`)."""
        try:
            return service_bus_to_cloudevent(message, self.source)
        except (InvalidEventError, ValueError, TypeError):
            return None

    def send_back(self, message: Locked) -> None:
        if self.sender is None:
            raise ProviderError(f"Redriving {self.spec.name!r}: no Service Bus sender was given.")
        event = self.event(message)
        if event is not None and dead_letter_info(event) is not None:
            back: CloudEvent[Any] = undead(event)
            self.sender.send(encode(back), CONTENT_TYPE, back.id)
            return
        kept = {k: v for k, v in message.properties.items() if k not in DEAD_LETTER_PROPERTIES}
        content_type = message.content_type or "application/octet-stream"
        self.sender.send(message.body, content_type, message.broker.get("MessageId"), kept)

"""`portable-fn dead-letters FUNCTION --provider gcp [--redrive]`: reading a function's dead-letter topic and
sending what it holds back. Provider side (google-cloud-pubsub, through the deploy side's `GcpClient`).

What reaches a function's dead-letter topic is kept by the pull subscription deploy makes on it, named like
the topic (`deploy.resources.DeadLetterSubscription`). It holds two shapes of message, each read into the same
`DeadLetterEntry`:

| message                                    | put there by                              | reason, attempts from     |
|--------------------------------------------|-------------------------------------------|---------------------------|
| a CloudEvent in binary mode (`ce-*`        | the shim (`DeadLetter`, an unreadable     | `dead_letter_info`        |
| attributes) with `deadletter*` extensions  | event: `dead_letter.publish`)             |                           |
| the original message, with Pub/Sub's       | the trigger subscription's dead-letter    | `CloudPubSubDeadLetter-   |
| `CloudPubSubDeadLetterSource*` attributes  | policy, after `maxDeliveryAttempts`       | SourceDeliveryCount`      |

Messages are pulled until a pull waits `PULL_WAIT_S` without one (a message on its way after that shows in
the next listing), listed oldest first, and released at once unless redriven. A redrive
publishes each back to the function's trigger topic the way it was first sent (the CloudEvent without
its dead-letter extensions, in binary mode; or the original message without Pub/Sub's dead-letter
attributes), then acknowledges it, so a message is never both redriven and kept, nor lost when its
publish fails. A storage trigger has no topic to send to: its dead letters are listed, not redriven.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from portable_fn.provider import DeadLetterEntry
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import REASON, dead_letter_info, undead
from portable_fn.runtime.errors import InvalidEventError, ProviderError
from portable_fn.runtime.http_binding import to_binary

from .events import MESSAGE_PUBLISHED, unwrap_message

if TYPE_CHECKING:
    from portable_fn.runtime.function import FunctionOptions, FunctionSpec

    from .deploy.client import GcpClient
    from .deploy.naming import Names

BATCH = 100
PULL_WAIT_S = 3.0  # how long a pull waits for a message before the listing takes the subscription as empty
DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"  # set by a subscription's dead-letter policy
POLICY_PREFIX = "CloudPubSubDeadLetterSource"
POLICY_MOVED = "delivered {n} times without success (moved by the subscription's dead-letter policy)"


class DeadLetters:
    """One function's dead letters, pulled from the subscription on its dead-letter topic through `gcp`."""

    def __init__(self, gcp: GcpClient, names: Names, spec: FunctionSpec, options: FunctionOptions) -> None:
        from .deploy.desired import dead_letter_topic, trigger_topic

        self.gcp, self.spec = gcp, spec
        topic = dead_letter_topic(names, spec, options)
        if not topic:
            raise ProviderError(
                f"Function {spec.name!r} on gcp has no dead-letter topic (an HTTP function, or dead_letter=False), "
                "so it has no dead letters to list."
            )
        self.subscription = names.subscription_path(topic)
        trigger = trigger_topic(names, spec)
        self.trigger_topic = names.topic_path(trigger) if trigger else ""

    def read(self, redrive: bool = False) -> list[DeadLetterEntry]:
        """Every message kept, oldest first; with `redrive`, each published back and acknowledged."""
        if redrive and not self.trigger_topic:
            raise ProviderError(
                f"Function {self.spec.name!r} on gcp is triggered by Cloud Storage events, which cannot be sent "
                "again through Eventarc: list its dead letters without --redrive, and write the objects again to "
                "have them processed."
            )
        received = sorted(self.pull(), key=lambda r: r.message.publish_time.timestamp())
        entries = [self.entry(r.message) for r in received]
        for entry, found in zip(entries, received):
            if redrive:
                self.send_back(found.message, entry)
                self.gcp.call("subscriber", "acknowledge", request=self.acks([found]))
                entry.redriven = True
        if received and not redrive:  # back to the subscription at once, for the next listing
            self.gcp.call(
                "subscriber", "modify_ack_deadline", request={**self.acks(received), "ack_deadline_seconds": 0}
            )
        return entries

    def pull(self) -> list[Any]:
        """Every message the subscription gives, once each (a message seen twice is kept once). A pull waits up
        to `PULL_WAIT_S` for messages; one that ends without any ends the listing."""
        from google.api_core.exceptions import DeadlineExceeded

        found: dict[str, Any] = {}
        while True:
            request = {"subscription": self.subscription, "max_messages": BATCH}
            try:
                batch = self.gcp.call("subscriber", "pull", request=request, timeout=PULL_WAIT_S).received_messages
            except DeadlineExceeded:
                batch = []
            except Exception as exc:
                raise self.not_found(exc) from exc
            if not batch:
                return list(found.values())
            found.update((r.message.message_id, r) for r in batch)

    def not_found(self, exc: Exception) -> Exception:
        from .deploy.client import NotFound

        if not isinstance(exc, NotFound):
            return exc
        return ProviderError(
            f"Function {self.spec.name!r} on gcp: the subscription {self.subscription} keeping its dead letters does "
            "not exist; deploy the app first (`portable-fn deploy --provider gcp`)."
        )

    def acks(self, received: list[Any]) -> dict[str, Any]:
        return {"subscription": self.subscription, "ack_ids": [r.ack_id for r in received]}

    # -- what a message says -----------------------------------------------------------------------
    def entry(self, message: Any) -> DeadLetterEntry:
        event = self.decode(message)
        info = dead_letter_info(event) if event is not None else None
        attributes = dict(message.attributes)
        if info is not None:
            reason, attempts = info["reason"], info["attempt"]
        elif DELIVERY_COUNT in attributes:
            attempts = int(attributes[DELIVERY_COUNT])
            reason = POLICY_MOVED.format(n=attempts)
        else:
            reason, attempts = None, None
        return DeadLetterEntry(
            function=self.spec.name,
            id=event.id if event is not None else message.message_id,
            reason=reason,
            attempts=attempts if isinstance(attempts, int) else None,
            time=message.publish_time.isoformat(),
            where=self.subscription,
            event=event.to_dict() if event is not None else None,
        )

    def decode(self, message: Any) -> CloudEvent[Any] | None:
        """The CloudEvent the message carries, or the one the function was given for it (its trigger topic as
        the source, as Eventarc names it); None for a message no trigger could have delivered."""
        published = message.publish_time.isoformat().replace("+00:00", "Z")
        topic = self.trigger_topic or self.subscription
        data = {
            "message": {
                "data": base64.b64encode(message.data).decode("ascii"),
                "attributes": dict(message.attributes),
                "messageId": message.message_id,
                "publishTime": published,
            },
            "subscription": self.subscription,
        }
        envelope: CloudEvent[Any] = CloudEvent(
            id=message.message_id,
            source=f"//pubsub.googleapis.com/{topic}",
            type=MESSAGE_PUBLISHED,
            time=published,
            datacontenttype="application/json",
            data=data,
        )
        try:
            return unwrap_message(envelope)[0]
        except InvalidEventError:
            return None

    def send_back(self, message: Any, entry: DeadLetterEntry) -> None:
        """Publish the message to the trigger topic as it was first sent (module docstring)."""
        if entry.event is not None and REASON in entry.event:
            attributes, body = to_binary(undead(CloudEvent.from_dict(entry.event)))
        else:
            attributes = {k: v for k, v in message.attributes.items() if not k.startswith(POLICY_PREFIX)}
            body = message.data
        request = {"topic": self.trigger_topic, "messages": [{"data": body, "attributes": attributes}]}
        self.gcp.call("pubsub", "publish", request=request)

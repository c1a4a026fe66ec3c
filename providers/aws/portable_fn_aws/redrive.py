"""`portable-fn dead-letters FUNCTION --provider aws [--redrive]`: reading a function's dead-letter queue
and sending what it holds back. Provider side (boto3, through the deploy side's `AwsClient`).

A function's dead-letter queue (`deploy.desired.dead_letter_queue`) holds three shapes of message, each
read into the same `DeadLetterEntry`:

| message                                   | put there by                            | reason, attempts from    |
|-------------------------------------------|-----------------------------------------|--------------------------|
| a CloudEvent with `deadletter*` extensions| the shim (`DeadLetter`, an unreadable   | `dead_letter_info`       |
|                                           | record)                                 |                          |
| Lambda's destination record               | Lambda, after an asynchronous           | the error message (or    |
| (`requestContext`, `requestPayload`)      | invocation's retries                    | condition), invoke count |
| the original message                      | the queue's redrive policy, after       | the policy's attempts    |
|                                           | `maxReceiveCount` receives              |                          |

Messages are received with a short visibility timeout until none is left, listed oldest first, and made
visible again at once unless redriven. A redrive sends each back the way its trigger delivers it: to the
source queue (queue triggers: the original body and attributes, or the event without its dead-letter
extensions), or as an asynchronous invocation of the function (topic, storage, schedule: Lambda's
original event, or the CloudEvent, which the shim reads in the JSON format); then deletes it from the
dead-letter queue, so a message is never both redriven and kept, nor lost when its send fails.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from portable_fn.provider import DeadLetterEntry
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import EXTENSIONS, REASON, dead_letter_info
from portable_fn.runtime.errors import ProviderError
from portable_fn.runtime.triggers import Queue

from .dead_letter import CLOUDEVENTS_JSON
from .records import sqs_to_cloudevent

if TYPE_CHECKING:
    from portable_fn.runtime.function import FunctionOptions, FunctionSpec

    from .deploy.client import AwsClient
    from .deploy.naming import Arns, Names

VISIBILITY_S = 30  # how long a listed message stays hidden should the listing stop half-way
RECEIVE_WAIT_S = 1  # long polling, so an empty answer means an empty queue (short polling samples)
QUEUE_MOVED = "delivered {n} times without success (moved by the queue's redrive policy)"


class DeadLetters:
    """One function's dead-letter queue, read through `aws`."""

    def __init__(self, aws: AwsClient, names: Names, arns: Arns, spec: FunctionSpec, options: FunctionOptions) -> None:
        from .deploy.desired import dead_letter_queue

        self.aws, self.names, self.arns, self.spec, self.options = aws, names, arns, spec, options
        self.queue = dead_letter_queue(names, spec, options)
        if not self.queue:
            raise ProviderError(
                f"Function {spec.name!r} on aws has no dead-letter queue (an HTTP function, or dead_letter=False), "
                "so it has no dead letters to list."
            )

    def read(self, redrive: bool = False) -> list[DeadLetterEntry]:
        """Every message of the queue, oldest first; with `redrive`, each sent back and deleted."""
        url = self.url()
        messages = sorted(self.receive(url), key=lambda m: int(m.get("Attributes", {}).get("SentTimestamp", 0)))
        entries = [self.entry(m) for m in messages]
        for entry, message in zip(entries, messages):
            if redrive:
                self.send_back(message, entry)
                self.aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                entry.redriven = True
            else:
                self.aws.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        return entries

    def url(self) -> str:
        try:
            return str(self.aws.sqs.get_queue_url(QueueName=self.queue)["QueueUrl"])
        except self.aws.sqs.exceptions.QueueDoesNotExist:
            raise ProviderError(
                f"Function {self.spec.name!r} on aws: its dead-letter queue {self.queue!r} does not exist; deploy "
                "the app first (`portable-fn deploy --provider aws`)."
            ) from None

    def receive(self, url: str) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        while True:
            batch = self.aws.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=VISIBILITY_S,
                WaitTimeSeconds=RECEIVE_WAIT_S,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return list(found.values())
            found.update((m["MessageId"], m) for m in batch)

    # -- what a message says -----------------------------------------------------------------------
    def entry(self, message: dict[str, Any]) -> DeadLetterEntry:
        reason, attempts, event = self.facts(message)
        sent = message.get("Attributes", {}).get("SentTimestamp")
        return DeadLetterEntry(
            function=self.spec.name,
            id=event.id if event is not None else message["MessageId"],
            reason=reason,
            attempts=attempts,
            time=datetime.fromtimestamp(int(sent) / 1000, timezone.utc).isoformat() if sent else None,
            where=self.queue,
            event=event.to_dict() if event is not None else None,
        )

    def facts(self, message: dict[str, Any]) -> tuple[str | None, int | None, CloudEvent[Any] | None]:
        """Reason, attempts and CloudEvent of a message, read as the shape it has (module docstring)."""
        destination = lambda_destination(message)
        if destination is not None:
            context = destination.get("requestContext", {})
            error = (destination.get("responsePayload") or {}).get("errorMessage")
            return (
                error or context.get("condition"),
                context.get("approximateInvokeCount"),
                self.event_in(destination.get("requestPayload")),
            )
        event = self.decode(message)
        info = dead_letter_info(event) if event is not None else None
        if info is not None:
            return info["reason"], info["attempt"], event
        attempts = self.options.max_attempts
        return QUEUE_MOVED.format(n=attempts), attempts, event

    def decode(self, message: dict[str, Any]) -> CloudEvent[Any] | None:
        """The CloudEvent a message of the queue carries (the shim's reader), None when it has none."""
        try:
            return sqs_to_cloudevent(lambda_record(message, self.arns.queue(self.queue)))
        except Exception:  # a body no trigger could have delivered: listed by its message id
            return None

    def event_in(self, payload: Any) -> CloudEvent[Any] | None:
        """The CloudEvent of the native event an asynchronous invocation was given."""
        from .shim import _record_source

        try:
            source, records = _record_source(payload, self.spec.trigger.kind)
            return source.to_cloudevent(records[0])
        except Exception:
            return None

    # -- sending it back ---------------------------------------------------------------------------
    def send_back(self, message: dict[str, Any], entry: DeadLetterEntry) -> None:
        destination = lambda_destination(message)
        trigger = self.spec.trigger
        if isinstance(trigger, Queue):
            self.to_queue(message, entry, trigger)
            return
        payload = destination.get("requestPayload") if destination is not None else without_dead_letter(entry.event)
        if payload is None:
            payload = json.loads(message["Body"])
        self.aws.lambda_.invoke(
            FunctionName=self.names.function(self.spec.name), InvocationType="Event", Payload=json.dumps(payload)
        )

    def to_queue(self, message: dict[str, Any], entry: DeadLetterEntry, trigger: Queue) -> None:
        queue = self.names.queue(trigger.name, trigger.fifo)
        params: dict[str, Any] = {"QueueUrl": self.aws.sqs.get_queue_url(QueueName=queue)["QueueUrl"]}
        if entry.event is not None and REASON in entry.event:  # the shim's: the event as it was delivered
            params["MessageBody"] = json.dumps(without_dead_letter(entry.event), separators=(",", ":"))
            params["MessageAttributes"] = {"content-type": {"DataType": "String", "StringValue": CLOUDEVENTS_JSON}}
        else:  # moved by the queue: the message as it was sent
            params["MessageBody"] = message["Body"]
            if message.get("MessageAttributes"):
                params["MessageAttributes"] = message["MessageAttributes"]
        if trigger.fifo:
            group = message.get("Attributes", {}).get("MessageGroupId") or "portable-fn-redrive"
            params.update(MessageGroupId=group, MessageDeduplicationId=f"redrive-{message['MessageId']}")
        self.aws.sqs.send_message(**params)


def lambda_destination(message: dict[str, Any]) -> dict[str, Any] | None:
    """Lambda's on-failure destination record in a message body, or None."""
    try:
        body = json.loads(message.get("Body") or "")
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("requestContext"), dict) and "requestPayload" in body:
        return body
    return None


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as boto3 receives it, in the shape Lambda's event source gives the shim."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message.get("ReceiptHandle", ""),
        "body": message.get("Body", ""),
        "attributes": message.get("Attributes", {}),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "messageAttributes": {
            name: {"stringValue": value.get("StringValue"), "dataType": value.get("DataType", "String")}
            for name, value in message.get("MessageAttributes", {}).items()
        },
    }


def without_dead_letter(event: dict[str, Any] | None) -> dict[str, Any] | None:
    """A dead-lettered CloudEvent (JSON format) as it was before: its `deadletter*` extensions removed."""
    if event is None:
        return None
    return {k: v for k, v in event.items() if k not in EXTENSIONS}

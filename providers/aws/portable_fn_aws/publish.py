"""The AWS publisher: what `ctx.emit` and workflows send CloudEvents through on Lambda.

Ships in the function zip beside the shim, but is imported only when a function first sends
(`portable_fn.runtime.channels.publisher` finds it by `PORTABLE_FN_PROVIDER=aws`); boto3, which the Lambda
Python runtime provides, is imported then too. Every message body is the event in the CloudEvents JSON
format (`channels.encode`), which the shim of the receiving function hands over unchanged.

| channel | call                                 | locator (`PORTABLE_FN_TOPIC_/QUEUE_<NAME>`) | delay          |
|---------|--------------------------------------|---------------------------------------------|----------------|
| topic   | SNS PublishBatch                     | the topic ARN                               | none (refused) |
| queue   | SQS SendMessageBatch, `DelaySeconds` | the queue URL                               | up to 900 s    |
| queue   | EventBridge Scheduler CreateSchedule | the queue URL                               | longer         |

A message is at most 256 KiB (a larger event is refused before anything is sent); a batch call takes
at most 10 messages and 256 KiB. A FIFO queue (its name ends in `.fifo`) gets each event's id as the
deduplication id and its subject (else the queue's name) as the message group, so the events about one
subject keep their order; SQS delays no single message of a FIFO queue, so a delay
there is refused. A delay past SQS's 900 seconds becomes a one-time schedule in the app's delay group,
deleted once it has fired, whose target sends the body to the queue with the role deploy made for it
(`DELAY_GROUP_ENV`, `DELAY_ROLE_ENV`): the wait uses no compute. The clients honour `AWS_ENDPOINT_URL`
(an emulator) as boto3 does.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.channels import TOPIC, Channel, PublishError, encode, locator

if TYPE_CHECKING:
    from portable_fn.runtime.cloudevent import CloudEvent

    Message = tuple[CloudEvent[Any], str]  # an event and its body

DELAY_GROUP_ENV = "PORTABLE_FN_DELAY_SCHEDULE_GROUP"  # the schedule group of delayed sends (deploy sets it)
DELAY_ROLE_ENV = "PORTABLE_FN_DELAY_ROLE_ARN"  # the role Scheduler sends a delayed message with
MAX_SQS_DELAY_S = 900  # SendMessage's DelaySeconds
MAX_DELAY_S = 366 * 86400.0  # Scheduler's `at()` has no practical limit: a year per hop
MAX_MESSAGE_BYTES = 256 * 1024  # one SNS or SQS message
MAX_BATCH, MAX_BATCH_BYTES = 10, 256 * 1024  # PublishBatch and SendMessageBatch
ATTEMPTS = 3  # rounds of a batch's failed entries before PublishError (throttling is botocore's to retry)
FIFO_ID = re.compile(r"[!-~]{1,128}\Z")  # what SQS takes as a deduplication or group id


class AwsPublisher:
    """Sends to SNS topics and SQS queues through boto3 clients made on first use (each shared by the
    threads of the instance); tests pass clients made for an emulator."""

    max_delay_s = MAX_DELAY_S

    def __init__(self, clients: dict[str, Any] | None = None) -> None:
        self._clients = dict(clients or {})
        self._lock = threading.Lock()

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        if not events:
            return
        where = locator(channel)
        messages = checked(channel, events)
        if channel.kind == TOPIC:
            if delay_s > 0:
                raise PublishError(f"{channel!r}: SNS delivers at once; send delayed events to a queue instead.")
            self._publish_to_topic(channel, where, messages)
        elif where.endswith(".fifo") and delay_s > 0:
            raise PublishError(
                f"{channel!r}: SQS delays no single message of a FIFO queue; send delayed events to a standard queue."
            )
        elif delay_s > MAX_SQS_DELAY_S:
            self._schedule(channel, where, messages, delay_s)
        else:
            self._send_to_queue(channel, where, messages, math.ceil(delay_s))

    # -- topics and queues ------------------------------------------------------------------------
    def _publish_to_topic(self, channel: Channel, topic_arn: str, messages: list[Message]) -> None:
        entries = [{"Id": str(i), "Message": text} for i, (_, text) in enumerate(messages)]
        for batch in batches(entries, "Message"):
            self._batch(channel, "sns", "publish_batch", batch, TopicArn=topic_arn, key="PublishBatchRequestEntries")

    def _send_to_queue(self, channel: Channel, url: str, messages: list[Message], delay_s: int) -> None:
        fifo = url.endswith(".fifo")
        entries = [queue_entry(str(i), message, channel, fifo, delay_s) for i, message in enumerate(messages)]
        for batch in batches(entries, "MessageBody"):
            self._batch(channel, "sqs", "send_message_batch", batch, QueueUrl=url, key="Entries")

    def _batch(
        self, channel: Channel, service: str, operation: str, entries: list[dict[str, Any]], **params: Any
    ) -> None:
        """One batch call, its failed entries sent again (`ATTEMPTS` rounds); PublishError if some never go."""
        key = params.pop("key")
        for _ in range(ATTEMPTS):
            answer = self._call(channel, service, operation, **params, **{key: entries})
            failed = {f["Id"]: f for f in answer.get("Failed") or ()}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries or any(f.get("SenderFault") for f in failed.values()):
                break
        if entries:
            reasons = "; ".join(f"{f['Id']}: {f.get('Code')} {f.get('Message', '')}".strip() for f in failed.values())
            raise PublishError(f"{channel!r}: {len(entries)} of the events were not sent ({reasons}).")

    # -- delays past SQS's ------------------------------------------------------------------------
    def _schedule(self, channel: Channel, url: str, messages: list[Message], delay_s: float) -> None:
        """One one-time schedule per event, firing `delay_s` from now (to the second, never early)."""
        group, role = self._setting(channel, DELAY_GROUP_ENV), self._setting(channel, DELAY_ROLE_ENV)
        target = queue_arn(url, role, self._client("scheduler").meta.region_name)
        due = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(math.ceil(time.time() + delay_s)))
        for event, text in messages:
            self._call(
                channel,
                "scheduler",
                "create_schedule",
                Name=f"pfn-{uuid.uuid4().hex}",
                GroupName=group,
                ScheduleExpression=f"at({due})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Description=f"portable-fn: {event.type} {event.id} to {channel.kind} {channel.name}"[:512],
                Target={"Arn": target, "RoleArn": role, "Input": text},
            )

    def _setting(self, channel: Channel, name: str) -> str:
        found = os.environ.get(name)
        if not found:
            raise PublishError(
                f"{channel!r}: a delay over {MAX_SQS_DELAY_S} s needs the schedule group and role deploy sets "
                f"({name} is unset). Declare uses=[{channel.name_in_code}.send()] on the function and deploy again."
            )
        return found

    # -- the clients ----------------------------------------------------------------------------
    def _call(self, channel: Channel, service: str, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            return dict(getattr(self._client(service), operation)(**params))
        except (ClientError, BotoCoreError) as exc:
            raise PublishError(
                f"{channel!r}: {service} {operation} failed ({exc}). Check that it is deployed "
                "(`portable-fn plan --provider aws`) and that the function declares it in uses=."
            ) from exc

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = make_client(service)
            return self._clients[service]


def open_publisher() -> AwsPublisher:
    """The publisher of this Lambda instance (`portable_fn.runtime.channels.publisher` calls it once)."""
    return AwsPublisher()


def make_client(service: str) -> Any:
    """A client for this function's region and endpoint (boto3 reads both from the environment)."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    return boto3.client(service, config=Config(retries={"mode": "standard"}))


def checked(channel: Channel, events: Sequence[CloudEvent[Any]]) -> list[Message]:
    """Each event with its message body, or PublishError before anything is sent when one is over the
    256 KiB SNS and SQS take (`MAX_MESSAGE_BYTES`)."""
    messages = [(event, encode(event).decode("utf-8")) for event in events]
    for event, text in messages:
        if (size := len(text.encode("utf-8"))) > MAX_MESSAGE_BYTES:
            raise PublishError(
                f"{channel!r}: event {event.id!r} is {size} bytes as JSON, over the {MAX_MESSAGE_BYTES} bytes "
                "SNS and SQS take in a message; nothing was sent. Keep large data in a state or bucket and send "
                "its key."
            )
    return messages


def queue_entry(entry_id: str, message: Message, channel: Channel, fifo: bool, delay_s: int) -> dict[str, Any]:
    """One SendMessageBatch entry: a FIFO queue's deduplication and group ids, else the delay."""
    event, text = message
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": text}
    if fifo:
        entry["MessageDeduplicationId"] = fifo_id(event.id)
        entry["MessageGroupId"] = fifo_id(event.subject or channel.name)
    elif delay_s:
        entry["DelaySeconds"] = delay_s
    return entry


def fifo_id(text: str) -> str:
    """`text` when SQS takes it as a deduplication or group id, else its SHA-256."""
    return text if FIFO_ID.match(text) else hashlib.sha256(text.encode("utf-8")).hexdigest()


def batches(entries: list[dict[str, Any]], field: str) -> Iterator[list[dict[str, Any]]]:
    """`entries` in runs of at most `MAX_BATCH` whose `field`s add up to at most `MAX_BATCH_BYTES`."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        length = len(entry[field].encode("utf-8"))
        if batch and (len(batch) == MAX_BATCH or size + length > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += length
    if batch:
        yield batch


def queue_arn(url: str, role_arn: str, region: str) -> str:
    """The ARN of the queue at `url` (`.../<account>/<name>`), in `region` and the partition of `role_arn`."""
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:{role_arn.split(':')[1]}:sqs:{region}:{account}:{name}"

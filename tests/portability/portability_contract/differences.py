"""What may legitimately differ between clouds for the same logical event, each with its reason, and the
comparison that fails on anything else.

A delivery is flattened to `path -> value` (`seen[0].event.data.value.id`, `outcomes[1]`, `status`); a
path that holds different values on different clouds fails the suite unless rows of DIFFERENCES match it
(an fnmatch pattern over the path, and space-separated patterns over the case name, `!pattern` excluding)
and, once the clouds those rows name are set aside, the others agree. docs/portability.md holds the same
table; the suite checks it does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from .delivery import Delivery

ABSENT = "<absent>"


@dataclass(frozen=True)
class Difference:
    field: str  # pattern over the flattened path
    cases: str  # space-separated patterns over case names; "!pattern" excludes
    why: str
    clouds: str = "all"  # the clouds that may differ from the rest ("all", or names joined by ", ")

    def applies(self, path: str, case: str) -> bool:
        patterns = self.cases.split()
        wanted = [p for p in patterns if not p.startswith("!")]
        unwanted = [p[1:] for p in patterns if p.startswith("!")]
        field = self.field.replace("[*]", "[[]*[]]")  # fnmatch reads [*] as the character '*'
        return (
            fnmatchcase(path, field)
            and any(fnmatchcase(case, p) for p in wanted)
            and not any(fnmatchcase(case, p) for p in unwanted)
        )

    def excuses(self, cloud: str) -> bool:
        """Whether the row lets `cloud` differ: "aws" is the default delivery path only, "aws:http-api"
        that path alone (a row says which paths it explains)."""
        return self.clouds == "all" or cloud in self.clouds.split(", ")


DIFFERENCES = [
    Difference("seen[*].context.provider", "*", "names the cloud the function runs on: what it is for"),
    Difference("seen[*].context.invocation_id", "*", "each invocation's own id, assigned by the cloud"),
    Difference(
        "seen[*].context.has_deadline",
        "*",
        "`ctx.deadline` is known where the runtime is told when the invocation is cut off: Lambda says "
        "so, Cloud Functions gets the timeout deploy sets, and Azure's generated function_app.py the "
        "host's functionTimeout (the plan's default unless declared); the dev host cuts off only a "
        "function that declares `timeout_s`",
        "local",
    ),
    # What names the cloud's own resource or is assigned by it. A carried CloudEvent keeps all of these.
    Difference(
        "seen[*].event.id",
        "queue-* topic-* batch-* storage-* schedule-* !*-cloudevent",
        "assigned by the transport or store that delivered the event (a message id, a notification "
        "id); `source` + `id` stays the deduplication key on each cloud",
    ),
    Difference(
        "seen[*].context.message.message_id",
        "queue-* topic-* batch-* !*-cloudevent",
        "the transport's own message id (Pub/Sub ids are numbers, SQS and the dev host's UUIDs)",
    ),
    Difference(
        "seen[*].event.source",
        "queue-* topic-* batch-* storage-* schedule-* !*-cloudevent",
        "names the cloud resource the event came from (queue ARN or URL, topic, bucket, schedule)",
    ),
    Difference(
        "seen[*].event.type",
        "queue-* topic-* batch-* storage-* schedule-* !*-cloudevent",
        "the native event's type in that cloud's family (com.amazonaws.sqs.message, "
        "com.google.cloud.pubsub.message, ...); the neutral views read every one of them",
    ),
    # The dev host has no sender's clock: it stamps what it accepts.
    Difference(
        "seen[*].event.time",
        "queue-* topic-* batch-* !*-cloudevent",
        "the dev host stamps a message when `POST /_local/queues|topics/...` accepts it",
        "local",
    ),
    Difference(
        "seen[*].context.message.published_time",
        "queue-* topic-* batch-* !*-cloudevent",
        "the dev host stamps a message when `POST /_local/queues|topics/...` accepts it",
        "local",
    ),
    Difference(
        "seen[*].event.time",
        "storage-* schedule-*",
        "the dev host reports a file change when its watcher sees it, and a schedule fired on demand "
        "(`POST /_local/schedules/{function}/fire`) as due now",
        "local",
    ),
    Difference(
        "seen[*].event.data.value.time",
        "storage-*",
        "the dev host reports a file change when its watcher sees it",
        "local",
    ),
    Difference(
        "seen[*].event.data.value.scheduled_time",
        "schedule-*",
        "a schedule fired on demand (`POST /_local/schedules/{function}/fire`) is due now",
        "local",
    ),
    # AWS
    Difference(
        "seen[*].context.message.message_id",
        "*-cloudevent",
        "the transport's own id of the message that carried the event (SQS and SNS assign one); the dev "
        "host gives its message the carried event's id",
    ),
    Difference(
        "seen[*].context.message.published_time",
        "*-cloudevent",
        "the dev host stamps a message when `POST /_local/queues|topics/...` accepts it",
        "local",
    ),
    Difference(
        "letters[*].id",
        "batch-*",
        "a dead letter is the event the handler gave up on, with the id its transport assigned "
        "(the SQS message id on AWS)",
    ),
    Difference(
        "seen[*].event.data.value.bucket",
        "storage-*",
        "the bucket's name on AWS, which the handler reads the object with: deploy names a bucket "
        "`<app>-<stage>-<bucket>` (S3 bucket names are global) unless the settings' `buckets` map it "
        "to an existing one",
        "aws",
    ),
    Difference(
        "seen[*].event.data.value.content_type",
        "storage-*",
        "an S3 event notification does not carry the object's content type (read it with HeadObject)",
        "aws",
    ),
    Difference(
        "seen[*].event.data.value.size",
        "storage-deleted",
        "an S3 ObjectRemoved notification carries the key only: no size",
        "aws",
    ),
    Difference(
        "seen[*].event.data.value.etag",
        "storage-deleted",
        "an S3 ObjectRemoved notification carries the key only: no eTag",
        "aws",
    ),
    Difference(
        "seen[*].event.subject",
        "schedule-*",
        "EventBridge names the schedule that fired (deploy names it after the function, within the "
        "app's schedule group); the dev host's tick has no subject",
        "aws",
    ),
    Difference(
        "seen[*].request.headers[*]",
        "http-*-cookies",
        "a Function URL or HTTP API moves the Cookie header into `cookies[]` (payload 2.0): the shim "
        "puts it back as one `cookie` header after the others, so its place among them is lost",
        "aws, aws:http-api, aws:http-api-stage",
    ),
    Difference(
        "json.routes*",
        "http-undeclared-path",
        "each function has its own Function URL, which serves that function's route only: its 404 "
        "lists that route; the dev host serves every route of the app on one address",
        "aws",
    ),
    # GCP
    Difference(
        "seen[*].context.message.subscription",
        "queue-* topic-* batch-*",
        "Pub/Sub says which subscription delivered the message (the one Eventarc made for the trigger); "
        "SQS, SNS and the dev host have none",
        "gcp",
    ),
    Difference(
        "seen[*].event.data.value.bucket",
        "storage-*",
        "the bucket's name on Google Cloud, which the handler reads the object with: deploy names a "
        "bucket `<app>-<stage>-<bucket>` (bucket names are global) unless the settings' `buckets` map it "
        "to an existing one",
        "gcp",
    ),
    Difference(
        "seen[*].event.data.value.etag",
        "storage-*",
        "Cloud Storage's etag is its own version tag, not the content's MD5 (that is the object's "
        "`md5Hash`, base64, in the event data)",
        "gcp",
    ),
    Difference(
        "seen[*].event.subject",
        "storage-*",
        "Google's own Cloud Storage CloudEvent, kept as Google sends it, names the object "
        "`objects/<name>`; the key alone is StorageObject.key on every cloud",
        "gcp",
    ),
    Difference(
        "json.routes*",
        "http-undeclared-path",
        "each Cloud Function has its own URL, which serves that function's route only: its 404 lists "
        "that route; the dev host serves every route of the app on one address",
        "gcp",
    ),
    # Azure
    Difference(
        "seen[*].event.time",
        "queue-* batch-* !*-cloudevent",
        "an Azure Storage queue records when a message was inserted in whole seconds: the fraction of "
        'a second is lost (`queue_transport = "service_bus"` keeps milliseconds)',
        "azure",
    ),
    Difference(
        "seen[*].context.message.published_time",
        "queue-* batch-*",
        "an Azure Storage queue records when a message was inserted in whole seconds: the fraction of a second is lost",
        "azure",
    ),
    Difference(
        "seen[*].event.datacontenttype",
        "queue-* batch-* !*-cloudevent",
        "an Azure Storage queue message has no attributes: a declared content type does not travel, so "
        "the body is read as an undeclared one (JSON, else text, else bytes)",
        "azure",
    ),
    Difference(
        "seen[*].context.message.published_time",
        "topic-*",
        "an Event Grid delivery holds the event only: it does not say when the event was published",
        "azure",
    ),
    Difference(
        "seen[*].event.time",
        "storage-created",
        "the blob trigger hands over the blob, not the Event Grid event: the time is the blob's "
        "Last-Modified, which Azure Storage keeps in whole seconds",
        "azure",
    ),
    Difference(
        "seen[*].event.data.value.time",
        "storage-created",
        "the blob trigger hands over the blob, not the Event Grid event: the time is the blob's "
        "Last-Modified, which Azure Storage keeps in whole seconds",
        "azure",
    ),
    Difference(
        "seen[*].event.data.value.etag",
        "storage-*",
        "Azure Storage's ETag is its own version tag (0x8D...), not the content's MD5 (that is the "
        "blob's Content-MD5 property)",
        "azure, azure:event-grid",
    ),
    Difference(
        "seen[*].event.subject",
        "storage-*",
        "Azure names the blob in an event's subject as Event Grid does, "
        "`/blobServices/default/containers/<container>/blobs/<name>`; the key alone is StorageObject.key "
        "on every cloud",
        "azure, azure:event-grid",
    ),
]
# A delivery path that brings the very event its cloud's default path brings (not another transport): the
# same upload through Event Grid rather than the blob trigger. What the handler sees of the event must
# agree between the two, unless a row naming one of them by name says why (an "all" row does not).
SAME_EVENT = {"azure:event-grid": "azure"}


@dataclass(frozen=True)
class NotCarried:
    case: str
    cloud: str
    why: str


NOT_CARRIED = [
    NotCarried(
        "queue-redelivered",
        "local",
        "the dev host counts its own deliveries: a message it accepts is first delivered as attempt 1",
    ),
    NotCarried(
        "queue-binary",
        "aws",
        "an SQS message body is Unicode text: bytes that are not UTF-8 cannot be sent as they are",
    ),
]


def flatten(delivery: Delivery) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _flatten(out, "seen", delivery.seen)
    _flatten(out, "outcomes", delivery.outcomes)
    _flatten(out, "letters", delivery.letters)
    for name in ("status", "json", "set_cookies"):
        _flatten(out, name, getattr(delivery, name))
    return out


def _flatten(out: dict[str, Any], path: str, value: Any) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(out, f"{path}.{key}", item)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            _flatten(out, f"{path}[{i}]", item)
    else:
        out[path] = value


def rows_for(path: str, case: str) -> list[Difference]:
    return [d for d in DIFFERENCES if d.applies(path, case)]


def rows_excusing(path: str, case: str, cloud: str) -> list[Difference]:
    """The rows that let `cloud` hold another value at `path` in `case`."""
    return [d for d in rows_for(path, case) if d.excuses(cloud)]


def sent_headers_only(delivery: Delivery, sent: set[str]) -> Delivery:
    """The delivery with each Request's headers cut to those the client sent: every front door adds its
    own (host, content-length, forwarding and tracing headers), which no handler may rely on."""
    seen = []
    for entry in delivery.seen:
        if "request" in entry:
            headers = [pair for pair in entry["request"]["headers"] if pair[0] in sent]
            entry = {**entry, "request": {**entry["request"], "headers": headers}}
        seen.append(entry)
    return replace(delivery, seen=seen)


def unexplained_between(case: str, default: str, path: str, deliveries: dict[str, Delivery]) -> list[str]:
    """One line per attribute of the event (`seen[*].event.*`) on which two paths of one cloud that
    deliver the same event disagree, with no row naming either path to say why."""
    first, second = flatten(deliveries[default]), flatten(deliveries[path])
    lines = []
    for key in sorted(first.keys() | second.keys()):
        if not key.startswith("seen[") or ".event." not in key:
            continue
        values = first.get(key, ABSENT), second.get(key, ABSENT)
        named = [d for d in rows_for(key, case) if d.clouds != "all" and (d.excuses(default) or d.excuses(path))]
        if values[0] != values[1] and not named:
            lines.append(f"{key}: {default}={values[0]!r}, {path}={values[1]!r}")
    return lines


def unexplained(case: str, deliveries: dict[str, Delivery]) -> list[str]:
    """One line per path whose value differs between clouds without a row saying why."""
    flat = {cloud: flatten(d) for cloud, d in deliveries.items()}
    paths = sorted({p for f in flat.values() for p in f})
    lines = []
    for path in paths:
        values = {cloud: f.get(path, ABSENT) for cloud, f in flat.items()}
        if len({repr(v) for v in values.values()}) == 1:
            continue
        rows = rows_for(path, case)
        held = {repr(v) for cloud, v in values.items() if not any(row.excuses(cloud) for row in rows)}
        if len(held) > 1:
            shown = ", ".join(f"{cloud}={value!r}" for cloud, value in values.items())
            lines.append(f"{path}: {shown}")
    return lines

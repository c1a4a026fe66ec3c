"""The size limits `portable-fn dev` enforces: the clouds' own, so what dev accepts deploys.

A request to the dev host is refused (413, the limit in the body) when the cloud would refuse it: the
strictest figure of the clouds the app can be deployed to (those with a `[tool.portable-fn.<cloud>]`
table, or all three when none has one), or of the one named by `dev --provider`.

Sources (each cloud's documented default; raise-able quotas are not assumed):

- HTTP request body: AWS Lambda 6 MB synchronous invocation payload
  (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), which counts the event, not the
  body: `framing.check_lambda_event` counts a body that is not text in base64, with the headers; Cloud Run
  functions 32 MB uncompressed HTTP request, 2nd gen (https://cloud.google.com/functions/quotas), Azure Functions 100 MB
  HTTP request length (https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#limits).
- Queue message: SQS 256 KiB, a queue's default MaximumMessageSize
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html),
  Pub/Sub 10 MB (https://cloud.google.com/pubsub/quotas#resource_limits), Queue Storage 64 KiB
  (https://learn.microsoft.com/rest/api/storageservices/queue-service-rest-api), which the Functions host's
  queue trigger reads as base64 (its default `messageEncoding`, and what portable-fn's publisher writes):
  48 KiB of message.
- Topic message: SNS 256 KiB, a topic's default MaximumMessageSize
  (https://docs.aws.amazon.com/sns/latest/dg/large-message-payloads.html), Pub/Sub 10 MB, Event Grid
  1 MB per event and per publish (https://learn.microsoft.com/azure/event-grid/quotas-limits).
- Object key: S3 1,024 bytes of UTF-8 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html),
  Cloud Storage 1,024 bytes of UTF-8, no CR or LF (https://cloud.google.com/storage/docs/objects#naming),
  Blob Storage 1,024 characters (https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata).

An object PUT through `/_local/buckets/` is held in memory, so dev caps it at LOCAL_OBJECT_BYTES (every
cloud takes far larger objects): bigger files go straight into the bucket folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CLOUDS = ("aws", "gcp", "azure")
KiB, MiB = 1024, 1024 * 1024
LOCAL_OBJECT_BYTES = 100 * MiB


@dataclass(frozen=True)
class Limit:
    """At most `size` bytes of `what`, set by `where` (the cloud's service and the limit's name)."""

    what: str
    size: int
    cloud: str
    where: str

    def describe(self) -> str:
        return f"{self.size:,} bytes, {self.where}"


# trigger kind -> cloud -> the limit it sets on one request body or message
BODY_LIMITS: dict[str, dict[str, Limit]] = {
    "http": {
        "aws": Limit("an HTTP request body", 6 * MiB, "aws", "AWS Lambda's synchronous invocation payload"),
        "gcp": Limit("an HTTP request body", 32 * MiB, "gcp", "Cloud Run functions' HTTP request size"),
        "azure": Limit("an HTTP request body", 100 * MiB, "azure", "Azure Functions' HTTP request length"),
    },
    "queue": {
        "aws": Limit("a queue message", 256 * KiB, "aws", "Amazon SQS's message size"),
        "gcp": Limit("a queue message", 10_000_000, "gcp", "Pub/Sub's message size"),
        "azure": Limit(
            "a queue message", 48 * KiB, "azure", "Azure Queue Storage's 64 KiB message, which holds it in base64"
        ),
    },
    "topic": {
        "aws": Limit("a topic message", 256 * KiB, "aws", "Amazon SNS's message size"),
        "gcp": Limit("a topic message", 10_000_000, "gcp", "Pub/Sub's message size"),
        "azure": Limit("a topic message", 1 * MiB, "azure", "Azure Event Grid's event size"),
    },
}
# cloud -> the longest object key (UTF-8 bytes; Azure counts characters, which are at least as many)
KEY_LIMITS: dict[str, Limit] = {
    "aws": Limit("an object key", 1024, "aws", "Amazon S3's key length in UTF-8"),
    "gcp": Limit("an object key", 1024, "gcp", "Cloud Storage's object name length in UTF-8"),
    "azure": Limit("an object key", 1024, "azure", "Azure Blob Storage's blob name length"),
}
OBJECT_LIMIT = Limit(
    "an object uploaded to dev",
    LOCAL_OBJECT_BYTES,
    "local",
    "the dev host's cap for uploads held in memory; copy bigger files into the bucket folder",
)


@dataclass(frozen=True)
class Limits:
    """The limits one dev host enforces."""

    clouds: tuple[str, ...]
    http: Limit
    queue: Limit
    topic: Limit
    key: Limit
    object: Limit = OBJECT_LIMIT

    @classmethod
    def strictest(cls, clouds: Iterable[str]) -> Limits:
        """The smallest of each limit among `clouds` (all three when empty)."""
        chosen = tuple(c for c in CLOUDS if c in set(clouds)) or CLOUDS
        return cls(
            chosen,
            http=_smallest(BODY_LIMITS["http"], chosen),
            queue=_smallest(BODY_LIMITS["queue"], chosen),
            topic=_smallest(BODY_LIMITS["topic"], chosen),
            key=_smallest(KEY_LIMITS, chosen),
        )

    def body(self, method: str, path: str) -> Limit:
        """The limit on the body of a request to the dev host."""
        if path.startswith("/_local/queues/"):
            return self.queue
        if path.startswith("/_local/topics/"):
            return self.topic
        if path.startswith("/_local/buckets/"):
            return self.object
        return self.http


def _smallest(table: dict[str, Limit], clouds: tuple[str, ...]) -> Limit:
    return min((table[c] for c in clouds), key=lambda limit: limit.size)


def deploy_targets(config: object) -> tuple[str, ...]:
    """The clouds an app names: a `[tool.portable-fn.<cloud>]` table, at the top or in a stage."""
    tables = [config, *getattr(config, "stages", {}).values()]
    named = {c for table in tables for c in CLOUDS if c in getattr(table, "model_fields_set", ())}
    return tuple(c for c in CLOUDS if c in named)

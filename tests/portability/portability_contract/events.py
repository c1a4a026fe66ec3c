"""The logical events of the portability contract, each written once, with no cloud in it.

A builder per cloud (aws.py, gcp.py, azure.py, local.py) turns each into the native delivery that cloud
sends and runs it through that cloud's real entry point; the suite compares what the handlers saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

SENT = "2026-05-01T10:00:00.123Z"  # when a message was sent or an object changed (ms: every cloud keeps them)


@dataclass(frozen=True)
class Message:
    """One message as its sender wrote it. `content_type` is what the sender declared (None: nothing);
    `attributes` are custom message attributes; `attempt` is the delivery being made (1: the first)."""

    body: bytes
    content_type: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    id: str = "7d4a3b1e-0000-4000-8000-000000000001"
    attempt: int = 1


@dataclass(frozen=True)
class QueueDelivery:
    """Messages delivered together to the queue function `orders_worker` (queue "orders")."""

    messages: tuple[Message, ...]
    queue: str = "orders"
    function: str = "orders_worker"


@dataclass(frozen=True)
class TopicDelivery:
    """One message published to the topic "news", delivered to `news_reader`."""

    message: Message
    topic: str = "news"
    function: str = "news_reader"


@dataclass(frozen=True)
class ObjectChange:
    """An object created or deleted in the bucket "uploads"; the key as the user named it."""

    key: str
    change: str  # "created" | "deleted"
    body: bytes = b"hello world"
    etag: str = "5eb63bbbe01eeed093cb22bb8f5acdc3"  # MD5 of the body, as S3 and the dev host write it
    content_type: str = "text/plain"
    bucket: str = "uploads"
    time: str = SENT

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def function(self) -> str:
        return "on_upload" if self.change == "created" else "on_delete"


@dataclass(frozen=True)
class Tick:
    """The schedule of `ticker` ("rate(5 minutes)") firing at `time`."""

    time: str = "2026-05-01T10:05:00Z"
    function: str = "ticker"


@dataclass(frozen=True)
class HttpCall:
    """An HTTP request as the client sent it: `path` percent-encoded, no query; `query` raw (encoded)."""

    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


LogicalEvent = QueueDelivery | TopicDelivery | ObjectChange | Tick | HttpCall


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


ORDER = {"id": "o-1", "customer": "ada", "lines": [{"sku": "book", "quantity": 2}]}
CARRIED = {  # a CloudEvent another function emitted, in the JSON format
    "specversion": "1.0",
    "id": "evt-42",
    "source": "//shop/checkout",
    "type": "shop.order.paid",
    "subject": "orders/o-1",
    "time": "2026-05-01T09:59:59.5Z",
    "datacontenttype": "application/json",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "tenant": "acme",
    "data": {"order": "o-1", "total": 42.5},
}
# The key of a user's file: a folder, spaces, non-ASCII letters and a "+" (each cloud encodes it its way).
KEY = "in/My Report +ünïcode €.txt"


@dataclass(frozen=True)
class Case:
    name: str
    event: LogicalEvent
    outcomes: tuple[str, ...] = ()  # per message, what the handler asks for: "ack" | "retry" | "dead-letter"
    status: int | None = None  # HTTP: the status the client gets
    notes: str = field(default="", compare=False)


MESSAGE_CASES = [
    Case("queue-json", QueueDelivery((Message(_json(ORDER), "application/json"),)), ("ack",)),
    Case(
        "queue-json-undeclared",
        QueueDelivery((Message(_json(ORDER)),)),
        ("ack",),
        notes="JSON the sender did not label: read as JSON, as every cloud's text body",
    ),
    Case("queue-text", QueueDelivery((Message("plain text, héllo".encode(), "text/plain; charset=utf-8"),)), ("ack",)),
    Case("queue-text-undeclared", QueueDelivery((Message("plain text, héllo".encode()),)), ("ack",)),
    Case("queue-binary", QueueDelivery((Message(b"\x00\x01\xfe\xff binary", "application/octet-stream"),)), ("ack",)),
    Case("queue-cloudevent", QueueDelivery((Message(_json(CARRIED), "application/cloudevents+json"),)), ("ack",)),
    Case("queue-redelivered", QueueDelivery((Message(_json(ORDER), "application/json", attempt=3),)), ("ack",)),
    Case("topic-json", TopicDelivery(Message(_json({"headline": "portable"}), "application/json")), ("ack",)),
    Case("topic-cloudevent", TopicDelivery(Message(_json(CARRIED), "application/cloudevents+json")), ("ack",)),
    Case(
        "batch-with-failures",
        QueueDelivery(
            (
                Message(_json({"n": 1}), "application/json", id="7d4a3b1e-0000-4000-8000-00000000000a"),
                Message(_json({"n": 2, "do": "retry"}), "application/json", id="7d4a3b1e-0000-4000-8000-00000000000b"),
                Message(_json({"n": 3, "do": "dead"}), "application/json", id="7d4a3b1e-0000-4000-8000-00000000000c"),
                Message(_json({"n": 4}), "application/json", id="7d4a3b1e-0000-4000-8000-00000000000d"),
            )
        ),
        ("ack", "retry", "dead-letter", "ack"),
    ),
]
STORAGE_CASES = [
    Case("storage-created", ObjectChange(KEY, "created")),
    Case("storage-deleted", ObjectChange(KEY, "deleted")),
]
SCHEDULE_CASES = [Case("schedule-tick", Tick())]
HTTP_CASES = [
    Case(
        "http-get-query-cookies",
        HttpCall(
            "GET",
            "/orders/o-1",
            "tag=a&tag=b&empty=&q=caf%C3%A9&plus=1%2B1",
            (("cookie", "session=abc; theme=dark"), ("x-request-tag", "one"), ("accept", "application/json")),
        ),
        status=201,
    ),
    Case(
        "http-post-binary-body",
        HttpCall("POST", "/orders/o%202", "", (("content-type", "application/octet-stream"),), b"\x00\x01\xfe\xff"),
        status=201,
    ),
    Case(
        "http-post-json",
        HttpCall("POST", "/orders/o-3", "", (("content-type", "application/json"),), _json(ORDER)),
        status=201,
    ),
    Case("http-undeclared-path", HttpCall("GET", "/nowhere"), status=404),
    Case("http-undeclared-method", HttpCall("DELETE", "/status"), status=405),
]
CASES = MESSAGE_CASES + STORAGE_CASES + SCHEDULE_CASES + HTTP_CASES

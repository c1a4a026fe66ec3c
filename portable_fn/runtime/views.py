"""Neutral views of provider-specific event data, bound by annotation: `CloudEvent[StorageObject]`.

A view knows every shape its data arrives in (local, S3, Cloud Storage, Azure Blob) and exposes the
same fields, so handler code does not change between clouds. Any class with a
`from_cloudevent(event)` classmethod can act as a view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus

from .errors import DataValidationError


class StorageObject:
    """An object in a bucket: `bucket`, `key`, `size`, `etag`, `content_type`, `event` (created|deleted)."""

    __slots__ = ("bucket", "key", "size", "etag", "content_type", "event", "time")

    def __init__(
        self,
        bucket: str,
        key: str,
        size: int | None = None,
        etag: str | None = None,
        content_type: str | None = None,
        event: str = "created",
        time: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self.content_type = content_type
        self.event = event
        self.time = time

    @classmethod
    def from_cloudevent(cls, event: Any) -> StorageObject:
        """Read any supported storage event (local, AWS S3, Google Cloud Storage, Azure Blob)."""
        data = event.data
        if data.__class__ is not dict and not isinstance(data, Mapping):
            raise DataValidationError(
                f"Event {event.id!r} of type {event.type!r} has no storage object data; "
                "a StorageObject needs an object with a bucket and a key."
            )
        try:
            if data.get("bucket").__class__ is str and ("name" in data or "key" in data):  # the common case first
                return cls._from_flat(event, data)
            return cls._from_data(event, data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a known shape, but broken
            raise DataValidationError(
                f"Event {event.id!r} of type {event.type!r} has malformed storage data "
                f"({type(exc).__name__}: {exc}); a StorageObject needs a bucket and a key."
            ) from None

    @classmethod
    def _from_data(cls, event: Any, data: Mapping[str, Any]) -> StorageObject:
        kind = _KINDS.get(event.type) or _kind(event.type)
        if "s3" in data:  # an S3 notification record (the CloudEvents AWS S3 adapter keeps it whole)
            s3 = data["s3"]
            obj = s3.get("object", {})
            return cls(
                _name(s3["bucket"]["name"], "bucket"),
                unquote_plus(_name(obj.get("key", ""), "key")),
                _size(obj.get("size")),
                obj.get("eTag"),
                None,
                kind,
                event.time,
            )
        if isinstance(data.get("bucket"), Mapping) and "object" in data:  # S3 via EventBridge
            obj = data["object"]
            bucket, key = _name(data["bucket"]["name"], "bucket"), _name(obj["key"], "key")
            return cls(bucket, key, _size(obj.get("size")), obj.get("etag"), None, kind, event.time)
        if "url" in data and "api" in data:  # Azure Blob Storage (Event Grid data)
            # The URL path is percent-encoded (a space is %20; a "+" stays "+" or is %2B): decoded like S3 keys.
            container, _, key = data["url"].split("://", 1)[-1].split("/", 1)[-1].partition("/")
            return cls(
                _name(container, "bucket"),
                _name(unquote(key), "key"),
                _size(data.get("contentLength")),
                data.get("eTag"),
                data.get("contentType"),
                kind,
                event.time,
            )
        if "bucket" in data and ("name" in data or "key" in data):  # Cloud Storage, or local
            return cls._from_flat(event, data)
        raise DataValidationError(
            f"Event {event.id!r} of type {event.type!r} is not a storage event this version knows."
        )

    @classmethod
    def _from_flat(cls, event: Any, data: Mapping[str, Any]) -> StorageObject:
        """Cloud Storage's object resource, or the local provider's shape. The per-event path of every
        Cloud Storage trigger: StorageObject itself is filled without a call to __init__."""
        size, kind = _size(data.get("size")), _KINDS.get(event.type) or _kind(event.type)
        bucket, key, etag = (
            _name(data["bucket"], "bucket"),
            _name(data.get("key", data.get("name")), "key"),
            data.get("etag"),
        )
        content_type = data.get("contentType", data.get("content_type"))
        which, time = data.get("event", kind), data.get("time", event.time)
        if cls is not StorageObject:
            return cls(bucket, key, size, etag, content_type, which, time)
        view = _new(StorageObject)
        view.bucket, view.key, view.size, view.etag = bucket, key, size, etag
        view.content_type, view.event, view.time = content_type, which, time
        return view

    def to_dict(self) -> dict[str, Any]:
        """The local provider's data shape (also how a StorageObject is serialised); a subclass's too."""
        return {s: getattr(self, s) for s in StorageObject.__slots__ if getattr(self, s) is not None}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorageObject) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"StorageObject(bucket={self.bucket!r}, key={self.key!r}, event={self.event!r})"


def _name(value: Any, what: str) -> str:
    """A bucket's or an object's name: a non-empty string (ValueError otherwise, which `from_cloudevent` reports;
    no cloud names an object ""): an Azure blob named `uploads/` gave a StorageObject with key ""."""
    if value.__class__ is not str or not value:
        raise ValueError(f"the {what} must be a non-empty string, got {value!r:.40}")
    return value


def _size(value: Any) -> int | None:
    """An object's size in bytes: a whole number from 0 to 2**63 - 1 (the largest any cloud states), or digits
    of one (Cloud Storage writes it as a string); None when not given. ValueError for anything else: a size of
    "abc", -1, 10**30 or 1.5 reached the handler as it was on AWS and Azure, and 1.5 became 1 on Cloud Storage."""
    if value is None:
        return None
    if value.__class__ is str and value.isascii() and value.isdigit():
        value = int(value)
    if value.__class__ is not int or not 0 <= value < 2**63:
        raise ValueError(f"the size must be a whole number of bytes from 0 to 2**63 - 1, got {value!r:.40}")
    return value


_new = object.__new__
_KINDS: dict[str, str] = {}  # event type -> "created" | "deleted"


def _kind(event_type: str) -> str:
    """Whether a storage event type says the object was deleted (S3 ObjectRemoved, Cloud Storage deleted,
    Azure BlobDeleted) or created; remembered per type."""
    lowered = event_type.lower()
    kind = "deleted" if "delete" in lowered or "removed" in lowered else "created"
    if len(_KINDS) < 256:
        _KINDS[event_type] = kind
    return kind


class ScheduleTick:
    """A schedule firing: `scheduled_time` (RFC 3339), `schedule` (its expression), `name`."""

    __slots__ = ("scheduled_time", "schedule", "name")

    def __init__(self, scheduled_time: str | None, schedule: str | None = None, name: str | None = None):
        self.scheduled_time = scheduled_time
        self.schedule = schedule
        self.name = name

    @classmethod
    def from_cloudevent(cls, event: Any) -> ScheduleTick:
        """Read a tick from the local timer, EventBridge (Scheduler), Cloud Scheduler or an Azure timer."""
        data = event.data if isinstance(event.data, Mapping) else {}
        return cls(
            data.get("scheduled_time", data.get("time", event.time)),
            data.get("schedule"),
            data.get("name", event.subject),
        )

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in ScheduleTick.__slots__ if getattr(self, s) is not None}

    def __repr__(self) -> str:
        return f"ScheduleTick({self.scheduled_time!r}, schedule={self.schedule!r})"


MAX_ATTEMPT = 2**31 - 1  # the largest CloudEvents Integer (`deadletterattempt` carries the attempt)


class MessageMeta:
    """Transport metadata of a queue or topic message: `message_id`, `delivery_count`, `attributes`,
    `published_time`, and `subscription` (the subscription that delivered it, where the cloud says)."""

    __slots__ = ("message_id", "delivery_count", "attributes", "published_time", "subscription")

    def __init__(
        self,
        message_id: str | None = None,
        delivery_count: int = 1,
        attributes: Mapping[str, str] | None = None,
        published_time: str | None = None,
        subscription: str | None = None,
    ) -> None:
        self.message_id = message_id
        # A count the transport cannot have meant (0, negative, past a CloudEvents Integer) is brought into
        # 1..2**31-1: `ctx.attempt` and a dead letter's `deadletterattempt` then agree on every cloud.
        self.delivery_count = (
            delivery_count if 0 < delivery_count <= MAX_ATTEMPT else 1 if delivery_count < 1 else MAX_ATTEMPT
        )
        self.attributes = dict(attributes or {})
        self.published_time = published_time
        self.subscription = subscription

    def __repr__(self) -> str:
        return f"MessageMeta({self.message_id!r}, delivery_count={self.delivery_count})"

"""The portable side of benchmarks/gcp_functions_framework.py: handlers reading what they are given, as
the anchors in bare_main.py read it."""

from __future__ import annotations

from portable_fn import CloudEvent, Context, StorageObject, function, storage, topic

SEEN: list[object] = []


@function(trigger=topic("bench"))
def portable_message(event: CloudEvent, ctx: Context) -> None:
    """Receives the Pub/Sub message's own CloudEvent: its data decoded, the attributes in ctx.message."""
    SEEN.append((event.id, ctx.message.attributes if ctx.message else None, event.data))


@function(trigger=storage("some-bucket"))
def portable_storage(event: CloudEvent[StorageObject]) -> None:
    """Receives the storage event with its neutral view."""
    SEEN.append((event.id, event.data.bucket, event.data.key))

"""The portable side of benchmarks/gcp_functions_framework.py: handlers that do nothing with the event."""

from __future__ import annotations

from portable_fn import CloudEvent, StorageObject, function, storage, topic


@function(trigger=topic("bench"))
def portable_message(event: CloudEvent) -> None:
    """Receives the Pub/Sub message's own CloudEvent."""


@function(trigger=storage("some-bucket"))
def portable_storage(event: CloudEvent[StorageObject]) -> None:
    """Receives the storage event with its neutral view."""

"""A queue function."""

from __future__ import annotations

from portable_fn import CloudEvent, function, queue


@function(trigger=queue("jobs"))
def run_job(event: CloudEvent) -> None:
    print(event.id)

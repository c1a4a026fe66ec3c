"""A scheduled function importing `heavy` lazily, inside its body."""

from __future__ import annotations

from portable_fn import CloudEvent, cron, function


@function(trigger=cron("0 3 * * *"))
def nightly(event: CloudEvent) -> None:
    import split.heavy

    split.heavy.crunch()

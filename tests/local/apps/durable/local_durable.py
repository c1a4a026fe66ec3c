"""Functions a `portable-fn dev` subprocess runs for the durability test.

Every delivery is appended, one JSON line each, to the file named by $DURABLE_DELIVERIES, so the test
can count them across a SIGKILL. While a file named `hold` exists next to it, `work` deliveries wait
after being written down: they are in flight when the host is killed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from portable_fn import CloudEvent, Context, DeadLetter, Retry, function, queue


def _record(function_name: str, event: CloudEvent, ctx: Context) -> Path:
    deliveries = Path(os.environ["DURABLE_DELIVERIES"])
    line = json.dumps({"function": function_name, "id": event.id, "attempt": ctx.attempt})
    with deliveries.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
    return deliveries


def _work(function_name: str, event: CloudEvent, ctx: Context) -> None:
    hold = _record(function_name, event, ctx).with_name("hold")
    while hold.exists():
        time.sleep(0.01)


@function(trigger=queue("work", batch_size=10))
def work_a(event: CloudEvent, ctx: Context) -> None:
    _work("work_a", event, ctx)


@function(trigger=queue("work", batch_size=10))
def work_b(event: CloudEvent, ctx: Context) -> None:
    _work("work_b", event, ctx)


@function(trigger=queue("later"), retries=5)
def later(event: CloudEvent, ctx: Context) -> None:
    _record("later", event, ctx)
    raise Retry("not before an hour from now", delay_s=3600)


@function(trigger=queue("poison"))
def poisoned(event: CloudEvent, ctx: Context) -> None:
    _record("poisoned", event, ctx)
    raise DeadLetter("poison pill")

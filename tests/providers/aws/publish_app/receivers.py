"""Functions that write down, as JSON lines in $RECEIVED, every CloudEvent the shim hands them."""

from __future__ import annotations

import json
import os

from portable_fn import CloudEvent, function, queue, topic


def write_down(function_name: str, event: CloudEvent) -> None:
    with open(os.environ["RECEIVED"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"function": function_name, "event": event.to_dict()}) + "\n")


@function(trigger=queue("orders", batch_size=10))
def on_queue(event: CloudEvent) -> None:
    write_down("on_queue", event)


@function(trigger=topic("order-events"))
def on_topic(event: CloudEvent) -> None:
    write_down("on_topic", event)

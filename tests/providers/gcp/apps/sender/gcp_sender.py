"""`forward` emits a CloudEvent for each message it gets; `receive`, triggered by that topic, writes down every
CloudEvent the shim hands it (JSON lines in $RECEIVED)."""

from __future__ import annotations

import json
import os

from portable_fn import CloudEvent, Context, function, topic

order_events = topic("order-events")


@function(trigger=topic("inbox"), uses=[order_events.publish()])
def forward(event: CloudEvent, ctx: Context) -> None:
    ctx.emit(order_events, data={"order": event.data["order"], "paid": True}, type="shop.order.paid", subject="o-1")


@function(trigger=order_events)
def receive(event: CloudEvent) -> None:
    with open(os.environ["RECEIVED"], "a", encoding="utf-8") as out:
        out.write(json.dumps(event.to_dict()) + "\n")

"""Functions that log the ways users do: `ctx.logger`, their own logger, a thread started with a copy of
the context, `asyncio.to_thread`, an exception, `extra=` fields."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from typing import Any

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue

orders_log = logging.getLogger("shop.orders")


class Unserialisable:
    def __str__(self) -> str:
        return "<unserialisable>"


@function(trigger=queue("orders", batch_size=10))
def ship(event: CloudEvent, ctx: Context) -> None:
    order = event.data["order"]
    ctx.logger.info("shipping %s", order, extra={"order": order, "box": Unserialisable()})
    orders_log.debug("picked %s", order)
    orders_log.warning("stock low for %s", order)
    worker = threading.Thread(target=contextvars.copy_context().run, args=(orders_log.info, "from a thread"))
    worker.start()
    worker.join()
    if event.data.get("fail"):
        try:
            {}["sku"]
        except KeyError:
            orders_log.exception("lookup failed")
        raise RuntimeError("could not ship")


@function(trigger=queue("async-orders"))
async def ship_async(event: CloudEvent) -> None:
    await asyncio.to_thread(orders_log.info, "from to_thread")
    await asyncio.gather(_log_in_a_task())


async def _log_in_a_task() -> None:
    orders_log.info("from a task")


@function(trigger=http("GET", "/status"))
def status(request: Request) -> Response:
    logging.getLogger().info("root logger")
    return Response.json({"ok": True})


def log_structured(payload: dict[str, Any]) -> None:
    """A dict logged on its own (Lambda's JSON log format keeps it an object)."""
    orders_log.info(payload)

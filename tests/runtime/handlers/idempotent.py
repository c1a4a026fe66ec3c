"""Idempotent functions. Each records its runs in `RUNS`; a test makes a run fail by queueing an exception
in `FAIL_NEXT`, and runs a duplicate while the first call is in progress by queueing it in `DURING`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from portable_fn import CloudEvent, Request, Response, function, http, queue
from portable_fn.runtime import idempotent

RUNS: list[Any] = []
FAIL_NEXT: list[Exception] = []
DURING: list[Callable[[], Any]] = []


def _run(what: Any) -> None:
    RUNS.append(what)
    while DURING:
        DURING.pop(0)()
    if FAIL_NEXT:
        raise FAIL_NEXT.pop(0)


@function(trigger=queue("payments"), idempotent=True)
def charge(event: CloudEvent[dict]) -> dict:  # type: ignore[type-arg]
    _run(event.data)
    return {"charged": event.data["amount"]}


@function(trigger=queue("payments-copy"), idempotent=True)
def charge_again(event: CloudEvent[dict]) -> dict:  # type: ignore[type-arg]
    _run(event.data)
    return {"charged again": event.data["amount"]}


@function(trigger=queue("payments-async"), idempotent=True)
async def charge_async(event: CloudEvent[dict]) -> dict:  # type: ignore[type-arg]
    await asyncio.sleep(0)
    _run(event.data)
    return {"charged": event.data["amount"], "async": True}


@function(trigger=queue("orders"), idempotent=idempotent(key="order.id", ttl=60))
def charge_order(event: CloudEvent[dict]) -> str:  # type: ignore[type-arg]
    _run(event.data)
    return str(event.data["order"]["id"])


def reference(event: CloudEvent[Any]) -> str:
    return str(event.data["ref"])


@function(trigger=queue("refs"), idempotent=idempotent(key=reference))
def charge_ref(event: CloudEvent[dict]) -> str:  # type: ignore[type-arg]
    _run(event.data)
    return str(event.data["ref"])


@function(trigger=http("POST", "/pay"), idempotent=True)
def pay(request: Request) -> Response:
    _run(request.body)
    status = int(request.json().get("status", 201))
    headers = [("x-payment", "p-1"), ("set-cookie", "a=1"), ("set-cookie", "b=2")]
    return Response(b"\x00\xffpaid\r\n", status, headers, "application/octet-stream")


@function(trigger=http("POST", "/pay-strict"), idempotent=idempotent(required=True))
def pay_strict(request: Request) -> Response:
    _run(request.body)
    return Response.json({"paid": True}, status=201)

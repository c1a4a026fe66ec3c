"""Functions calling a flaky dependency through a circuit breaker. `FLAKY` says whether it fails now."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, breaker, function, http, queue

payments = breaker("payments", failures=2, reset_after=30)
FLAKY = [True]


@payments
def charge(amount: int) -> int:
    if FLAKY[0]:
        raise ConnectionError("payment provider timed out")
    return amount


@function(trigger=queue("orders"), uses=[payments])
def fulfil(event: CloudEvent[dict]) -> int:  # type: ignore[type-arg]
    return charge(event.data["amount"])


@function(trigger=http("POST", "/orders"), uses=[payments.read()])
def order(request: Request) -> Response:
    return Response.json({"charged": charge(request.json()["amount"])})


@function(trigger=queue("undeclared"))
def undeclared(event: CloudEvent[dict]) -> int:  # type: ignore[type-arg]
    with payments:
        return 1

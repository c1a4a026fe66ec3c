"""An app that sends to a FIFO queue, which Azure cannot keep in order."""

from __future__ import annotations

from portable_fn import Request, Response, function, http, queue

ledger = queue("ledger", fifo=True)


@function(trigger=http("POST", "/ledger"), uses=[ledger.send()])
def record(request: Request) -> Response:
    return Response.json({"recorded": True})

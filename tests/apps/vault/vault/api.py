"""An HTTP function that reads a data file shipped next to it."""

from __future__ import annotations

import json
from pathlib import Path

from portable_fn import Request, Response, function, http

from .formatting import title


@function(trigger=http("GET", "/prices"))
def prices(request: Request) -> Response:
    data = json.loads((Path(__file__).parent / "data" / "prices.json").read_text(encoding="utf-8"))
    return Response.json({title(name): price for name, price in data.items()})

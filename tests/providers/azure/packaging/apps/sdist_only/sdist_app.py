"""An app whose one dependency has no wheel at all."""

from __future__ import annotations

from portable_fn import Request, Response, function, http


@function(trigger=http("GET", "/usage"))
def usage(request: Request) -> Response:
    import docopt

    return Response.json({"version": docopt.__version__})

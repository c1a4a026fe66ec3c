"""A private route with a greedy path parameter, for any method."""

from __future__ import annotations

from gateway import storage
from portable_fn import Request, Response, function, http


@function(trigger=http("ANY", "/files/{path+}"))
def files(request: Request) -> Response:
    return Response(storage.FILES.get(request.path_params["path"], b""))

"""One HTTP function of 512 MB: the shape of the providers' worked pricing examples."""

from portable_fn import Request, Response, function, http


@function(trigger=http("POST", "/work"), memory_mb=512, timeout_s=30)
def work(request: Request) -> Response:
    return Response.json({"done": True})

"""HTTP functions for the AWS adapter tests."""

from __future__ import annotations

from portable_fn import CloudEvent, Request, Response, function, http


@function(trigger=http("ANY", "/my/{name}"))
def echo(request: Request) -> Response:
    """Echoes the request body with its content type, and sets two cookies and a repeated header."""
    content_type = request.headers.get("content-type", "application/octet-stream")
    headers = [
        ("Set-Cookie", "a=1; Path=/"),
        ("Set-Cookie", "b=2; HttpOnly"),
        ("X-Multi", "one"),
        ("X-Multi", "two"),
        ("X-Name", request.path_params.get("name", "")),
    ]
    return Response(request.body, 201, headers, content_type=content_type)


@function(trigger=http("POST", "/events"))
def receive(event: CloudEvent) -> dict[str, str]:
    """A request carrying a CloudEvent (binary or structured) read as one."""
    return {"id": event.id, "type": event.type}


@function(trigger=http("GET", "/boom"))
def boom(request: Request) -> Response:
    raise RuntimeError("the handler crashed")

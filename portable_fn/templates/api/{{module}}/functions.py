"""{{name}}: an HTTP endpoint and a queue consumer. Run it with `portable-fn dev`."""

from __future__ import annotations

from portable_fn import CloudEvent, Context, Request, Response, function, http, queue


@function(trigger=http("GET", "/hello/{name}", public=True))
def hello(request: Request, ctx: Context) -> Response:
    ctx.logger.info("greeting %s", request.path_params["name"])  # shown by `portable-fn dev`
    return Response.json({"hello": request.path_params["name"]})


@function(trigger=queue("jobs"))
def work(event: CloudEvent[dict], ctx: Context) -> None:
    ctx.logger.info("job %s: %s", event.id, event.data)

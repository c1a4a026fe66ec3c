"""{{function}}: answers GET /{{resource}}. Under `portable-fn dev`: curl localhost:8080/{{resource}}"""

from __future__ import annotations

from portable_fn import Context, Request, Response, function, http


@function(trigger=http("GET", "/{{resource}}"))  # public=True to let anyone call it once deployed
def {{function}}(request: Request, ctx: Context) -> Response:
    ctx.logger.info("{{function}} called with %s", dict(request.query))
    return Response.json({"function": "{{function}}"})

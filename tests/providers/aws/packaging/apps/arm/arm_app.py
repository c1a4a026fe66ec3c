"""An app for Graviton: every function runs on arm64."""

from __future__ import annotations

from pydantic import BaseModel

from portable_fn import Request, Response, function, http


class Greeting(BaseModel):
    name: str


@function(trigger=http("POST", "/hello"), architecture="arm64")
def hello(request: Request) -> Response:
    return Response.json({"hello": Greeting.model_validate_json(request.body).name})

"""Every case of the OpenAPI document: path and greedy parameters, ANY beside an explicit method, bodies
declared on `http(...)` and read from annotations (pydantic models, a dataclass, plain types), public
and private functions, and a queue function the document leaves out."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from portable_fn import CloudEvent, Request, Response, function, http, queue


class NewItem(BaseModel):
    name: str = Field(min_length=1)
    price_cents: int = Field(ge=0)


class Item(BaseModel):
    id: str
    name: str
    price_cents: int


@dataclass
class Reading:
    sensor: str
    celsius: float


@function(trigger=http("POST", "/items", public=True, request=NewItem, response={201: Item, 409: None}))
def add_item(request: Request) -> Response:
    """Add an item.

    Answers 409 when an item of that name exists."""
    new = NewItem.model_validate_json(request.body)
    return Response.json(Item(id="i-1", **new.model_dump()), status=201)


@function(trigger=http("GET", "/items"))
def list_items(request: Request) -> list[Item]:
    """Every item."""
    return [Item(id="i-1", name="pen", price_cents=150)]


@function(trigger=http("GET", "/items/{item_id}"))
def get_item(request: Request) -> Item:
    """One item by id."""
    return Item(id=request.path_params["item_id"], name="pen", price_cents=150)


@function(trigger=http("POST", "/readings"))
def record_reading(event: CloudEvent[Reading]) -> None:
    """A sensor reading, as a CloudEvent."""


@function(trigger=http("ANY", "/files/{key+}", public=True))
def files(request: Request) -> bytes:
    """Anything under /files/."""
    return request.path_params["key"].encode()


@function(trigger=http("GET", "/files/{key+}", public=True))
def read_file(request: Request) -> str:
    """Read a file as text."""
    return request.path_params["key"]


@function(trigger=http("GET", "/health", public=True))
def health(request: Request) -> dict:
    return {"ok": True}


@function(trigger=queue("items"))
def index_item(event: CloudEvent[Item]) -> None:
    """Not an HTTP function: not in the document."""

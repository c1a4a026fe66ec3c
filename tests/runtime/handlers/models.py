"""The user's own data types: a pydantic model and a dataclass."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel


class Order(BaseModel):
    id: int
    item: str
    quantity: int = 1


@dataclass
class Shipment:
    order_id: int
    carrier: str

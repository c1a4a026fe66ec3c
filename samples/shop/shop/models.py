"""The shop's own data models: plain pydantic, nothing portable-fn specific."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Line(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0, le=100)


class Order(BaseModel):
    id: str = Field(min_length=1, max_length=200)  # it names the order's workflow instance: 1-200 characters
    customer: str
    lines: list[Line] = Field(min_length=1)


class OrderAccepted(BaseModel):
    id: str
    lines: int


class Payment(BaseModel):
    id: str
    order_id: str
    idempotency_key: str
    status: str = "charged"


class Receipt(BaseModel):
    order_id: str
    payment_id: str
    tracking: str


class PaymentConfirmed(BaseModel):
    order_id: str
    woken: int

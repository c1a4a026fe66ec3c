"""The shop's own data models: plain pydantic, nothing portable-fn specific."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Line(BaseModel):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(gt=0, le=100)


class Order(BaseModel):
    id: str = Field(min_length=1, max_length=200)  # it names the order's workflow instance: 1-200 characters
    # Bounded, so that an order always fits the workflow it starts (its input is kept whole on every cloud):
    # a 1.5 MB customer name was a 500 from start_workflow instead of a 400 from the model.
    customer: str = Field(min_length=1, max_length=200)
    lines: list[Line] = Field(min_length=1, max_length=100)


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

"""A workflow awaiting a payment, and the functions that signal it: a payment provider's webhook serving no
tenant (it names the tenant its payload says) and a tenant's own route (it may name only its own tenant)."""

from __future__ import annotations

from typing import Any

from portable_fn import Request, Response, function, http, tenant_from
from portable_fn.runtime.workflow import Workflow, WorkflowError, send_event, start_workflow, workflow

PAID = "billing.invoice.paid"


@workflow()
def invoice(wf: Workflow, invoice_id: str) -> Any:
    return wf.wait_for_event(PAID, match=invoice_id, timeout=600)


@function(trigger=http("POST", "/webhooks/payments"), uses=[invoice])
def payment_webhook(request: Request) -> Response:
    paid = request.json()
    woken = send_event(PAID, match=paid["invoice"], data={"amount": paid["amount"]}, tenant=paid["tenant"])
    return Response.json({"woken": woken})


@function(trigger=http("POST", "/invoices/{id}/paid"), tenant=tenant_from(header="X-Tenant-Id"), uses=[invoice])
def mark_paid(request: Request) -> Response:
    """Sends to the tenant the body names, if any (else the caller's own): a test of what is refused."""
    named = request.json().get("tenant")
    try:
        woken = send_event(PAID, match=request.path_params["id"], data={"amount": 0}, tenant=named)
    except WorkflowError as refused:
        return Response.json({"error": str(refused)}, status=403)
    return Response.json({"woken": woken})


@function(trigger=http("POST", "/invoices/{id}"), tenant=tenant_from(header="X-Tenant-Id"), uses=[invoice])
def open_invoice(request: Request) -> Response:
    """Starts the invoice's instance for the tenant the body names, if any (else the caller's own)."""
    named = request.json().get("tenant")
    try:
        started = start_workflow(invoice, request.path_params["id"], tenant=named)
    except WorkflowError as refused:
        return Response.json({"error": str(refused)}, status=403)
    return Response.json({"id": started}, status=201)

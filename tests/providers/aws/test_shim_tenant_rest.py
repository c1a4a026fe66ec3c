"""What the tenants' REST API hands a tenant-isolated function: a payload 1.0 proxy event (AWS's own sample event,
its method, path and stage set as the REST API of `deploy/apps/isolated` sends them) and a Lambda context whose
`tenant_id` is the X-Amz-Tenant-Id the integration mapped from the tenant header. The shim routes it past the
stage, fills the path parameters and makes the context's tenant the call's."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.shim import deliver

from portable_fn.app import load_app

ISOLATED = Path(__file__).with_name("deploy") / "apps" / "isolated"


@pytest.fixture(scope="module")
def get_order() -> Any:
    [spec] = [s for s in load_app(ISOLATED).functions if s.name == "get_order"]
    return spec


def rest_event(adapter: Any, path: str, tenant: str) -> dict[str, Any]:
    event = copy.deepcopy(adapter.load_event("apiGatewayProxyEvent.json"))
    event |= {
        "httpMethod": "GET",
        "path": path,
        "resource": "/orders/{order_id}",
        "pathParameters": {"order_id": "42"},
        "body": None,
        "isBase64Encoded": False,
    }
    event["headers"]["X-Tenant-Id"] = tenant
    event["multiValueHeaders"]["X-Tenant-Id"] = [tenant]
    event["requestContext"] |= {"stage": "dev", "path": "/dev/orders/42", "httpMethod": "GET"}
    return event


@pytest.mark.parametrize("path", ["/orders/42", "/dev/orders/42"])  # a custom domain's base path repeats the stage
def test_the_rest_apis_event_reaches_the_route_with_lambdas_tenant(adapter: Any, get_order: Any, path: str) -> None:
    context = adapter.LambdaContext(function_name="isolated-dev-get_order")
    context.tenant_id = "acme"
    response = deliver(get_order, rest_event(adapter, path, "acme"), context).response
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"tenant": "acme", "order": "42"}


def test_lambdas_tenant_is_kept_over_the_header(adapter: Any, get_order: Any) -> None:
    """Lambda ran this environment for the mapped tenant: that one is the call's, whatever else the event says."""
    context = adapter.LambdaContext(function_name="isolated-dev-get_order")
    context.tenant_id = "acme"
    response = deliver(get_order, rest_event(adapter, "/orders/42", "globex"), context).response
    assert json.loads(response["body"]) == {"tenant": "acme", "order": "42"}


def test_the_head_method_deploy_adds_beside_the_get_is_served_by_the_get(adapter: Any, get_order: Any) -> None:
    """As on every front, the GET's answer (API Gateway sends a HEAD's answer without its body)."""
    context = adapter.LambdaContext(function_name="isolated-dev-get_order")
    context.tenant_id = "acme"
    event = rest_event(adapter, "/orders/42", "acme")
    event["httpMethod"] = event["requestContext"]["httpMethod"] = "HEAD"
    response = deliver(get_order, event, context).response
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"tenant": "acme", "order": "42"}

"""What Lambda's side established before the function runs, handed to the runtime by the shim: the claims the HTTP
API's JWT authorizer verified (`requestContext.authorizer.jwt.claims`, in AWS's own sample event), and the tenant
Lambda's tenant isolation mode ran the invocation for (the context's `tenant_id`)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from portable_fn_aws.shim import deliver, edge_claims, tenant_of

from portable_fn.runtime.function import spec_of

CLAIMS = {"iss": "https://id.example.com/", "sub": "user-7", "aud": "orders-api", "scope": "orders:read"}


@pytest.fixture
def secured(secured_module: Any) -> Any:
    return secured_module


def authorized(adapter: Any, claims: dict[str, Any]) -> dict[str, Any]:
    """AWS's sample HTTP API event (payload 2.0), its authorizer's claims replaced."""
    event = copy.deepcopy(adapter.load_event("apiGatewayProxyV2Event_GET.json"))
    event["requestContext"]["authorizer"]["jwt"]["claims"] = claims
    return event


def test_claims_the_authorizer_verified_reach_the_handler_as_request_auth(adapter: Any, secured: Any) -> None:
    event = authorized(adapter, CLAIMS)
    response = deliver(spec_of(secured.whoami), event, adapter.LambdaContext()).response
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"kind": "jwt", "subject": "user-7", "claims": CLAIMS}


def test_claims_of_another_issuer_are_not_taken_and_the_function_verifies_the_token(adapter: Any, secured: Any) -> None:
    event = authorized(adapter, {**CLAIMS, "iss": "https://elsewhere.example.com/"})
    assert edge_claims(spec_of(secured.whoami), event) is None
    response = deliver(spec_of(secured.whoami), event, adapter.LambdaContext()).response
    assert response["statusCode"] == 401  # no bearer token: the runtime's own verification refuses it


def test_a_route_without_jwt_takes_no_claims(adapter: Any, secured: Any) -> None:
    assert edge_claims(spec_of(secured.tenant_of_request), authorized(adapter, CLAIMS)) is None
    # AWS's sample claims name no issuer: still not the caller of a route that declares none
    sample = adapter.load_event("apiGatewayProxyV2Event_GET.json")
    assert "iss" not in sample["requestContext"]["authorizer"]["jwt"]["claims"]
    assert edge_claims(spec_of(secured.tenant_of_request), sample) is None


def test_the_lambda_contexts_tenant_is_the_calls_tenant(adapter: Any, secured: Any) -> None:
    context = adapter.LambdaContext()
    context.tenant_id = "acme"
    event = authorized(adapter, CLAIMS)
    response = deliver(spec_of(secured.tenant_of_request), event, context).response
    assert json.loads(response["body"]) == {"tenant": "acme"}

    secured.TENANTS_SEEN.clear()
    cloudevent = {"specversion": "1.0", "id": "e-1", "source": "test", "type": "job.requested", "data": {}}
    assert deliver(spec_of(secured.work), cloudevent, context).error is None
    assert deliver(spec_of(secured.work), cloudevent, adapter.LambdaContext()).error is None
    assert secured.TENANTS_SEEN == ["acme", None]


@pytest.mark.parametrize("given", [None, "", 7])
def test_no_tenant_unless_lambda_names_one(adapter: Any, given: Any) -> None:
    context = adapter.LambdaContext()
    context.tenant_id = given
    assert tenant_of(context) is None

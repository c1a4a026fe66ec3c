"""Where `ctx.tenant` comes from, through the real pipeline (auth, then tenants): a header, a verified claim,
the CloudEvent extension `tenantid` (or the one a function renames), or the Context a shim passed. What
cannot name a tenant is answered without running the handler, saying why."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from portable_fn import current_tenant
from portable_fn.runtime import (
    ACK,
    DEAD_LETTER,
    CloudEvent,
    Context,
    FunctionSpec,
    Request,
    Response,
    call_batch,
    call_event,
    call_http,
    spec_of,
)
from portable_fn.runtime.pipeline import Invocation
from portable_fn.runtime.tenants import TenantMiddleware

from .handlers import tenanted


@pytest.fixture(autouse=True)
def _published(published: Any) -> Any:
    """`job` emits: its events go to a recording publisher."""
    return published


def body(response: Response) -> Any:
    return json.loads(response.body)


RULE = "is not a tenant id (1 to 64 of A-Z a-z 0-9 . _ -)"


def spec(handler: Any) -> FunctionSpec:
    found = spec_of(handler)
    assert found is not None
    return found


def event(extensions: dict[str, Any] | None = None, data: Any = None) -> CloudEvent[Any]:
    return CloudEvent(
        id=uuid.uuid4().hex, source="/tests/jobs", type="jobs.run", data=data or {"n": 1}, extensions=extensions
    )


def put(tenant: str | None, key: str = "k", body: str = "hello") -> Request:
    headers = {"X-Tenant-Id": tenant} if tenant is not None else {}
    return Request("PUT", f"/notes/{key}", headers=headers, body=body, path_params={"key": key})


# -- HTTP: a header ----------------------------------------------------------------------------------


def test_the_header_names_the_tenant() -> None:
    response = call_http(spec(tenanted.put_note), put("acme"))
    assert (response.status, body(response)) == (201, {"tenant": "acme"})
    assert tenanted.SEEN == ["acme"]


@pytest.mark.parametrize(
    ("tenant", "reason"),
    [
        (None, "put_note: this request needs a X-Tenant-Id header naming its tenant."),
        ("", "put_note: this request needs a X-Tenant-Id header naming its tenant."),
        ("acme corp", f"put_note: the X-Tenant-Id header 'acme corp' {RULE}."),
        ("a" * 65, f"put_note: the X-Tenant-Id header {'a' * 65!r} {RULE}."),
        ("../b", f"put_note: the X-Tenant-Id header '../b' {RULE}."),
    ],
)
def test_a_missing_or_bad_header_is_a_400_saying_why(tenant: str | None, reason: str) -> None:
    response = call_http(spec(tenanted.put_note), put(tenant))
    assert (response.status, body(response)) == (400, {"error": reason})
    assert tenanted.SEEN == []  # the handler never ran


def test_every_allowed_character_makes_a_tenant_id() -> None:
    tenant = "Acme.eu_west-1." + "x" * 49
    assert body(call_http(spec(tenanted.put_note), put(tenant))) == {"tenant": tenant}


# -- HTTP: a claim of the verified caller ------------------------------------------------------------


def whoami(claims: dict[str, Any] | None) -> Request:
    headers = {"X-Test-Claims": json.dumps(claims)} if claims is not None else {}
    return Request("GET", "/whoami", headers=headers)


def test_the_claim_names_the_tenant() -> None:
    response = call_http(spec(tenanted.whoami), whoami({"sub": "ann", "org_id": "acme"}))
    assert (response.status, body(response)) == (200, {"tenant": "acme", "subject": "ann"})


def test_a_numeric_claim_is_read_as_its_digits() -> None:
    assert body(call_http(spec(tenanted.whoami), whoami({"sub": "ann", "org_id": 42})))["tenant"] == "42"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "ann"}, "whoami: the caller's token has no 'org_id' claim naming its tenant."),
        (
            {"sub": "ann", "org_id": "acme/../b"},
            "whoami: the caller's 'org_id' claim 'acme/../b' is not a tenant id (1 to 64 of A-Z a-z 0-9 . _ -).",
        ),
        (
            {"sub": "ann", "org_id": ["acme"]},
            "whoami: the caller's 'org_id' claim ['acme'] is not a tenant id (1 to 64 of A-Z a-z 0-9 . _ -).",
        ),
    ],
)
def test_a_token_without_a_good_claim_is_a_403_saying_why(claims: dict[str, Any], reason: str) -> None:
    response = call_http(spec(tenanted.whoami), whoami(claims))
    assert (response.status, body(response)) == (403, {"error": reason})


def test_an_unauthenticated_request_reaching_the_tenant_is_a_401() -> None:
    """Auth refuses such a caller first; the tenant middleware on its own refuses it too."""
    invocation = Invocation(spec(tenanted.whoami), "local")
    call = invocation.request(whoami(None))
    TenantMiddleware().before(call)
    assert call.response is not None
    assert (call.response.status, body(call.response)) == (
        401,
        {"error": "whoami: this request is not authenticated, so it names no tenant."},
    )


def test_a_function_declaring_no_tenant_has_none() -> None:
    assert body(call_http(spec(tenanted.untenanted), Request("GET", "/open", headers={"X-Tenant-Id": "acme"}))) == {
        "tenant": None
    }


# -- events: the CloudEvent extension ----------------------------------------------------------------


def test_an_event_names_its_tenant_in_the_tenantid_extension() -> None:
    result = call_event(spec(tenanted.job), event({"tenantid": "acme"}))
    assert result.outcome == ACK, result.reason
    assert tenanted.SEEN == ["acme"]


def test_an_event_without_tenantid_has_no_tenant() -> None:
    assert call_event(spec(tenanted.job), event()).outcome == ACK
    assert tenanted.SEEN == [None]


def test_a_function_may_rename_the_extension() -> None:
    call_event(spec(tenanted.renamed), event({"orgid": "acme", "tenantid": "other"}))
    call_event(spec(tenanted.renamed), event({"tenantid": "other"}))
    assert tenanted.SEEN == ["acme", None]


def test_an_event_with_a_bad_tenantid_is_dead_lettered_saying_why() -> None:
    bad = event({"tenantid": "no spaces"})
    result = call_event(spec(tenanted.job), bad)
    assert (result.outcome, result.reason, result.event_id) == (
        DEAD_LETTER,
        "job: the event's 'tenantid' extension 'no spaces' is not a tenant id (1 to 64 of A-Z a-z 0-9 . _ -); "
        "it is dead-lettered.",
        bad.id,
    )
    assert tenanted.SEEN == []


def test_each_record_of_a_batch_serves_its_own_tenant_even_with_one_shared_context() -> None:
    shared = Context("inv-1", "job", "local")
    records = [event({"tenantid": "acme"}), event(), event({"tenantid": "globex"})]
    results = call_batch(spec(tenanted.job), records, shared)
    assert [r.outcome for r in results] == [ACK, ACK, ACK]
    assert tenanted.SEEN == ["acme", None, "globex"]
    assert shared.tenant is None  # the shim's Context is left as it was given


# -- a shim that knows the tenant ----------------------------------------------------------------------


def test_the_tenant_a_shim_set_on_the_context_is_kept() -> None:
    """AWS's tenant isolation mode: the Lambda context's tenant_id, put on the Context by the shim."""
    given = Context("inv-2", "job", "aws", tenant="from-lambda")
    call_event(spec(tenanted.job), event({"tenantid": "from-event"}), given)
    response = call_http(spec(tenanted.put_note), put(None), Context("inv-3", "put_note", "aws", tenant="t-9"))
    assert tenanted.SEEN == ["from-lambda", "t-9"]
    assert response.status == 201 and given.tenant == "from-lambda"


def test_there_is_no_current_tenant_outside_a_call() -> None:
    call_http(spec(tenanted.put_note), put("acme"))
    assert current_tenant() is None


def test_a_copy_of_the_context_for_another_attempt_keeps_the_tenant() -> None:
    assert Context("i", "f", tenant="acme").with_attempt(2).tenant == "acme"

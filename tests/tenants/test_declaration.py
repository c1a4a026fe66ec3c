"""Declaring tenants: `tenant_from` and the `tenant=` / `tenant_isolation=` options, checked when the module
is imported, each mistake naming its fix; both options kept in FunctionOptions (and App.options)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn import CloudEvent, DeclarationError, Request, function, http, queue, tenant_from
from portable_fn.app import load_app
from portable_fn.runtime.function import FunctionOptions, spec_of
from portable_fn.runtime.tenants import TenantSource

from .handlers import tenanted

NOTES_APP = Path(__file__).resolve().parent / "apps" / "notes"


def test_tenant_from_keeps_what_it_was_given() -> None:
    assert tenant_from(header="X-Tenant-Id") == TenantSource(None, "X-Tenant-Id", "tenantid")
    assert (tenant_from(claim="org_id").claim, tenant_from(claim="org_id").extension) == ("org_id", "tenantid")
    assert tenant_from(extension="orgid").extension == "orgid"
    assert repr(tenant_from(claim="org_id", extension="orgid")) == "tenant_from(claim='org_id', extension='orgid')"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"claim": "org_id", "header": "X-Tenant-Id"}, "give claim= or header=, not both"),
        ({"claim": ""}, "claim= is the name of a token claim, like 'org_id'"),
        ({"header": "X Tenant"}, "header= is an HTTP header name, like 'X-Tenant-Id'"),
        ({"extension": "tenant_id"}, "extension= is a CloudEvent extension name: 1 to 20 lower-case letters"),
        ({"extension": "TenantId"}, "extension= is a CloudEvent extension name"),
    ],
)
def test_a_bad_tenant_from_says_what_to_write(given: dict[str, Any], says: str) -> None:
    with pytest.raises(DeclarationError, match=says):
        tenant_from(**given)


def test_a_claim_needs_the_http_trigger_to_verify_its_callers() -> None:
    with pytest.raises(DeclarationError) as raised:

        @function(trigger=http("GET", "/mine"), tenant=tenant_from(claim="org_id"))
        def mine(request: Request) -> None: ...

    assert str(raised.value) == (
        "@function 'mine': tenant=tenant_from(claim='org_id') reads a claim of the caller's verified token, but "
        "http('GET', '/mine') verifies no caller; add auth=jwt(issuer=..., audience=...) to its http trigger, or "
        "read the tenant from a header with tenant_from(header='X-Tenant-Id')."
    )


def test_an_http_function_names_a_claim_or_a_header() -> None:
    with pytest.raises(DeclarationError, match="an HTTP function reads its tenant from a claim or a header"):

        @function(trigger=http("GET", "/mine"), tenant=tenant_from())
        def mine(request: Request) -> None: ...


def test_an_event_function_cannot_read_a_request() -> None:
    with pytest.raises(DeclarationError, match="reads an HTTP request, but the function is queue-triggered"):

        @function(trigger=queue("jobs"), tenant=tenant_from(header="X-Tenant-Id"))
        def work(event: CloudEvent[Any]) -> None: ...


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"tenant": "X-Tenant-Id"}, "tenant='X-Tenant-Id' is invalid; use tenant_from(claim='org_id')"),
        ({"tenant_isolation": "yes"}, "tenant_isolation='yes' is invalid; use True"),
        ({"tenant_isolation": 1}, "tenant_isolation=1 is invalid"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], says: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        FunctionOptions("f", **options)
    assert says in str(raised.value)


def test_the_options_are_kept_and_shown() -> None:
    options = FunctionOptions("f", tenant=tenant_from(header="X-Tenant-Id"), tenant_isolation=True)
    shown = options.to_dict()
    assert (shown["tenant"], shown["tenant_isolation"]) == ("tenant_from(header='X-Tenant-Id')", True)
    assert json.loads(json.dumps(shown))["tenant_isolation"] is True
    assert (FunctionOptions("f").tenant, FunctionOptions("f").tenant_isolation) == (None, False)


def test_app_options_keep_the_tenant_options(tmp_path: Path) -> None:
    app = load_app(shutil.copytree(NOTES_APP, tmp_path / "notes"))
    spec = app.function("put_note")
    merged = app.options(spec)
    assert (merged.tenant, merged.tenant_isolation) == (tenant_from(header="X-Tenant-Id"), True)


def test_a_declared_function_carries_its_source() -> None:
    spec = spec_of(tenanted.whoami)
    assert spec is not None and spec.options.tenant == tenant_from(claim="org_id")

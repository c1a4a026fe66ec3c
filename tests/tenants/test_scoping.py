"""What a tenant scopes without the handler saying so, on the SQLite backend in files: a user state's keys
(stored under `t/<tenant>/`), idempotency keys, the outbox's stable keys, and the `tenantid` every emitted
event carries. Tenant A never reads what B wrote."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from portable_fn.runtime import ACK, CloudEvent, FunctionSpec, Request, Response, call_event, call_http, spec_of
from portable_fn.runtime.state import MAX_KEY_CHARS, stored_key

from ..state_contract import AWKWARD_KEYS
from .conftest import Recording
from .handlers import tenanted


def spec(handler: Any) -> FunctionSpec:
    found = spec_of(handler)
    assert found is not None
    return found


def body(response: Response) -> Any:
    return json.loads(response.body)


def put(tenant: str, key: str, text: str) -> Response:
    request = Request("PUT", f"/notes/{key}", headers={"X-Tenant-Id": tenant}, body=text, path_params={"key": key})
    return call_http(spec(tenanted.put_note), request)


def get(tenant: str, key: str) -> Any:
    request = Request("GET", f"/notes/{key}", headers={"X-Tenant-Id": tenant}, path_params={"key": key})
    return body(call_http(spec(tenanted.get_note), request))


def rows(stores: Path, state: str) -> list[tuple[str, str]]:
    with sqlite3.connect(stores / f"{state}.sqlite3") as db:
        return sorted(db.execute("SELECT key, value FROM items").fetchall())


# -- state ---------------------------------------------------------------------------------------------


def test_a_tenant_reads_only_its_own_state_keys(stores: Path) -> None:
    assert put("acme", "plan", "acme's plan").status == 201
    assert get("acme", "plan") == {"tenant": "acme", "note": "acme's plan"}
    assert get("globex", "plan") == {"tenant": "globex", "note": None}  # B cannot read A's key
    put("globex", "plan", "globex's plan")
    assert (get("acme", "plan")["note"], get("globex", "plan")["note"]) == ("acme's plan", "globex's plan")
    assert rows(stores, "notes") == [("t/acme/plan", '"acme\'s plan"'), ("t/globex/plan", '"globex\'s plan"')]


def test_without_a_tenant_keys_are_stored_as_they_are_so_existing_data_stays_readable(
    stores: Path, published: Recording
) -> None:
    tenanted.notes.put("plan", "written before tenants")  # outside a call: a script, data from before tenants
    call_event(spec(tenanted.job), _event())  # an event with no tenantid
    assert rows(stores, "notes")[1] == ("plan", '"written before tenants"')
    assert rows(stores, "notes")[0][0] == "last-job"
    assert get("acme", "plan")["note"] is None
    assert tenanted.notes.get("plan") == "written before tenants"


def test_what_an_instance_caches_for_one_tenant_is_never_anothers(stores: Path) -> None:
    def plan(tenant: str) -> Any:
        request = Request("GET", "/plans/p", headers={"X-Tenant-Id": tenant}, path_params={"key": "p"})
        return body(call_http(spec(tenanted.cached_plan), request))["plan"]

    assert [plan("acme"), plan("globex"), plan("acme")] == ["loaded for acme", "loaded for globex", "loaded for acme"]
    assert rows(stores, "notes") == [("t/acme/p", '"loaded for acme"'), ("t/globex/p", '"loaded for globex"')]


def test_a_tenant_key_too_long_for_every_store_is_stored_by_its_hash() -> None:
    key = "k" * MAX_KEY_CHARS
    stored = stored_key("acme", key)
    assert stored == "t/acme/sha256:" + hashlib.sha256(key.encode()).hexdigest()
    assert stored_key("acme", "k" * (MAX_KEY_CHARS - len("t/acme/"))) == "t/acme/" + "k" * (MAX_KEY_CHARS - 7)
    put("acme", key, "long")
    assert get("acme", key)["note"] == "long" and get("globex", key)["note"] is None


@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=range(len(AWKWARD_KEYS)))
def test_awkward_keys_stay_within_their_tenant(key: str) -> None:
    """Slashes, dots, '#', unicode and the longest key: none reaches out of its tenant's prefix."""
    put("acme", key, f"acme {key}")
    put("acme.eu", key, f"acme.eu {key}")  # a tenant whose id starts with another's
    assert (get("acme", key)["note"], get("acme.eu", key)["note"]) == (f"acme {key}", f"acme.eu {key}")
    assert get("globex", key)["note"] is None
    assert get("acme", "../acme.eu/" + key[:400])["note"] is None


def test_an_events_tenant_scopes_what_its_handler_writes(stores: Path, published: Recording) -> None:
    assert call_event(spec(tenanted.job), _event({"tenantid": "acme"}, {"n": 1})).outcome == ACK
    assert call_event(spec(tenanted.job), _event({"tenantid": "globex"}, {"n": 2})).outcome == ACK
    assert rows(stores, "notes") == [("t/acme/last-job", '{"n":1}'), ("t/globex/last-job", '{"n":2}')]


# -- idempotency ---------------------------------------------------------------------------------------


def pay(tenant: str, key: str = "k-1", amount: int = 5) -> Response:
    request = Request(
        "POST", "/pay", headers={"X-Tenant-Id": tenant, "Idempotency-Key": key}, body=json.dumps({"amount": amount})
    )
    return call_http(spec(tenanted.pay), request)


def test_the_same_idempotency_key_from_two_tenants_is_two_requests(stores: Path) -> None:
    first, other, again = pay("acme"), pay("globex"), pay("acme")
    assert [body(r) for r in (first, other, again)] == [
        {"paid": 5, "tenant": "acme"},
        {"paid": 5, "tenant": "globex"},
        {"paid": 5, "tenant": "acme"},
    ]
    assert (again.headers.get("Idempotent-Replayed"), other.headers.get("Idempotent-Replayed")) == ("true", None)
    assert tenanted.SEEN == ["acme", "globex"]  # acme's duplicate was replayed without running
    assert [key for key, _ in rows(stores, "pfn-idempotency")] == ["pay#t/acme#k-1", "pay#t/globex#k-1"]


def test_an_events_idempotency_key_includes_its_tenant(stores: Path) -> None:
    one = _event({"tenantid": "acme"}, {"amount": 3})
    same_id_other_tenant = CloudEvent(
        id=one.id, source=one.source, type=one.type, data={"amount": 3}, extensions={"tenantid": "globex"}
    )
    untenanted = CloudEvent(id=one.id, source=one.source, type=one.type, data={"amount": 3})
    for delivered in (one, same_id_other_tenant, one, untenanted):
        assert call_event(spec(tenanted.charge), delivered).outcome == ACK
    assert tenanted.SEEN == ["acme", "globex", None]
    assert [key for key, _ in rows(stores, "pfn-idempotency")] == [
        f"charge#/tests/jobs#{one.id}",
        f"charge#t/acme#/tests/jobs#{one.id}",
        f"charge#t/globex#/tests/jobs#{one.id}",
    ]


# -- emit ------------------------------------------------------------------------------------------------


def test_emitted_events_carry_the_tenant_unless_the_caller_set_one(published: Recording) -> None:
    call_event(spec(tenanted.job), _event({"tenantid": "acme"}))
    call_event(spec(tenanted.job), _event())
    assert [(e.type, e.extensions.get("tenantid")) for e in published.events] == [
        ("notes.job.done", "acme"),
        ("notes.job.audited", "auditors"),  # the caller's own tenantid stands
        ("notes.job.done", None),  # no tenant, no extension
        ("notes.job.audited", "auditors"),
    ]


def test_a_request_emits_with_its_tenant_and_ids_that_differ_per_tenant(published: Recording) -> None:
    def order(tenant: str) -> Response:
        headers = {"X-Tenant-Id": tenant, "Idempotency-Key": "same-key"}
        return call_http(spec(tenanted.order), Request("POST", "/orders", headers=headers, body='{"sku": "x"}'))

    assert [order(t).status for t in ("acme", "globex", "acme")] == [202, 202, 202]
    acme, globex = published.events  # acme's duplicate request: the outbox published its events already
    assert (acme.extensions["tenantid"], globex.extensions["tenantid"]) == ("acme", "globex")
    assert acme.id != globex.id


# -- helpers -------------------------------------------------------------------------------------------


def _event(extensions: dict[str, Any] | None = None, data: Any = None) -> CloudEvent[Any]:
    return CloudEvent(id=uuid.uuid4().hex, source="/tests/jobs", type="jobs.run", data=data, extensions=extensions)


@pytest.fixture(autouse=True)
def _clean_seen() -> None:
    tenanted.SEEN.clear()

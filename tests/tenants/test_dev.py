"""`portable-fn dev` end to end, as a user runs it: an HTTP function reading its tenant from a header stores
notes per tenant in the dev host's SQLite state; two tenants never see each other's, and each request
serving a tenant writes its usage line to the dev log."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..local.conftest import Client, DevProcess

NOTES_APP = Path(__file__).resolve().parent / "apps" / "notes"


def wait_for(predicate: Callable[[], Any], timeout: float = 120.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    process = DevProcess(NOTES_APP, tmp_path / "state", tmp_path / "dev.log")
    yield process
    process.stop()


@pytest.mark.slow
def test_two_tenants_never_see_each_others_notes_in_dev(dev: DevProcess, tmp_path: Path) -> None:
    client = Client(dev.url(wait_for))

    def put(tenant: str, key: str, text: str) -> Any:
        return client.request("PUT", f"/notes/{key}", body=text, headers={"X-Tenant-Id": tenant})

    def get(tenant: str, key: str) -> Any:
        return client.request("GET", f"/notes/{key}", headers={"X-Tenant-Id": tenant})

    assert put("acme", "plan", "acme's plan").json() == {"tenant": "acme", "stored": "plan"}
    assert (get("globex", "plan").status, get("globex", "plan").json()) == (
        404,
        {"tenant": "globex", "error": "no such note"},
    )
    assert put("globex", "plan", "globex's plan").status == 201
    assert get("acme", "plan").json() == {"tenant": "acme", "note": "acme's plan"}
    assert get("globex", "plan").json() == {"tenant": "globex", "note": "globex's plan"}

    refused = client.request("GET", "/notes/plan")
    assert (refused.status, refused.json()) == (
        400,
        {"error": "get_note: this request needs a X-Tenant-Id header naming its tenant."},
    )
    with sqlite3.connect(tmp_path / "state" / "notes.sqlite3") as db:
        assert sorted(db.execute("SELECT key, value FROM items").fetchall()) == [
            ("t/acme/plan", '"acme\'s plan"'),
            ("t/globex/plan", '"globex\'s plan"'),
        ]
    said = wait_for(lambda: dev.text().count("'usage'") >= 6 and dev.text(), what="the usage lines in the dev log")
    assert "{'usage': {'tenant': 'globex', 'function': 'put_note', 'invocations': 1, 'duration_ms': " in said

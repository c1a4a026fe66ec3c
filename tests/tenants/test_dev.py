"""`portable-fn dev` end to end, as a user runs it: an HTTP function reading its tenant from a header stores
notes per tenant in the dev host's SQLite state; two tenants never see each other's, and each request
serving a tenant writes its usage line to the dev log."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.local.host import LocalHost

from ..dev_process import DevProcess, wait_for
from ..local.conftest import Client

NOTES_APP = Path(__file__).resolve().parent / "apps" / "notes"


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    process = DevProcess(NOTES_APP, tmp_path / "state", tmp_path / "dev.log")
    yield process
    process.stop()


@pytest.mark.slow
def test_two_tenants_never_see_each_others_notes_in_dev(dev: DevProcess, tmp_path: Path) -> None:
    client = Client(dev.url())

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
    said = wait_for(
        lambda: dev.text().count("'usage'") >= 6 and dev.text(), timeout=120.0, what="the usage lines in the dev log"
    )
    assert "{'usage': {'tenant': 'globex', 'function': 'put_note', 'invocations': 1, 'duration_ms': " in said


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalHost]:
    monkeypatch.delitem(sys.modules, "tenant_notes", raising=False)  # a fresh import of the app
    started = LocalHost(load_app(NOTES_APP), host="127.0.0.1", port=0, state_dir=tmp_path / "state", log=lambda _: None)
    started.start()
    yield started
    started.stop()


def test_the_tenant_of_a_verified_token_reads_that_tenants_notes(
    host: LocalHost, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real ES256 token from `portable-fn token` (the dev host's issuer), verified by the route's jwt(),
    its org_id claim naming the tenant."""

    def token(org: str) -> str:
        capsys.readouterr()
        assert (
            main(
                [
                    "token",
                    str(NOTES_APP),
                    "--state-dir",
                    str(host.state_dir),
                    "--sub",
                    "ann",
                    "--claim",
                    f"org_id={org}",
                    "--audience",
                    "api://notes",
                ]
            )
            == 0
        )
        return capsys.readouterr().out.strip()

    client = Client(host.url)
    assert client.request("PUT", "/notes/plan", body="acme's plan", headers={"X-Tenant-Id": "acme"}).status == 201
    acme = client.request("GET", "/my/notes/plan", headers={"Authorization": f"Bearer {token('acme')}"})
    globex = client.request("GET", "/my/notes/plan", headers={"Authorization": f"Bearer {token('globex')}"})
    assert (acme.status, acme.json()) == (200, {"tenant": "acme", "subject": "ann", "note": "acme's plan"})
    assert (globex.status, globex.json()) == (200, {"tenant": "globex", "subject": "ann", "note": None})
    capsys.readouterr()
    assert (
        main(["token", str(NOTES_APP), "--state-dir", str(host.state_dir), "--sub", "ann", "--audience", "api://notes"])
        == 0
    )
    no_org = client.request(
        "GET", "/my/notes/plan", headers={"Authorization": f"Bearer {capsys.readouterr().out.strip()}"}
    )
    assert (no_org.status, no_org.json()) == (
        403,
        {"error": "my_note: the caller's token has no 'org_id' claim naming its tenant."},
    )

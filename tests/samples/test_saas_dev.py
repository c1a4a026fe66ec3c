"""samples/saas end to end under `portable-fn dev`, called as its README says: tokens from `portable-fn token`
(the dev host's own issuer), projects kept per tenant, a tenant onboarded through its workflow and its
welcome event audited for it, the billing key set with `portable-fn secrets set`, and usage lines read
back with `portable-fn logs --usage`."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..app_copy import copy_app
from ..local.conftest import Client, DevProcess, dev_process  # noqa: F401 - the dev host fixture, shared
from .saas_issuer import billing_system

SAAS = Path(__file__).resolve().parents[2] / "samples" / "saas"

pytestmark = pytest.mark.slow


@pytest.fixture
def saas_copy(tmp_path: Path) -> Path:
    return copy_app(SAAS, tmp_path)


def portable_fn(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run the CLI as a user does; its stdout (the test fails with its stderr when it fails)."""
    command = ["portable-fn", *args]
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_saas_sample_runs_under_portable_fn_dev_as_its_readme_says(
    dev_process: Callable[..., DevProcess],  # noqa: F811 - the fixture imported above
    saas_copy: Path,
    wait_for: Callable[..., Any],
) -> None:
    app = str(saas_copy)
    with billing_system() as (billing_url, exports):
        state = saas_copy / ".portable-fn" / "local"  # where `portable-fn token` and `secrets set` look
        host = dev_process(saas_copy, state_dir=state, env={"BILLING_URL": billing_url})
        client = Client(host.url(wait_for))
        tenants_api(client, app, wait_for)

        key = "bk_dev_" + os.urandom(8).hex()
        portable_fn("secrets", "set", "billing-key", app, "--provider", "local", "--stage", "dev", stdin=key)
        assert client.request("POST", "/_local/schedules/billing_export/fire").status < 300
        [(headers, body)] = wait_for(lambda: exports, what="the billing export")
    assert json.loads(body)["tenants"] == [{"tenant": "globex", "name": "Globex", "plan": "team"}]
    assert headers["x-signature"] == hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    host.stop()
    output = host.text()
    assert key not in output
    assert key not in (state / "function-logs.jsonl").read_text(encoding="utf-8")  # the lines dev kept
    usage = {(u["tenant"], u["function"]) for u in usage_lines(output)}
    assert usage == {
        ("acme", "create_project"),
        ("acme", "get_project"),
        ("acme", "get_activity"),
        ("acme", "audit"),
        ("globex", "get_project"),
        ("globex", "list_projects"),
        ("globex", "create_project"),  # refused (403, a scope missing) once its caller was verified: counted
        ("globex", "onboard_tenant-run"),
        ("globex", "get_activity"),
        ("globex", "audit"),
    }
    # what dev printed, `portable-fn logs --usage` sums from what dev kept
    functions = ",".join(sorted({function for _, function in usage}))
    summed = json.loads(portable_fn("logs", functions, app, "--usage", "--since", "1h", "--json"))["usage"]
    printed = usage_lines(output)
    assert [(t["tenant"], t["invocations"]) for t in summed] == [
        (tenant, sum(1 for u in printed if u["tenant"] == tenant)) for tenant in ("acme", "globex")
    ]


def tenants_api(client: Client, app: str, wait_for: Callable[..., Any]) -> None:
    """Projects for acme, refused and unseen for globex; globex onboarded; each tenant's events audited."""

    def token(sub: str, org: str, scope: str) -> dict[str, str]:
        text = portable_fn("token", app, "--sub", sub, "--claim", f"org_id={org}", "--claim", f"scope={scope}")
        return {"authorization": f"Bearer {text.strip()}"}

    alice = token("alice", "acme", "projects:write projects:read")
    created = client.request("POST", "/projects", json_body={"name": "Website"}, headers=alice)
    assert created.status == 201, created.body
    project = created.json()
    assert (project["name"], project["created_by"]) == ("Website", "alice")
    assert client.request("GET", f"/projects/{project['id']}", headers=alice).json() == project

    bob = token("bob", "globex", "projects:read")
    assert client.request("GET", f"/projects/{project['id']}", headers=bob).status == 404
    assert client.request("GET", "/projects", headers=bob).json() == {"projects": []}
    assert client.request("POST", "/projects", json_body={"name": "x"}, headers=bob).status == 403
    assert client.request("GET", "/projects").status == 401

    operator = token("ops", "operator", "tenants:admin")
    tenant = {"id": "globex", "name": "Globex", "plan": "team"}
    accepted = client.request("POST", "/tenants", json_body=tenant, headers=operator)
    assert (accepted.status, accepted.json()) == (202, {"id": "globex", "onboarding": "globex"})

    def instance() -> dict[str, Any]:
        reply = client.request("GET", "/_local/workflows/globex")
        return reply.json() if reply.status == 200 else {}  # type: ignore[no-any-return]

    done = wait_for(lambda: instance().get("status") in ("completed", "failed") and instance(), what="onboarding")
    assert done["status"] == "completed", done.get("error")
    default = {"id": "p-default", "name": "Default", "created_by": "onboarding"}
    assert client.request("GET", "/projects", headers=bob).json() == {"projects": [default]}

    def activity(headers: dict[str, str]) -> list[dict[str, str]]:
        return client.request("GET", "/activity", headers=headers).json()["events"]  # type: ignore[no-any-return]

    [welcome] = wait_for(lambda: activity(bob), what="the welcome event audited for globex")
    assert (welcome["type"], welcome["subject"], welcome["tenant"]) == ("saas.tenant.welcome", "globex", "globex")
    [audited] = wait_for(lambda: activity(alice), what="the project event audited for acme")
    assert (audited["type"], audited["subject"], audited["tenant"]) == ("saas.project.created", project["id"], "acme")


def usage_lines(output: str) -> list[dict[str, Any]]:
    """The usage lines the dev host printed (its log lines show each message as Python shows a dict)."""
    found = re.findall(r"\[log\] INFO (\{'usage': \{.*?\}\})  ", output)
    return [ast.literal_eval(text)["usage"] for text in found]

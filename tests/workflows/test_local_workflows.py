"""The contract workflow under `portable-fn dev`, as a user runs it: started over HTTP, continued by the
awaited event from another function, and killed with SIGKILL at step boundaries and in the middle of a
step, then started again on the same state directory: the instance completes with the same history as
everywhere else, and every step's side effect is applied exactly once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..local.conftest import Client, DevProcess
from ..workflow_contract import check_completed
from .conftest import FLOW_DIR

Wait = Callable[..., Any]


def instance(client: Client, instance_id: str) -> dict[str, Any]:
    reply = client.request("GET", f"/_local/workflows/{instance_id}")
    assert reply.status == 200, reply.body
    return reply.json()  # type: ignore[no-any-return]


def test_a_killed_dev_host_resumes_every_workflow_and_applies_each_step_once(
    dev_process: Callable[..., DevProcess], wait_for: Wait, tmp_path: Path
) -> None:
    holds = tmp_path / "holds"
    holds.mkdir()
    (holds / "hold-capture").touch()  # the first run dies in the middle of `capture`
    env = {"FLOW_HOLD_DIR": str(holds)}
    host = dev_process(FLOW_DIR, env=env)
    client = Client(host.url(wait_for))
    started = client.request("POST", "/flows", json_body={"id": "o-9", "qty": 3})
    assert started.status == 202
    instance_id = started.json()["id"]

    wait_for(lambda: (holds / "at-capture").exists(), timeout=120, what="the capture step to start")
    host.kill()  # in the middle of a step: its effect not applied, its run counted
    (holds / "hold-capture").unlink()

    for boundary in (6, 7, 10):  # after capture, at the awaited event, after the second sleep's step
        host = dev_process(FLOW_DIR, env=env)
        client = Client(host.url(wait_for))

        def reached(count: int = boundary, running: Client = client) -> bool:
            found = instance(running, instance_id)
            if found["status"] == "waiting" and found["waiting"].get("for") == "event":
                assert running.request("POST", "/approvals/o-9").status == 200
            return len(found["history"]) >= count

        wait_for(reached, timeout=120, what=f"{boundary} history entries")
        host.kill()

    host = dev_process(FLOW_DIR, env=env)
    client = Client(host.url(wait_for))

    def finished() -> dict[str, Any] | None:
        found = instance(client, instance_id)
        if found["status"] == "waiting" and found["waiting"].get("for") == "event":
            client.request("POST", "/approvals/o-9")
        return found if found["status"] in ("completed", "failed") else None

    done = wait_for(finished, timeout=120, what="the instance to finish")
    host.stop()
    with sqlite3.connect(tmp_path / "state" / "ledger.sqlite3") as db:
        rows = dict(db.execute("SELECT key, value FROM items").fetchall())
    check_completed(done, rows, "o-9")
    assert int(rows[f"runs#{instance_id}#5"]) >= 2  # capture ran again after the kill in its middle

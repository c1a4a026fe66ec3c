"""What the contract workflow (tests/apps/flow) must do on every provider: the same result and the same
history for the same order, each step's side effect applied once. Imported by the local, in-process and
per-cloud workflow tests (relatively, e.g. `from ...workflow_contract import check_completed`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FLOW_DIR = Path(__file__).resolve().parent / "apps" / "flow"
APPROVAL = "flow.approved"  # the awaited event's type (`flow.APPROVAL`)
STEPS = ["validate", "price", "reserve", "authorize", "capture", "pack", "label", "ship", "notify", "receipt"]


def order(order_id: str = "o-1", **extra: Any) -> dict[str, Any]:
    return {"id": order_id, "qty": 3, **extra}


def expected_shape(order_id: str) -> list[tuple[str, str]]:
    """(kind, name) of every history entry of a completed instance, in order."""
    return [
        ("step", "validate"),
        ("step", "price"),
        ("step", "reserve"),
        ("step", "authorize"),
        ("sleep", "sleep"),
        ("step", "capture"),
        ("event", f"{APPROVAL}#{order_id}"),
        ("step", "pack"),
        ("sleep", "sleep"),
        ("step", "label"),
        ("step", "ship"),
        ("step", "notify"),
        ("step", "receipt"),
    ]


def expected_result(order_id: str) -> dict[str, Any]:
    return {
        "total": 21,
        "stock": f"stock-{order_id}",
        "auth": f"auth-{order_id}",
        "approval": {"by": "webhook"},
        "label": f"label-{order_id}",
        "receipt": f"receipt-{order_id}",
    }


def shape(instance: dict[str, Any]) -> list[tuple[str, str]]:
    return [(entry["kind"], entry["name"]) for entry in instance["history"]]


def check_completed(instance: dict[str, Any], effects: dict[str, Any], order_id: str = "o-1") -> None:
    """`instance` (its record in pfn-workflows) completed as on every provider, and `effects` (the ledger
    state's records by key, `runs#` counters left out; values as stored, JSON text or decoded) hold each
    step's side effect exactly once, under the instance's step keys."""
    assert instance["status"] == "completed", instance.get("error")
    assert instance["result"] == expected_result(order_id)
    assert shape(instance) == expected_shape(order_id)
    decoded = {k: json.loads(v) if isinstance(v, str) else v for k, v in effects.items() if not k.startswith("runs#")}
    assert sorted(v["step"] for v in decoded.values()) == sorted(STEPS)
    assert all(key.startswith(instance["id"] + "#") for key in decoded)


def check_compensated(instance: dict[str, Any]) -> None:
    """An order with `fail_at="ship"`: failed at ship, authorize and reserve undone in reverse."""
    assert instance["status"] == "failed"
    assert "ship" in instance["error"]
    assert shape(instance)[-3:] == [
        ("step", "ship"),
        ("compensation", "void (undoing authorize)"),
        ("compensation", "release (undoing reserve)"),
    ]


def check_cli_shows(capsys: Any, where: list[str], instance_id: str, done: dict[str, Any], order_id: str) -> None:
    """`portable-fn workflows list` and `show` (JSON and table), run with `where` (the app directory and the
    provider's options), show the completed instance `done` as its store holds it."""
    from portable_fn.cli import main

    capsys.readouterr()
    assert main(["workflows", "list", *where, "--json"]) == 0
    listed = {i["id"]: i for i in json.loads(capsys.readouterr().out)["instances"]}
    assert listed[instance_id]["status"] == "completed" and listed[instance_id]["steps"] == len(STEPS)
    assert main(["workflows", "show", instance_id, *where, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == done
    assert main(["workflows", "show", instance_id, *where]) == 0
    table = capsys.readouterr().out
    assert f"order_flow {instance_id}: completed" in table and "release" not in table
    assert all(name in table for name in ("validate", "capture", f"{APPROVAL}#{order_id}", "receipt"))


REFUSED_AT = "price"  # where a retried order fails: before any step with a compensation has finished


def check_refused_at_price(instance: dict[str, Any]) -> None:
    """An order with `fail_at="price"`: failed there, with nothing to compensate (validate has no compensation),
    so `portable-fn workflows retry` may run it on."""
    assert instance["status"] == "failed"
    assert f"{REFUSED_AT} refused order" in instance["error"]
    assert shape(instance) == [("step", "validate"), ("step", REFUSED_AT)]
    assert "error" in instance["history"][-1]


def retry_with_cli(capsys: Any, where: list[str], instance_id: str) -> None:
    """`portable-fn workflows retry ID`, run with `where` (the app directory and the provider's options): the
    failed step and what followed it are dropped and the instance is running again, its message sent."""
    from portable_fn.cli import main

    capsys.readouterr()
    assert main(["workflows", "retry", instance_id, *where, "--json"]) == 0
    retried = json.loads(capsys.readouterr().out)
    assert retried["status"] == "running" and "error" not in retried


def check_retried(instance: dict[str, Any], effects: dict[str, Any], runs: dict[int, int], order_id: str) -> None:
    """A retried order (see `check_refused_at_price`) completed as on every provider: validate (step 0) kept its
    result and did not run again, price (step 1) ran twice; `runs` holds the runs of each step by position."""
    check_completed(instance, effects, order_id)
    assert (runs[0], runs[1]) == (1, 2)


class KillAfterEffect:
    """Kills the runner once (raises `crash`, a BaseException the harness treats as the process dying),
    right after the first write of `step`'s effect to the ledger: the effect is stored, the step's result not
    checkpointed, the message not settled. `ledger(backend)` wraps the ledger state's backend."""

    def __init__(self, step: str, crash: type[BaseException]) -> None:
        self.step = step
        self.crash = crash
        self.killed = False

    def ledger(self, backend: Any) -> Any:
        kill = self

        class Ledger:
            def __getattr__(self, name: str) -> Any:
                return getattr(backend, name)

            def create(self, record: Any, now: float) -> bool:
                created = bool(backend.create(record, now))
                if created and not kill.killed and json.loads(record.value).get("step") == kill.step:
                    kill.killed = True
                    raise kill.crash(f"killed after {kill.step}'s effect")
                return created

        return Ledger()

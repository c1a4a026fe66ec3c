"""A stage marked `protected = true`: `remove`, and a `deploy` whose plan deletes or replaces something,
ask on a terminal first; `--yes` goes ahead; without a terminal to ask on, the command refuses (exit 1)
rather than wait, and changes nothing. Run as users run it, with the local provider."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from portable_fn.cli import main

PROTECT = "[tool.portable-fn.stages.prod]\nprotected = true\n"


@pytest.fixture
def shop(shop_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pyproject = shop_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.portable-fn.stages.prod]\n", PROTECT))
    monkeypatch.setenv("PORTABLE_FN_LOCAL_CLOUD", str(tmp_path / "cloud"))
    return shop_copy


def cli(*argv: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    """`portable-fn` as a process (its stdin not a terminal unless given one); the environment is the test's."""
    return subprocess.run(["portable-fn", *argv], stdin=stdin, capture_output=True, text=True)


def deployed(app: Path, stage: str = "prod") -> list[str]:
    info = cli("info", str(app), "--stage", stage, "--json")
    assert info.returncode == 0, info.stderr
    return sorted(json.loads(info.stdout)["outputs"]["functions"])


@pytest.mark.slow  # the CLI in a process of its own
def test_a_remove_without_a_terminal_refuses_and_with_yes_removes(shop: Path) -> None:
    first = cli("deploy", str(shop), "--stage", "prod")  # creates only: nothing to confirm
    assert first.returncode == 0, first.stderr
    refused = cli("remove", str(shop), "--stage", "prod")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "deletes or replaces 25 resources, and stage 'prod' is protected" in refused.stderr
    assert f"run `portable-fn remove {shop} --provider local --stage prod --yes`" in refused.stderr
    assert "create_order" in deployed(shop)

    removed = cli("remove", str(shop), "--stage", "prod", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == "Removed 25 resources.\n" and deployed(shop) == []


def test_an_unprotected_stage_is_removed_without_a_question(capsys, shop: Path) -> None:
    assert main(["deploy", str(shop)]) == 0 and main(["remove", str(shop)]) == 0
    assert capsys.readouterr().out.endswith("Removed 25 resources.\n")


@pytest.mark.slow  # the CLI in a process of its own
def test_a_deploy_that_deletes_on_a_protected_stage_needs_yes(shop: Path) -> None:
    assert cli("deploy", str(shop), "--stage", "prod").returncode == 0
    functions = shop / "shop" / "functions.py"
    source = functions.read_text()
    start = source.index("@function", source.index("def create_order"))  # get_order's declaration
    functions.write_text(source[:start] + source[source.index("@function", start + 1) :])

    refused = cli("deploy", str(shop), "--stage", "prod")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "`portable-fn deploy` of 'shop' (stage 'prod') on local deletes or replaces 1 resource," in refused.stderr
    delete = [{"action": "delete", "kind": "local function", "name": "shop-prod-get_order"}]
    assert deletes(planned(shop)) == delete and len(planned(shop)) == 9  # nothing was changed (8 code updates)

    applied = cli("deploy", str(shop), "--stage", "prod", "--yes", "--json")
    assert applied.returncode == 0, applied.stderr
    assert deletes(json.loads(applied.stdout)["plan"]["steps"]) == delete
    assert planned(shop) == []


def deletes(steps: list[dict[str, str]]) -> list[dict[str, str]]:
    return [s for s in steps if s["action"] == "delete"]


def planned(app: Path) -> list[dict[str, str]]:
    plan = cli("plan", str(app), "--stage", "prod", "--json")
    assert plan.returncode == 0, plan.stderr
    steps: list[dict[str, str]] = json.loads(plan.stdout)["plan"]["steps"]
    return steps


def answered(answer: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`portable-fn` with a terminal on stdin, where `answer` is typed."""
    controller, terminal = pty.openpty()
    os.write(controller, answer.encode() + b"\n")
    try:
        return cli(*argv, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


@pytest.mark.slow  # the CLI in a process of its own
def test_on_a_terminal_the_question_decides(shop: Path) -> None:
    assert cli("deploy", str(shop), "--stage", "prod").returncode == 0
    declined = answered("n", "remove", str(shop), "--stage", "prod")
    assert declined.returncode == 1
    assert "- delete local function shop-prod-create_order" in declined.stderr
    assert "Go ahead? [y/N]" in declined.stderr and "not confirmed, so nothing was changed" in declined.stderr
    assert len(deployed(shop)) == 9

    accepted = answered("y", "remove", str(shop), "--stage", "prod")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout == "Removed 25 resources.\n" and deployed(shop) == []


def test_a_plan_that_replaces_counts_as_destroying() -> None:
    from portable_fn_azure.deploy.resources import FLEX_TIER, FunctionPlan

    from portable_fn.cli import destroyed
    from portable_fn.deploy.models import RemoteState
    from portable_fn.deploy.planner import make_plan

    consumption = FunctionPlan("shop-prod-plan", resource_group="rg", location="westeurope")
    flex = FunctionPlan("shop-prod-plan", resource_group="rg", location="westeurope", sku="FC1", tier=FLEX_TIER)
    bigger = FunctionPlan("shop-prod-plan", resource_group="rg", location="westeurope", sku="Y2")
    moving = make_plan([flex], RemoteState([consumption]))
    (replacing,) = moving.steps
    assert replacing.changes == ("replace: Y1 -> FC1",) and destroyed(moving) == [replacing]
    assert destroyed(make_plan([bigger], RemoteState([consumption]))) == []  # an update in place
    assert [s.action for s in destroyed(make_plan([], RemoteState([consumption])))] == ["delete"]

"""Plans people can review: the target named, old -> new for every changed field, secrets never shown,
and `plan --detailed-exitcode` for CI (0 no change, 2 changes, 1 error)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portable_fn.cli import main
from portable_fn.deploy import Resource
from portable_fn.deploy.diff import HIDDEN, field_changes, step_dict
from portable_fn.deploy.planner import Step

POLICY_V1 = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage"]}]})
POLICY_V2 = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"]}]}
)


@dataclass(frozen=True)
class Fn(Resource):
    kind = "test function"
    ignore_on_compare = frozenset({"arn"})
    memory_mb: int = 128
    env: tuple[tuple[str, str], ...] = ()
    policy: str = ""
    arn: str = ""


def update(old: Fn, new: Fn) -> Step:
    return Step("update", new, old, new.changed_fields(old))


def test_a_scalar_change_reads_old_to_new() -> None:
    changes = field_changes(update(Fn("f", memory_mb=128), Fn("f", memory_mb=1024)))
    assert [c.describe() for c in changes] == ["memory_mb: 128 -> 1024"]


def test_environment_pairs_are_opened_per_variable_and_secrets_are_hidden() -> None:
    old = Fn("f", env=(("LOG_LEVEL", "info"), ("STRIPE_API_KEY", "sk_live_old"), ("GONE", "x")))
    new = Fn("f", env=(("LOG_LEVEL", "debug"), ("STRIPE_API_KEY", "sk_live_new"), ("ADDED", "y")))
    lines = [c.describe() for c in field_changes(update(old, new))]
    assert lines == [
        'env.ADDED: (none) -> "y"',
        'env.GONE: "x" -> (none)',
        'env.LOG_LEVEL: "info" -> "debug"',
        f"env.STRIPE_API_KEY: {HIDDEN} -> {HIDDEN}",
    ]
    assert "sk_live" not in json.dumps(step_dict(update(old, new)))


def test_a_json_document_is_opened_down_to_the_changed_entry() -> None:
    lines = [c.describe() for c in field_changes(update(Fn("f", policy=POLICY_V1), Fn("f", policy=POLICY_V2)))]
    assert lines == ['policy.Statement[0].Action[1]: (none) -> "sqs:GetQueueUrl"']


def test_fields_the_cloud_fills_in_never_show() -> None:
    step = update(Fn("f", memory_mb=1, arn="a"), Fn("f", memory_mb=2, arn="b"))
    assert [c.path for c in field_changes(step)] == ["memory_mb"]
    assert step_dict(step)["fields"] == [{"field": "memory_mb", "old": 1, "new": 2}]


def test_creates_and_deletes_have_no_field_lines() -> None:
    assert field_changes(Step("create", Fn("f"))) == []
    assert "fields" not in step_dict(Step("delete", Fn("f"), Fn("f")))


def test_a_long_value_is_cut_and_says_its_length() -> None:
    change = field_changes(update(Fn("f", policy="a"), Fn("f", policy="b" * 500)))[0]
    assert change.describe().endswith("… (502 chars)")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_names_the_target_and_shows_what_a_change_does(
    capsys: pytest.CaptureFixture[str], shop_copy: Path, tmp_path: Path
) -> None:
    cloud = tmp_path / "cloud"
    pyproject = shop_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f'\n[tool.portable-fn.local]\nstate_dir = "{cloud.as_posix()}"\n')
    target = ("--app", str(shop_copy))

    code, out, _ = run(capsys, "plan", *target, "--detailed-exitcode")
    assert code == 2
    assert out.splitlines()[0].startswith(f"Target: local directory {cloud.as_posix()}, region local, as ")
    assert run(capsys, "deploy", *target)[0] == 0
    assert run(capsys, "plan", *target, "--detailed-exitcode")[0] == 0

    text = pyproject.read_text()
    pyproject.write_text(text.replace("memory_mb = 256\n", "memory_mb = 512\n", 1))
    code, out, _ = run(capsys, "plan", *target, "--detailed-exitcode")
    assert code == 2
    assert "    options.memory_mb: 256 -> 512" in out.splitlines()
    code, out, _ = run(capsys, "plan", *target, "--json")
    plan: dict[str, Any] = json.loads(out)
    assert code == 0 and plan["target"]["scope"] == "directory"
    fields = [f for step in plan["plan"]["steps"] for f in step.get("fields", [])]
    assert {"field": "options.memory_mb", "old": 256, "new": 512} in fields


def test_detailed_exitcode_is_1_on_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "no-app").mkdir()  # a folder without a pyproject.toml (a folder that is not there: a usage error, 2)
    code, _, err = run(capsys, "plan", str(tmp_path / "no-app"), "--detailed-exitcode")
    assert code == 1 and "no-app" in err

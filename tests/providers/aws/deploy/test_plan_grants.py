"""`plan` lists the grants and their changes, read from what AWS holds (moto server) against what the app
declares: after a deploy every grant is unchanged; a function whose use goes from read to write gains the
write actions on exactly that table and loses nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.deploy import pipeline

STATEFUL = Path(__file__).with_name("apps") / "stateful"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return load_app(shutil.copytree(STATEFUL, tmp_path / "stateful", ignore=shutil.ignore_patterns("__pycache__")))


@pytest.fixture
def stateful(endpoint: str, helpers: Any, app: Any) -> Any:
    return helpers.MotoProvider({**app.config.provider_settings("aws", "test"), "wait_delay_s": 0.1}, endpoint)


def test_after_a_deploy_every_grant_reads_back_unchanged(stateful: Any, app: Any) -> None:
    first = pipeline.plan(stateful, app, "test")
    assert first.grants is not None and first.grants.kept == () and len(first.grants.added) >= 4
    assert len(first.grants.added) == len(stateful.grants(stateful.desired(app, "test", first.artifact)))
    pipeline.deploy(stateful, app, "test")
    again = pipeline.plan(stateful, app, "test").grants
    assert again is not None
    assert (again.added, again.removed) == ((), ())
    assert sorted(again.kept, key=repr) == sorted(first.grants.added, key=repr)


def test_a_use_going_from_read_to_write_shows_as_the_grants_it_adds_and_takes_away(stateful: Any, app: Any) -> None:
    pipeline.deploy(stateful, app, "test")
    copy = shutil.copytree(app.root, app.root.with_name("changed"), ignore=shutil.ignore_patterns("__pycache__"))
    functions = copy / "stateful" / "functions.py"
    functions.write_text(functions.read_text().replace("uses=[stock.read()]", "uses=[stock.write()]"))
    changes = pipeline.plan(stateful, load_app(copy), "test").grants
    assert changes is not None
    table = "arn:aws:dynamodb:eu-west-1:123456789012:table/stateful-test-stock"
    assert [(g.function, g.resource) for g in changes.added] == [("show_stock", table)]
    assert [(g.function, g.resource) for g in changes.removed] == [("show_stock", table)]
    gained = set(changes.added[0].actions) - set(changes.removed[0].actions)
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem"} <= gained
    assert not set(changes.removed[0].actions) - set(changes.added[0].actions)
    lines = changes.lines()
    assert lines[0] == f"Grants (1 to grant, 1 to take away, {len(changes.kept)} unchanged):"
    assert sum(line.startswith("  + show_stock as ") for line in lines) == 1


def test_the_plan_command_prints_the_grants_and_puts_them_in_its_json(
    stateful: Any, app: Any, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    common = ["plan", str(app.root), "--provider", "aws", "--stage", "test", "--endpoint-url", endpoint]
    assert main([*common, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["grants"]["kept"] == [] and document["grants"]["removed"] == []
    resources = {g["resource"] for g in document["grants"]["added"]}
    assert "arn:aws:dynamodb:eu-west-1:123456789012:table/stateful-test-orders" in resources
    assert all("*" not in action for g in document["grants"]["added"] for action in g["actions"])
    assert main(common) == 0
    text = capsys.readouterr().out
    assert f"Grants ({len(document['grants']['added'])} to grant, 0 to take away, 0 unchanged):" in text

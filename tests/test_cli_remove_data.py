"""`portable-fn remove` keeps a state store that holds data, and says so; `--delete-data` deletes it with
its data. Against the local cloud, where a store is an SQLite file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from portable_fn.cli import main
from portable_fn.runtime.state import Record
from portable_fn.runtime.state_sqlite import SqliteBackend

STATEFUL = Path(__file__).resolve().parent / "local" / "apps" / "stateful"
KEPT = (
    "= keep local state stateful-dev-counters: it holds data; `portable-fn remove --delete-data` deletes it "
    "with its data"
)


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """A private copy of the stateful app, deployed to a local cloud in tmp, with an item in its store."""
    monkeypatch.setenv("PORTABLE_FN_LOCAL_CLOUD", str(tmp_path / "cloud"))
    app = Path(shutil.copytree(STATEFUL, tmp_path / "stateful", ignore=shutil.ignore_patterns(".portable-fn")))
    assert main(["deploy", str(app)]) == 0
    SqliteBackend(str(store(tmp_path))).write(Record("apples", "3", "v1"))
    capsys.readouterr()
    return app


def store(tmp_path: Path) -> Path:
    return tmp_path / "cloud" / "states" / "stateful-dev-counters.sqlite3"


def test_remove_keeps_a_store_holding_data_and_prints_why(
    deployed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["remove", str(deployed)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["Removed 20 resources.", KEPT]
    assert SqliteBackend(str(store(tmp_path))).read("apples") is not None


def test_remove_with_delete_data_deletes_the_store_and_its_data(
    deployed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["remove", str(deployed), "--delete-data", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert "kept" not in plan
    assert not store(tmp_path).exists()


def test_delete_data_after_a_remove_that_kept_the_store(
    deployed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["remove", str(deployed), "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)["plan"]["kept"]
    assert [k["name"] for k in kept] == ["stateful-dev-counters"]
    assert main(["remove", str(deployed), "--delete-data"]) == 0
    assert capsys.readouterr().out.splitlines() == ["Removed 1 resources."]
    assert not store(tmp_path).exists()

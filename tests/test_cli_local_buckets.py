"""Declared buckets on the local cloud (`portable-fn deploy` / `plan` / `remove` with no --provider): each is a
folder, each function's declared access is a grant the plan lists, and `remove` keeps a bucket holding objects
unless told `--delete-data`, as it keeps a state store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from portable_fn.cli import main

FILES = Path(__file__).resolve().parent / "local" / "apps" / "files"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PORTABLE_FN_LOCAL_CLOUD", str(tmp_path / "cloud"))
    return Path(shutil.copytree(FILES, tmp_path / "files", ignore=shutil.ignore_patterns(".portable-fn")))


def folder(tmp_path: Path) -> Path:
    return tmp_path / "cloud" / "buckets" / "files-dev-uploads"


def test_plan_lists_the_bucket_and_each_functions_declared_access(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(app), "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["plan"]["steps"]
    creates = {(c["kind"], c["name"]) for c in steps if c["action"] == "create"}
    assert ("local bucket", "files-dev-uploads") in creates
    grants = sorted(name for kind, name in creates if kind == "local grant")
    assert grants == [
        "files-dev-download reads bucket files-dev-uploads",
        "files-dev-listing reads bucket files-dev-uploads",
        "files-dev-sneaky_delete reads bucket files-dev-uploads",
        "files-dev-summarise writes bucket files-dev-uploads",
        "files-dev-upload writes bucket files-dev-uploads",
    ]


def test_deploy_makes_the_folder_and_remove_keeps_it_while_it_holds_objects(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", str(app)]) == 0
    assert folder(tmp_path).is_dir()
    (folder(tmp_path) / "in").mkdir()
    (folder(tmp_path) / "in" / "a.txt").write_bytes(b"kept")
    capsys.readouterr()

    assert main(["remove", str(app)]) == 0
    out = capsys.readouterr().out
    assert (
        "= keep local bucket files-dev-uploads: it holds data; `portable-fn remove --delete-data` deletes it "
        "with its data"
    ) in out.splitlines()
    assert (folder(tmp_path) / "in" / "a.txt").read_bytes() == b"kept"

    assert main(["remove", str(app), "--delete-data"]) == 0
    assert capsys.readouterr().out.splitlines() == ["Removed 1 resources."]
    assert not folder(tmp_path).exists()


def test_an_empty_bucket_goes_with_the_rest(app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", str(app)]) == 0
    capsys.readouterr()
    assert main(["remove", str(app), "--json"]) == 0
    assert "kept" not in json.loads(capsys.readouterr().out)["plan"]
    assert not folder(tmp_path).exists()

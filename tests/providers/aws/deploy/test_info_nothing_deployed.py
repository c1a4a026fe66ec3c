"""`portable-fn info` against AWS (a moto server) for an app never deployed there: a sentence, not a list of
empty outputs; `--json` says `deployed: false`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from portable_fn.cli import main

REPO = Path(__file__).resolve().parents[4]


def test_info_for_an_app_never_deployed_says_so(
    capsys: pytest.CaptureFixture[str], endpoint: str, tmp_path: Path
) -> None:
    app = tmp_path / "never"
    shutil.copytree(REPO / "samples" / "shop", app, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    pyproject = app / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('app = "shop"', 'app = "never-deployed"'))
    common = ("info", str(app), "--provider", "aws", "--endpoint-url", endpoint)
    assert main([*common]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Nothing is deployed for app 'never-deployed' (stage 'dev') on aws.")
    assert main([*common, "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["deployed"] is False and said["outputs"]["functions"] == {}

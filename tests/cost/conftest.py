"""Apps for the cost tests: a copy of an app directory with a traffic table and provider settings added."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app

APPS = Path(__file__).with_name("apps")
REPO = Path(__file__).resolve().parents[2]


def toml_table(name: str, values: Mapping[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def app_with(tmp_path: Path) -> Callable[..., App]:
    """`app_with(source, traffic={...}, aws={...}, ...)`: a copy of `source` (an app directory) whose
    pyproject.toml gets `[tool.portable-fn.traffic.NAME]` for each traffic entry and each provider table
    given, loaded."""

    def make(source: Path, traffic: Mapping[str, Mapping[str, Any]] | None = None, **tables: Any) -> App:
        target = tmp_path / f"{source.name}-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
        pyproject = target / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8")
        text += "".join(toml_table(f"tool.portable-fn.traffic.{n}", v) for n, v in (traffic or {}).items())
        text += "".join(toml_table(f"tool.portable-fn.{n}", v) for n, v in tables.items())
        pyproject.write_text(text, encoding="utf-8")
        return load_app(target)

    return make

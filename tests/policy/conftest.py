"""The policy tests' apps (tests/policy/apps: `clean` keeps every built-in rule with every rule configured,
`risky` breaks each once, `custom` brings the team's own rules) and a way to run one with more policy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from portable_fn.app import App, load_app

APPS = Path(__file__).with_name("apps")
ENVIRON: dict[str, str] = {}  # no region from the environment unless a test gives one


@pytest.fixture
def app_copy(tmp_path: Path) -> Callable[..., App]:
    """`app_copy("risky", extra)`: a private copy of the app, `extra` TOML appended to its pyproject.toml."""

    def copy(name: str, extra: str = "") -> App:
        target = tmp_path / name
        shutil.copytree(APPS / name, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
        pyproject = target / "pyproject.toml"
        pyproject.write_text(pyproject.read_text(encoding="utf-8") + extra, encoding="utf-8")
        return load_app(target)

    return copy

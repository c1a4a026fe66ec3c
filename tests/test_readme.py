"""The README's first block gives exactly two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path


def first_block(repo: Path) -> list[str]:
    text = (repo / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_first_block_installs_and_serves_the_sample_then_runs_the_suite(repo: Path) -> None:
    commands = first_block(repo)
    assert len(commands) == 2
    assert commands[0].endswith("portable-fn dev samples/shop")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command(repo: Path) -> None:
    ci = (repo / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert first_block(repo)[1] in ci

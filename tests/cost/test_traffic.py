"""A traffic table that cannot mean one thing is refused with where, what and what to do; so is a region
portable-fn has no prices for. Each through `portable-fn cost`, exit code 1, nothing on stdout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portable_fn.cli import main

SINGLE = Path(__file__).with_name("apps") / "single"


def app_dir(tmp_path: Path, extra: str) -> Path:
    target = tmp_path / "single"
    shutil.copytree(SINGLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = target / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return target


CASES = {
    "unknown function": (
        "[tool.portable-fn.traffic.wrok]\ninvocations = 5\n",
        "{pyproject}: [tool.portable-fn.traffic] names 'wrok', which is not a function of this app; its functions "
        "are work. Rename the table to one of them, or to `default` for every function not named.",
    ),
    "not a number": (
        '[tool.portable-fn.traffic.work]\ninvocations = "many"\n',
        "{pyproject}: [tool.portable-fn.traffic.work] is invalid:\n"
        "  tool.portable-fn.traffic.work.invocations: must be a whole number, not 'many'",
    ),
    "misspelt key": (
        "[tool.portable-fn.traffic.work]\ninvocation = 5\n",
        "{pyproject}: [tool.portable-fn.traffic.work] is invalid:\n"
        "  tool.portable-fn.traffic.work.invocations: is required\n"
        "  tool.portable-fn.traffic.work.invocation: unknown key; did you mean 'invocations'? Valid keys: "
        "duration_ms, invocations, payload_kb, state_reads, state_writes.",
    ),
    "negative": (
        "[tool.portable-fn.traffic.default]\ninvocations = -1\n",
        "{pyproject}: [tool.portable-fn.traffic.default] is invalid:\n"
        "  tool.portable-fn.traffic.default.invocations: must be 0 or more, not -1",
    ),
    "not a table": (
        "[tool.portable-fn.traffic]\nwork = 5\n",
        "{pyproject}: tool.portable-fn.traffic.work must be a table, like [tool.portable-fn.traffic.work] with "
        "`invocations = 100000`, not 5.",
    ),
    "past the timeout": (
        "[tool.portable-fn.traffic.default]\ninvocations = 5\nduration_ms = 40000\n",
        "{pyproject}: the mean duration of 'work' in [tool.portable-fn.traffic.default] is 40000 ms, past its "
        "timeout of 30 s: it would time out. Lower duration_ms, or raise the function's timeout_s.",
    ),
    "a region with no prices": (
        '[tool.portable-fn.traffic.work]\ninvocations = 5\n[tool.portable-fn.aws]\nregion = "ap-south-1"\n',
        "portable-fn has no aws prices for region 'ap-south-1' (prices/aws.json lists eu-west-1, us-east-1). "
        "Estimate with one of those (set the region in [tool.portable-fn.aws]), or add the region's prices to "
        "that file with their source.",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_the_error_names_the_problem_and_the_fix(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra, message = CASES[case]
    app = app_dir(tmp_path, extra)
    assert main(["cost", str(app), "--provider", "aws"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert message.format(pyproject=app / "pyproject.toml") in err

"""A file the command line names that cannot be written (a directory that does not exist) is an error naming
the file and the fix, exit 1, without a traceback; `--verbose` still shows where it failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from portable_fn.cli import main

from .app_copy import copy_app

SHOP = Path(__file__).resolve().parents[1] / "samples" / "shop"


@pytest.mark.parametrize(
    ("command", "option"),
    [(["openapi"], "--output"), (["check", "--provider", "local"], "--sarif")],
    ids=["openapi --output", "check --sarif"],
)
def test_an_output_file_that_cannot_be_written_is_named_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], option: str
) -> None:
    app = copy_app(SHOP, tmp_path)
    target = tmp_path / "missing" / "out.json"
    assert main([*command, str(app), option, str(target)]) == 1
    err = capsys.readouterr().err
    assert f"No such file or directory: {target}. Check the path (its directory must exist)" in err
    assert "Traceback" not in err and not target.parent.exists()


def test_verbose_shows_where_it_failed(tmp_path: Path) -> None:
    app = copy_app(SHOP, tmp_path)
    with pytest.raises(FileNotFoundError):
        main(["check", str(app), "--provider", "local", "--sarif", str(tmp_path / "missing" / "x.sarif"), "--verbose"])

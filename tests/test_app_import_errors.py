"""An app module that cannot be imported is reported at the app's own file and line: a syntax error where it
is (not importlib's frame that compiled it), an exception raised through a library at the app's line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from portable_fn.app import AppLoadError, load_app

PYPROJECT = '[tool.portable-fn]\napp = "{name}"\nmodules = ["{module}"]\n'


def write_app(root: Path, module: str, source: str) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT.format(name=root.name, module=module), encoding="utf-8")
    (root / f"{module}.py").write_text(source, encoding="utf-8")
    return root


def test_a_syntax_error_is_shown_at_its_file_and_line_with_the_code(tmp_path: Path) -> None:
    root = write_app(tmp_path / "syntax-app", "syntax_app_fns", "import os\n\ndef broken(:\n    pass\n")
    with pytest.raises(AppLoadError) as raised:
        load_app(root)
    assert str(raised.value) == (
        f"Importing syntax_app_fns from {root} raised SyntaxError: invalid syntax at "
        f"{root / 'syntax_app_fns.py'}:3: def broken(:"
    )


def test_an_exception_raised_inside_a_library_is_shown_at_the_apps_line(tmp_path: Path) -> None:
    source = "import json\n\nCONFIG = json.loads('{not json')\n"
    root = write_app(tmp_path / "library-app", "library_app_fns", source)
    with pytest.raises(AppLoadError) as raised:
        load_app(root)
    message = str(raised.value)
    assert message.startswith(f"Importing library_app_fns from {root} raised JSONDecodeError: ")
    assert message.endswith(f"({root / 'library_app_fns.py'}:3).")
    sys.modules.pop("library_app_fns", None)


@pytest.mark.parametrize("call", ["sys.exit(4)", "sys.exit()"])
def test_a_module_that_exits_when_imported_is_said(tmp_path: Path, call: str) -> None:
    """It ended `portable-fn check` with nothing said (exit 0 for `sys.exit()`: as if it passed)."""
    root = write_app(tmp_path / "exit-app", "exit_app_fns", f"import sys\n\n{call}\n")
    with pytest.raises(AppLoadError, match=r"called sys\.exit\((4|None)\) \(.*exit_app_fns\.py:3\)"):
        load_app(root)
    sys.modules.pop("exit_app_fns", None)


def test_a_missing_dependency_whose_name_starts_the_module_s_is_named_as_a_dependency(tmp_path: Path) -> None:
    """`import pandas` from module `pandas_jobs` was reported as the app's own module not found."""
    root = write_app(tmp_path / "prefix-app", "pandas_jobs", "import pandas_job\n")
    (root / "pyproject.toml").write_text(PYPROJECT.format(name="prefix-app", module="pandas_jobs"))
    with pytest.raises(AppLoadError, match="Install the app's dependencies"):
        load_app(root)

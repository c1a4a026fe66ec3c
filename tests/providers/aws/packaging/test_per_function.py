"""One zip per function where that is smaller: the rule, what each zip holds, and that it stays
deterministic, so a change reaches only the zips of the functions that import it.

The split app's functions import different modules of the app (`api` and its `formatting`; `reports`
and, lazily, the large `heavy`); the tiny app's all live in one module. Dependencies come from a fake pip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.packaging import app_closure, build_package

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.runtime.errors import ConfigError, DeployError

APPS = Path(__file__).with_name("apps")
SHARED = {
    "split/__init__.py",
    "split/templates/page.html",
    "scripts/seed.py",
    "pyproject.toml",
    "tinydep/__init__.py",
    "portable_fn/runtime/dispatch.py",
    "portable_fn_aws/shim.py",
}


def names_in(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def entry_of(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("portable_fn_entry.py").decode()


@pytest.fixture
def split_dir(tmp_path: Path) -> Path:
    return shutil.copytree(APPS / "split", tmp_path / "split")


def build(app_dir: Path, out: Path, fake_pip: Any, layout: str = "auto", notes: list[str] | None = None) -> Any:
    return build_package(
        load_app(app_dir),
        "dev",
        out,
        (notes if notes is not None else []).append,
        layout=layout,
        cache_dir=out.parent / "cache",
        pip_download=fake_pip,
    )


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_functions_importing_different_modules_get_a_zip_each(split_dir: Path, tmp_path: Path, fake_pip: Any) -> None:
    notes: list[str] = []
    artifact = build(split_dir, tmp_path / "out", fake_pip, notes=notes)
    zips = dict(artifact.functions)
    assert sorted(zips) == ["echo", "hello", "nightly"]
    assert "as one zip per function (its functions import different modules of the app)" in notes[0]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.zip")) == [
        "split-aws-echo.zip",
        "split-aws-hello.zip",
        "split-aws-nightly.zip",
    ]
    hello, nightly = names_in(zips["hello"].path), names_in(zips["nightly"].path)
    assert hello >= SHARED and nightly >= SHARED
    assert {"split/api.py", "split/formatting.py"} <= hello and not {"split/reports.py", "split/heavy.py"} & hello
    assert {"split/reports.py", "split/heavy.py"} <= nightly and not {"split/api.py", "split/formatting.py"} & nightly
    assert "hello = make_handler(" in entry_of(zips["hello"].path)
    assert "echo = " not in entry_of(zips["hello"].path) and "split.api" not in entry_of(zips["nightly"].path)
    assert "('POST', '/echo')" in entry_of(zips["hello"].path)  # the app's routes, which its 404 and 405 name
    assert len(fake_pip.calls) == 1  # one dependency set, resolved once for all the zips


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_each_function_zip_is_smaller_than_the_one_app_zip(split_dir: Path, tmp_path: Path, fake_pip: Any) -> None:
    split = build(split_dir, tmp_path / "per-function", fake_pip)
    whole = build(split_dir, tmp_path / "whole", fake_pip, layout="app")
    assert whole.functions == () and whole.path.name == "split-aws.zip"
    assert {"split/api.py", "split/heavy.py"} <= names_in(whole.path)
    for _, zipped in split.functions:
        assert zipped.size < whole.size and zipped.files < whole.files
    assert dict(split.functions)["hello"].size < whole.size - 2000  # heavy.py is left out


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_per_function_zips_are_deterministic_and_a_change_reaches_only_its_importers(
    split_dir: Path, tmp_path: Path, fake_pip: Any
) -> None:
    first = dict(build(split_dir, tmp_path / "a", fake_pip).functions)
    for path in split_dir.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    again = dict(build(split_dir, tmp_path / "b", fake_pip).functions)
    assert {n: a.sha256 for n, a in first.items()} == {n: a.sha256 for n, a in again.items()}
    assert first["hello"].path.read_bytes() == again["hello"].path.read_bytes()

    with (split_dir / "split" / "heavy.py").open("a") as f:
        f.write("# changed\n")
    changed = dict(build(split_dir, tmp_path / "c", fake_pip).functions)
    assert [n for n in changed if changed[n].sha256 != first[n].sha256] == ["nightly"]
    with (split_dir / "split" / "formatting.py").open("a") as f:
        f.write("# changed\n")
    changed_again = dict(build(split_dir, tmp_path / "d", fake_pip).functions)
    assert sorted(n for n in changed_again if changed_again[n].sha256 != changed[n].sha256) == ["echo", "hello"]


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_a_function_zip_runs_with_only_itself_on_the_path(split_dir: Path, tmp_path: Path, fake_pip: Any) -> None:
    zips = dict(build(split_dir, tmp_path / "out", fake_pip).functions)
    for name, module in (("hello", "split.formatting"), ("nightly", "split.heavy")):
        task = tmp_path / f"task-{name}"
        shutil.unpack_archive(zips[name].path, task)
        probe = (
            f"import portable_fn_entry as e, importlib; importlib.import_module({module!r}); print(callable(e.{name}))"
        )
        done = subprocess.run(
            [sys.executable, "-s", "-S", "-c", probe],
            cwd=task,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(task), "PATH": os.environ.get("PATH", "")},
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["True"]


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_one_module_apps_keep_one_zip_unless_told(tmp_path: Path, fake_pip: Any) -> None:
    notes: list[str] = []
    auto = build(APPS / "tiny", tmp_path / "auto", fake_pip, notes=notes)
    assert auto.functions == () and auto.path.name == "tiny-aws.zip"
    assert "as one zip (every function imports the same modules of the app)" in notes[0]
    assert auto.to_dict()["layout"] == "app"
    forced = build(APPS / "tiny", tmp_path / "forced", fake_pip, layout="function")
    assert sorted(dict(forced.functions)) == ["ping", "run-job"]
    assert forced.to_dict()["layout"] == "function" and sorted(forced.to_dict()["zips"]) == ["ping", "run-job"]
    assert not (tmp_path / "forced" / "tiny-aws.zip").exists()


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_a_rebuild_in_the_other_layout_leaves_no_stale_zip(split_dir: Path, tmp_path: Path, fake_pip: Any) -> None:
    out = tmp_path / "out"
    build(split_dir, out, fake_pip)
    build(split_dir, out, fake_pip, layout="app")
    assert [p.name for p in out.glob("*.zip")] == ["split-aws.zip"]


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_functions_on_different_architectures_get_a_zip_each_with_their_wheels(tmp_path: Path, fake_pip: Any) -> None:
    artifact = build(APPS / "mixed", tmp_path / "out", fake_pip)
    zips = dict(artifact.functions)
    assert (zips["on_intel"].architecture, zips["on_graviton"].architecture) == ("x86_64", "arm64")
    with pytest.raises(DeployError, match=r"on_graviton=arm64, on_intel=x86_64.*package = \"function\""):
        build(APPS / "mixed", tmp_path / "app", fake_pip, layout="app")


def test_an_unknown_layout_is_refused_with_the_choices(tmp_path: Path, fake_pip: Any) -> None:
    with pytest.raises(ConfigError, match=r"package = 'zips'.*'auto', 'app', 'function'"):
        build(APPS / "tiny", tmp_path / "out", fake_pip, layout="zips")


def test_the_closure_follows_relative_absolute_and_lazy_imports(split_dir: Path) -> None:
    assert app_closure(split_dir, "split.api") == {"split/__init__.py", "split/api.py", "split/formatting.py"}
    assert app_closure(split_dir, "split.reports") == {"split/__init__.py", "split/reports.py", "split/heavy.py"}
    (split_dir / "split" / "sub").mkdir()
    (split_dir / "split" / "sub" / "__init__.py").write_text("from .. import formatting\n")
    (split_dir / "split" / "sub" / "deep.py").write_text("from ..reports import nightly\nimport json\n")
    (split_dir / "split" / "api.py").write_text("from split.sub import deep\n")
    assert app_closure(split_dir, "split.api") == {
        "split/__init__.py",
        "split/api.py",
        "split/sub/__init__.py",
        "split/sub/deep.py",
        "split/formatting.py",
        "split/reports.py",
        "split/heavy.py",
    }


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_dynamic_imports_are_followed_and_a_name_built_at_run_time_ships_every_module(
    split_dir: Path, tmp_path: Path, fake_pip: Any
) -> None:
    """`import_module("split.heavy")` is followed like an import statement; `import_module(name)` with a
    name known only at run time could load any module of the app, so that function's zip has them all."""
    api = split_dir / "split" / "api.py"
    source = api.read_text()
    api.write_text(
        source + "\n\ndef _load():\n    import importlib\n    return importlib.import_module('split.heavy')\n"
    )
    assert app_closure(split_dir, "split.api") == {
        "split/__init__.py",
        "split/api.py",
        "split/formatting.py",
        "split/heavy.py",
    }
    api.write_text(source + "\n\ndef _load(name):\n    return __import__(f'split.{name}')\n")
    everything = {
        "split/__init__.py",
        "split/api.py",
        "split/formatting.py",
        "split/heavy.py",
        "split/reports.py",
        "scripts/seed.py",
    }
    assert app_closure(split_dir, "split.api") == everything
    zips = dict(build(split_dir, tmp_path / "out", fake_pip).functions)
    assert {"split/reports.py", "split/heavy.py"} <= names_in(zips["hello"].path)
    assert "split/api.py" not in names_in(zips["nightly"].path)  # the other functions still leave it out


def test_the_closure_follows_a_relative_import_module_and_skips_type_checking_imports(split_dir: Path) -> None:
    """The app's modules are scanned like the shim's (`portable_fn.packaging.import_lines`): a relative
    `import_module` name resolves against `__package__`; an import under `TYPE_CHECKING` never runs."""
    api = split_dir / "split" / "api.py"
    api.write_text(
        api.read_text() + "\n\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
        "    from .reports import nightly\n\n\ndef _load():\n    import importlib\n"
        "    return importlib.import_module('.heavy', __package__)\n"
    )
    assert app_closure(split_dir, "split.api") == {
        "split/__init__.py",
        "split/api.py",
        "split/formatting.py",
        "split/heavy.py",
    }


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_portable_fn_package_reports_the_zips_it_built(split_dir: Path, capsys: Any) -> None:
    pyproject = split_dir / "pyproject.toml"  # no dependencies, so nothing is downloaded
    pyproject.write_text(pyproject.read_text().replace(', "tinydep==1.0"', ""))
    assert main(["package", "--provider", "aws", "--app", str(split_dir), "--json"]) == 0
    out, err = capsys.readouterr()
    artifact = json.loads(out)["artifact"]
    assert artifact["layout"] == "function" and sorted(artifact["zips"]) == ["echo", "hello", "nightly"]
    assert artifact["zips"]["hello"]["path"].endswith("split-aws-hello.zip")
    assert all(Path(z["path"]).is_file() for z in artifact["zips"].values())
    assert "one zip per function" in err and "split-aws-nightly.zip:" in err

"""The Lambda zip ships bytecode for the app's Python: unchecked hash-based pycs (PEP 552) next to every
source, compiled by an interpreter of exactly that version, which the target Python loads from a
read-only copy of the zip without compiling anything. Without such an interpreter the zip ships sources
only, after a warning.

The tiny app runs on Python 3.12, the shop sample on 3.11: each is compiled, and its zip imported, by an
interpreter of that version (this one, or one on PATH or pyenv's; the tests that need one are skipped where
there is none), so the suite means the same under every Python it runs on.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.packaging import build_package

from portable_fn.app import load_app
from portable_fn.bytecode import Interpreters

APPS = Path(__file__).with_name("apps")


def interpreter(python: str) -> tuple[str | None, str | None]:
    """(the executable packaging compiles Python `python` with, the interpreter it runs: a pyenv shim's own
    binary, which runs without the shim's environment), or (None, None) when there is none here."""
    compiler = Interpreters().compiler(python)
    if compiler is None:
        return None, None
    run = [compiler.executable, "-c", "import sys; print(sys.executable)"]
    return compiler.executable, subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()


COMPILER_311, PYTHON_311 = interpreter("3.11")
COMPILER_312, PYTHON_312 = interpreter("3.12")
needs_311 = pytest.mark.skipif(PYTHON_311 is None, reason="no Python 3.11 interpreter here")
needs_312 = pytest.mark.skipif(PYTHON_312 is None, reason="no Python 3.12 interpreter here")
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, not checked against the source


def unzipped_read_only(archive: Path, into: Path) -> Path:
    """The zip unpacked and made read-only, as Lambda mounts /var/task."""
    shutil.unpack_archive(archive, into)
    for path in [into, *into.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return into


def writable_again(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def loaded_from(python: str, task: Path, module: str) -> tuple[list[str], list[str]]:
    """(modules of `task` loaded from bytecode, modules of `task` compiled from source) when `python`
    imports `module` with `-v`, which names where each code object came from."""
    done = subprocess.run(
        [python, "-v", "-s", "-S", "-c", f"import {module}"],
        cwd=task,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    origins = re.findall(r"^# code object from '?([^'\n]+)'?$", done.stderr, re.MULTILINE)
    ours = [origin for origin in origins if origin.startswith(str(task))]
    return [o for o in ours if o.endswith(".pyc")], [o for o in ours if o.endswith(".py")]


def pyc_header(data: bytes) -> tuple[bytes, int]:
    return data[:4], int.from_bytes(data[4:8], "little")


def magic_of(python: str) -> bytes:
    """The magic number of the bytecode `python` writes."""
    run = [python, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"]
    return bytes.fromhex(subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip())


@needs_311
def test_the_shop_zip_ships_unchecked_hash_pycs_for_its_python_and_rebuilds_byte_identical(
    shop_copy: Path, tmp_path: Path, real_wheel_cache: Path
) -> None:
    app = load_app(shop_copy)
    assert app.config.python == "3.11"
    first = build_package(app, "dev", tmp_path / "a", lambda m: None, cache_dir=real_wheel_cache)
    again = build_package(load_app(shop_copy), "dev", tmp_path / "b", lambda m: None, cache_dir=real_wheel_cache)
    assert first.path.read_bytes() == again.path.read_bytes()
    assert PYTHON_311 is not None
    magic = magic_of(PYTHON_311)
    with zipfile.ZipFile(first.path) as archive:
        names = set(archive.namelist())
        sources = {n for n in names if n.endswith(".py")}
        for source in (
            "shop/functions.py",
            "portable_fn/runtime/dispatch.py",
            "portable_fn_aws/shim.py",
            "portable_fn_entry.py",
            "pydantic/main.py",
        ):
            folder, _, file = source.rpartition("/")
            pyc = f"{folder}/__pycache__/{file[:-3]}.cpython-311.pyc".lstrip("/")
            assert pyc in names
            assert pyc_header(archive.read(pyc)) == (magic, UNCHECKED_HASH)
    assert len([n for n in names if n.endswith(".cpython-311.pyc")]) == len(sources)


@needs_311
def test_a_read_only_copy_imports_the_handlers_from_bytecode_without_compiling(
    shop_copy: Path, tmp_path: Path, real_wheel_cache: Path
) -> None:
    artifact = build_package(load_app(shop_copy), "dev", tmp_path / "out", lambda m: None, cache_dir=real_wheel_cache)
    task = unzipped_read_only(artifact.path, tmp_path / "task")
    assert PYTHON_311 is not None
    try:
        from_bytecode, compiled = loaded_from(PYTHON_311, task, "portable_fn_entry")
    finally:
        writable_again(task)
    assert compiled == []
    assert any(o.endswith("shop/__pycache__/functions.cpython-311.pyc") for o in from_bytecode)
    assert any("pydantic/__pycache__/" in o for o in from_bytecode)


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
@needs_312
def test_the_bytecode_is_for_the_apps_python_not_this_one(tmp_path: Path, load_test_app: Any, fake_pip: Any) -> None:
    assert PYTHON_312 is not None
    notes: list[str] = []
    artifact = build_package(
        load_test_app("tiny"),
        "dev",
        tmp_path / "out",
        notes.append,
        cache_dir=tmp_path / "cache",
        pip_download=fake_pip,
    )
    assert f"aws: bytecode for Python 3.12 compiled by {COMPILER_312}" in notes
    with zipfile.ZipFile(artifact.path) as archive:
        names = set(archive.namelist())
        header = pyc_header(archive.read("__pycache__/tiny_app.cpython-312.pyc"))
    assert header == (magic_of(PYTHON_312), UNCHECKED_HASH)
    assert not [n for n in names if ".cpython-311" in n]
    assert "tinydep/__pycache__/__init__.cpython-312.pyc" in names  # the wheel's stale 3.12 pyc is replaced
    task = unzipped_read_only(artifact.path, tmp_path / "task")
    try:
        from_bytecode, compiled = loaded_from(PYTHON_312, task, "portable_fn_entry, tinydep")
    finally:
        writable_again(task)
    assert compiled == [] and any(o.endswith("tinydep/__pycache__/__init__.cpython-312.pyc") for o in from_bytecode)


def test_without_an_interpreter_of_the_apps_python_the_zip_ships_sources_after_a_warning(
    tmp_path: Path, load_test_app: Any, fake_pip: Any
) -> None:
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    notes: list[str] = []
    artifact = build_package(
        load_test_app("tiny"),
        "dev",
        tmp_path / "out",
        notes.append,
        cache_dir=tmp_path / "cache",
        pip_download=fake_pip,
        interpreters=Interpreters(running_version="0.0", path=str(nowhere), pyenv_root=nowhere),
    )
    with zipfile.ZipFile(artifact.path) as archive:
        assert not [n for n in archive.namelist() if n.endswith(".pyc")]
    (warning,) = [note for note in notes if "warning" in note]
    assert "\n" not in warning and "without bytecode" in warning
    assert "python3.12 on PATH" in warning and "pyenv install 3.12" in warning


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
@pytest.mark.skipif(sys.version_info[:2] == (3, 12), reason="this interpreter is the tiny app's Python, 3.12")
def test_an_interpreter_of_another_version_never_compiles_it(tmp_path: Path, load_test_app: Any, fake_pip: Any) -> None:
    """This interpreter (not 3.12) offered as the app's 3.12: it is asked, says no, and compiles nothing."""
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    notes: list[str] = []
    artifact = build_package(
        load_test_app("tiny"),
        "dev",
        tmp_path / "out",
        notes.append,
        cache_dir=tmp_path / "cache",
        pip_download=fake_pip,
        interpreters=Interpreters(running_version="3.12", path=str(nowhere), pyenv_root=nowhere),
    )
    with zipfile.ZipFile(artifact.path) as archive:
        assert not [n for n in archive.namelist() if n.endswith(".pyc")]
    assert any("no Python 3.12 interpreter found" in note for note in notes)

"""`portable_fn.bytecode`: which interpreter compiles a package's bytecode, and what it writes.

The interpreters here are real (this one, as the version it is) or tiny shell scripts standing for a
pyenv shim of a version that is not selected (exit status 127) or an interpreter of another version.
"""

from __future__ import annotations

import importlib.util
import marshal
import sys
from pathlib import Path

import pytest

from portable_fn.bytecode import Compiler, Interpreters, with_bytecode
from portable_fn.packaging import Entry

THIS = f"{sys.version_info[0]}.{sys.version_info[1]}"
TAG = sys.implementation.cache_tag


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def pyenv_version(root: Path, version: str, python: str) -> Path:
    """`root/versions/<version>/bin/python<X.Y>` linked to the interpreter `python`."""
    link = root / "versions" / version / "bin" / f"python{version.rsplit('.', 1)[0]}"
    link.parent.mkdir(parents=True)
    link.symlink_to(python)
    return link


def test_candidates_are_the_running_interpreter_then_path_then_pyenv_newest_first(tmp_path: Path) -> None:
    on_path = script(tmp_path / "bin" / "python3.12", "exit 0")
    for version in ("3.12.1", "3.12.10", "3.12.9", "3.13.0"):
        pyenv_version(tmp_path / "pyenv", version, sys.executable)
    found = Interpreters(
        running="/usr/bin/python3", running_version="3.12", path=str(tmp_path / "bin"), pyenv_root=tmp_path / "pyenv"
    ).candidates("3.12")
    versions = tmp_path / "pyenv" / "versions"
    assert found == [
        "/usr/bin/python3",
        str(on_path),
        *(str(versions / v / "bin" / "python3.12") for v in ("3.12.10", "3.12.9", "3.12.1")),
    ]


@pytest.mark.slow  # runs each candidate interpreter to ask its version
def test_find_skips_what_cannot_run_or_is_another_version(tmp_path: Path) -> None:
    script(tmp_path / "bin" / f"python{THIS}", "echo 'pyenv: command not found' >&2; exit 127")
    real = pyenv_version(tmp_path / "pyenv", f"{THIS}.99", sys.executable)
    interpreters = Interpreters(running_version="0.0", path=str(tmp_path / "bin"), pyenv_root=tmp_path / "pyenv")
    assert interpreters.candidates(THIS)[0] == str(tmp_path / "bin" / f"python{THIS}")
    assert interpreters.compiler(THIS) == Compiler(THIS, str(real))
    offered = Interpreters(running_version="3.0", path=str(tmp_path / "bin"), pyenv_root=tmp_path / "pyenv")
    assert offered.candidates("3.0") == [sys.executable]  # this interpreter, said to be 3.0: it refuses
    assert offered.compiler("3.0") is None


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_pycs_sit_in_pycache_unchecked_hash_based_named_by_archive_path_and_deterministic(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("VALUE = {'a', 'b', 'c'}\n")
    entries = [
        ("pkg/__init__.py", b""),
        ("pkg/mod.py", source),
        ("top.py", b"X = 1\n"),
        ("pkg/mod.py", b"raise SystemExit('the second entry of a name never ships')\n"),
        ("py2.py", b"print 'no'\n"),
        ("data.txt", b"not python"),
    ]
    first = dict(Compiler(THIS, sys.executable).bytecode(entries))
    assert dict(Compiler(THIS, sys.executable).bytecode(entries)) == first
    assert sorted(first) == [
        f"__pycache__/top.{TAG}.pyc",
        f"pkg/__pycache__/__init__.{TAG}.pyc",
        f"pkg/__pycache__/mod.{TAG}.pyc",
    ]  # py2.py does not compile: it ships as is
    data = first[f"pkg/__pycache__/mod.{TAG}.pyc"]
    assert data[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(data[4:8], "little") == 0b01
    assert data[8:16] == importlib.util.source_hash(source.read_bytes())
    code = marshal.loads(data[16:])
    assert code.co_filename == "pkg/mod.py" and "VALUE" in code.co_names


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_a_compiler_compiles_a_source_it_has_compiled_once(tmp_path: Path) -> None:
    """The zips of one build share most files: the second zip's compile runs only for what is new."""
    compiler = Compiler(THIS, sys.executable)
    first = compiler.bytecode([("shared.py", b"X = 1\n"), ("portable_fn_entry.py", b"A = 1\n")])
    remembered = Compiler(THIS, str(tmp_path / "no-such-python"), done=compiler.done)
    assert remembered.bytecode([("shared.py", b"X = 1\n"), ("portable_fn_entry.py", b"A = 1\n")]) == first
    second = compiler.bytecode([("shared.py", b"X = 1\n"), ("portable_fn_entry.py", b"B = 2\n")])
    assert second[1] == first[1] and second[0] != first[0]  # sorted: portable_fn_entry, then shared


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_without_a_compiler_the_entries_ship_alone() -> None:
    entries = [("top.py", b"X = 1\n")]
    assert with_bytecode(entries, None) == entries
    assert [name for name, _ in with_bytecode(entries, Compiler(THIS, sys.executable))] == [
        f"__pycache__/top.{TAG}.pyc",
        "top.py",
    ]


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_the_next_build_takes_what_an_earlier_one_compiled_from_the_cache(tmp_path: Path) -> None:
    """A build keeps what it compiled in the user's cache; the next build, a new process, compiles only what
    changed (here with no interpreter at all, which the unchanged sources do not need)."""
    entries: list[Entry] = [("pkg/shared.py", b"X = 1\n"), ("top.py", b"A = 1\n"), ("bad.py", b"def (\n")]
    first = Compiler(THIS, sys.executable, cache_dir=tmp_path / "cache").bytecode(entries)
    assert [name for name, _ in first] == [f"pkg/__pycache__/shared.{TAG}.pyc", f"__pycache__/top.{TAG}.pyc"]
    later = Compiler(THIS, str(tmp_path / "no-such-python"), cache_dir=tmp_path / "cache")
    assert later.bytecode(entries[:2]) == first
    with pytest.raises(OSError):  # a changed source is compiled again: here, by an interpreter that is not there
        later.bytecode([("top.py", b"A = 2\n")])
    renamed = Compiler(THIS, sys.executable, cache_dir=tmp_path / "cache").bytecode([("other.py", b"A = 1\n")])
    assert marshal.loads(renamed[0][1][16:]).co_filename == "other.py"  # the same source under another name
    assert not list((tmp_path / "cache").rglob("*.tmp"))

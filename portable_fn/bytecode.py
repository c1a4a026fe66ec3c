"""Bytecode for the Python a function runs on, shipped inside its artifact.

Lambda and Azure run-from-package mount the code read-only, so a package without bytecode compiles every
module of the runtime, the app and its dependencies on every cold start, and cannot keep the result.
`with_bytecode` adds, next to each Python source of a package, its bytecode as the importer looks for it
(`<folder>/__pycache__/<module>.cpython-3XY.pyc`).

The pycs are hash-based (PEP 552), so the same sources give the same bytes and a rebuild stays
byte-identical, and unchecked: the importer trusts them without reading and hashing each source, which
is right for an artifact nothing can change once deployed (a source edited in place, in Lambda's console
editor, is not seen until the package is built again).

Bytecode is specific to a Python version (its magic number), so it is compiled by an interpreter of
exactly the target's version (`Interpreters`): the running one when it matches, else `python3.X` on PATH,
else one of pyenv's installed versions. When there is none, the package ships without bytecode and the
packaging says so in a warning with the fix (`no_compiler`); it never compiles with another version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .packaging import Entry
from .runtime.errors import DeployError

SCRIPT = Path(__file__).with_name("_compile_bytecode.py")  # run by the target's interpreter


def _running_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True)
class Interpreters:
    """Where an interpreter of a Python version is looked for, in order: the running one (`running`,
    of version `running_version`), `python3.X` on `path` (default: PATH), then pyenv's installed
    versions under `pyenv_root` (default: PYENV_ROOT, else ~/.pyenv), newest patch release first."""

    running: str = sys.executable
    running_version: str = field(default_factory=_running_version)
    path: str | None = None
    pyenv_root: Path | None = None

    def candidates(self, python: str) -> list[str]:
        """Executables that may be Python `python` (each is asked before it compiles anything)."""
        found = [self.running] if self.running_version == python else []
        on_path = shutil.which(f"python{python}", path=self.path if self.path is not None else os.environ.get("PATH"))
        found += [on_path] if on_path else []
        root = self.pyenv_root or Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
        installed = sorted(root.glob(f"versions/{python}.*/bin/python{python}"), key=_patch, reverse=True)
        return list(dict.fromkeys([*found, *(str(path) for path in installed)]))

    def find(self, python: str) -> str | None:
        """The first candidate that runs and is Python `python` (a pyenv shim of a version that is not
        selected exits 127); None when there is none."""
        with tempfile.TemporaryDirectory(prefix="portable-fn-bytecode-") as tmp:
            for executable in self.candidates(python):
                try:
                    if _run(executable, python, tmp, []).returncode == 0:
                        return executable
                except OSError:
                    continue
        return None


HERE = Interpreters()  # this machine's PATH and pyenv, read when a build looks


def with_bytecode(entries: Iterable[Entry], python: str, compiler: str | None) -> list[Entry]:
    """The bytecode of every Python source among `entries`, then `entries`; `entries` alone when there is
    no `compiler` (an interpreter of Python `python`, from `Interpreters.find`)."""
    entries = list(entries)
    return entries if compiler is None else [*bytecode(entries, python, compiler), *entries]


def no_compiler(python: str, context: str) -> str:
    """The one-line warning for a package built without bytecode; `context` starts it ("aws")."""
    return (f"{context}: warning: no Python {python} interpreter found here, so the package ships without "
            f"bytecode and every cold start compiles it; install Python {python} (python{python} on PATH, "
            f"or `pyenv install {python}`) and package again.")


def bytecode(entries: Iterable[Entry], python: str, compiler: str) -> list[Entry]:
    """(archive name, pyc bytes) for each `.py` entry that compiles under Python `python`, compiled by
    `compiler`; the first entry of a name counts, as `write_zip` keeps it."""
    sources: dict[str, bytes | Path] = {}
    for name, content in entries:
        if name.endswith(".py"):
            sources.setdefault(name, content)
    with tempfile.TemporaryDirectory(prefix="portable-fn-bytecode-") as tmp:
        for name, content in sources.items():
            path = Path(tmp, "src", name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.read_bytes() if isinstance(content, Path) else content)
        done = _run(compiler, python, tmp, sorted(sources))
        if done.returncode != 0:
            raise DeployError(f"Compiling bytecode for Python {python} with {compiler} failed "
                              f"(exit status {done.returncode}): {done.stderr.strip()[-2000:]}")
        written: list[str] = json.loads(done.stdout)
        return [(pyc, Path(tmp, "out", pyc).read_bytes()) for pyc in written]


def _run(executable: str, python: str, root: str, names: list[str]) -> subprocess.CompletedProcess[str]:
    """The compile script run by `executable`; a fixed hash seed, so no set in the bytecode depends on it."""
    return subprocess.run([executable, "-s", "-S", str(SCRIPT), python, root], input=json.dumps(names),
                          capture_output=True, text=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"})


def _patch(executable: Path) -> int:
    """The patch release of pyenv's `versions/3.X.Y/bin/python3.X`, for ordering (0 if unreadable)."""
    match = re.match(r"\d+\.\d+\.(\d+)", executable.parts[-3])
    return int(match.group(1)) if match else 0

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
packaging says so in a warning with the fix (`compiler_for`); it never compiles with another version.

What a build compiled is kept in the user's cache (`user_cache("bytecode")`, by Python version, archive
name and source digest), so the next build compiles only the sources that changed: a rebuild after an edit
to one handler compiles that handler, not the app's dependencies again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .packaging import Entry, user_cache
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

    def compiler(self, python: str) -> Compiler | None:
        """A compiler for Python `python`: the first candidate that runs and is that version (a pyenv shim
        of a version that is not selected exits 127); None when there is none."""
        with tempfile.TemporaryDirectory(prefix="portable-fn-bytecode-") as tmp:
            for executable in self.candidates(python):
                try:
                    if _run(executable, python, tmp, []).returncode == 0:
                        return Compiler(python, executable, cache_dir=user_cache("bytecode"))
                except OSError:
                    continue
        return None


@dataclass(frozen=True)
class Compiler:
    """`executable`, an interpreter of Python `python`, compiling sources to bytecode. It remembers each
    result by archive name and source digest, so the zips of one build compile the files they share once."""

    python: str
    executable: str
    done: dict[tuple[str, str], Entry | None] = field(default_factory=dict, compare=False, repr=False)
    cache_dir: Path | None = field(default=None, compare=False)  # kept across builds when set (`Cached`)

    def bytecode(self, entries: Iterable[Entry]) -> list[Entry]:
        """(archive name, pyc bytes) for each `.py` entry that compiles, in the order of the names; the
        first entry of a name counts, as `write_zip` keeps it."""
        sources: dict[str, bytes] = {}
        for name, content in entries:
            if name.endswith(".py") and name not in sources:
                sources[name] = content.read_bytes() if isinstance(content, Path) else content
        keys = {name: (name, hashlib.sha256(data).hexdigest()) for name, data in sources.items()}
        kept = Cached(self.cache_dir / self.python) if self.cache_dir else None
        todo = {}
        for name, data in sources.items():
            if keys[name] not in self.done:
                found = kept.read(keys[name]) if kept else None
                if found is None:
                    todo[name] = data
                else:
                    self.done[keys[name]] = found
        for name, pyc in self._compiled(todo).items():
            self.done[keys[name]] = pyc
            if kept and pyc is not None:
                kept.write(keys[name], pyc)
        return [pyc for name in sorted(sources) if (pyc := self.done[keys[name]]) is not None]

    def _compiled(self, sources: dict[str, bytes]) -> dict[str, Entry | None]:
        if not sources:
            return {}
        with tempfile.TemporaryDirectory(prefix="portable-fn-bytecode-") as tmp:
            for name, data in sources.items():
                path = Path(tmp, "src", name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            done = _run(self.executable, self.python, tmp, sorted(sources))
            if done.returncode != 0:
                raise DeployError(
                    f"Packaging: compiling bytecode for Python {self.python} with {self.executable} failed (exit "
                    f"status {done.returncode}): {done.stderr.strip()[-2000:]}\nRun `{self.executable} -c pass` to "
                    "see what is wrong with that interpreter, or take it off PATH (the package then ships without "
                    "bytecode)."
                )
            written: dict[str, str | None] = json.loads(done.stdout)
            return {
                name: None if pyc is None else (pyc, Path(tmp, "out", pyc).read_bytes())
                for name, pyc in written.items()
            }


@dataclass(frozen=True)
class Cached:
    """Compiled bytecode kept on disk under `root` (one Python version's): for each (archive name, source
    digest), the pyc as `<digest of both>/<pyc file name>`. The name is part of the key because the pyc
    holds it (the code's file name). Written to a temporary file and renamed, so two builds at once never
    read a pyc half written; a source that did not compile is not kept and is tried again."""

    root: Path

    def _folder(self, key: tuple[str, str]) -> Path:
        return self.root / hashlib.sha256("\0".join(key).encode()).hexdigest()

    def read(self, key: tuple[str, str]) -> Entry | None:
        """(archive name of the pyc, its bytes), or None when it is not kept."""
        kept = sorted(self._folder(key).glob("*.pyc"))  # none when the folder is not there
        if not kept:
            return None
        folder = key[0].rpartition("/")[0]
        return (
            f"{folder}/__pycache__/{kept[0].name}" if folder else f"__pycache__/{kept[0].name}",
            kept[0].read_bytes(),
        )

    def write(self, key: tuple[str, str], pyc: Entry) -> None:
        name, content = pyc
        data = content.read_bytes() if isinstance(content, Path) else content
        folder = self._folder(key)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as out:
            out.write(data)
        os.replace(out.name, folder / name.rpartition("/")[2])


HERE = Interpreters()  # this machine's PATH and pyenv, read when a build looks


def with_bytecode(entries: Iterable[Entry], compiler: Compiler | None) -> list[Entry]:
    """The bytecode of every Python source among `entries`, then `entries`; `entries` alone when there is
    no `compiler` (`Interpreters.compiler` found no interpreter of the target's version)."""
    entries = list(entries)
    return entries if compiler is None else [*compiler.bytecode(entries), *entries]


def compiler_for(
    python: str, context: str, progress: Callable[[str], None], interpreters: Interpreters = HERE
) -> Compiler | None:
    """The compiler for Python `python`, named in a progress line that starts with `context` ("aws");
    None when there is none, after a one-line warning that says how to fix it."""
    compiler = interpreters.compiler(python)
    progress(
        f"{context}: bytecode for Python {python} compiled by {compiler.executable}"
        if compiler
        else f"{context}: warning: no Python {python} interpreter found here, so the package ships without "
        f"bytecode and every cold start compiles it; install Python {python} (python{python} on PATH, "
        f"or `pyenv install {python}`) and package again."
    )
    return compiler


def _run(executable: str, python: str, root: str, names: list[str]) -> subprocess.CompletedProcess[str]:
    """The compile script run by `executable`; a fixed hash seed, so no set in the bytecode depends on it."""
    return subprocess.run(
        [executable, "-s", "-S", str(SCRIPT), python, root],
        input=json.dumps(names),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def _patch(executable: Path) -> int:
    """The patch release of pyenv's `versions/3.X.Y/bin/python3.X`, for ordering (0 if unreadable)."""
    match = re.match(r"\d+\.\d+\.(\d+)", executable.parts[-3])
    return int(match.group(1)) if match else 0

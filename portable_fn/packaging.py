"""Deterministic packaging: the same inputs always give the same zip bytes and the same hash.

Entries are sorted, timestamps fixed, permissions normalised, so an unchanged app hashes the same on
any machine and is never uploaded again. What must never ship (VCS data, virtualenvs, caches, local
secrets) is excluded here, once, for every provider.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .deploy.models import Artifact

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
EXCLUDED_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", ".env", ".tox", ".nox",
    ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "node_modules", ".portable-fn",
    ".idea", ".vscode", "build", "dist",
})
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".pem", ".key", ".p12", ".pfx")
EXCLUDED_NAMES = frozenset({".env", ".DS_Store", ".envrc", ".npmrc", ".pypirc", "credentials"})
RUNTIME_DIR = Path(__file__).parent


def app_files(source_dir: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) for every file of the app's source directory that belongs in a package."""
    for path in sorted(source_dir.rglob("*")):
        rel = path.relative_to(source_dir)
        if any(part in EXCLUDED_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
            continue
        if not path.is_file() or _excluded_file(path.name):
            continue
        yield rel.as_posix(), path


def runtime_files() -> Iterator[tuple[str, Path]]:
    """The portable runtime as it ships inside a function: `portable_fn/__init__.py` and `runtime/`."""
    yield "portable_fn/__init__.py", RUNTIME_DIR / "__init__.py"
    yield "portable_fn/py.typed", RUNTIME_DIR / "py.typed"
    for path in sorted((RUNTIME_DIR / "runtime").glob("*.py")):
        yield f"portable_fn/runtime/{path.name}", path


def write_zip(target: Path, entries: Iterable[tuple[str, bytes | Path]]) -> Artifact:
    """Write a deterministic zip from (archive name, content or path) pairs; later duplicates lose."""
    chosen: dict[str, bytes | Path] = {}
    for name, content in entries:
        chosen.setdefault(name, content)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(chosen):
            content = chosen[name]
            data = content.read_bytes() if isinstance(content, Path) else content
            executable = isinstance(content, Path) and content.stat().st_mode & 0o111
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            archive.writestr(info, data)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return Artifact(target, digest, target.stat().st_size, len(chosen))


def _excluded_file(name: str) -> bool:
    return name in EXCLUDED_NAMES or name.startswith(".env.") or name.endswith(EXCLUDED_SUFFIXES)

"""Deterministic packaging: the same inputs always give the same zip bytes and the same hash.

Entries are sorted, timestamps fixed, permissions normalised, so an unchanged app hashes the same on
any machine and is never uploaded again. What must never ship (VCS data, virtualenvs, caches, local
secrets) is excluded here, once, for every provider.

The parts every provider's packaging shares live here too: the app's requirement lines
(`app_requirements`) and the modules of a provider package its runtime shim needs (`module_closure`).
"""

from __future__ import annotations

import ast
import hashlib
import re
import shlex
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .deploy.models import Artifact
from .runtime.errors import DeployError

if TYPE_CHECKING:
    from .app import App

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
EXCLUDED_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", ".env", ".tox", ".nox",
    ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "node_modules", ".portable-fn",
    ".idea", ".vscode", "build", "dist",
})
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".pem", ".key", ".p12", ".pfx")
EXCLUDED_NAMES = frozenset({".env", ".DS_Store", ".envrc", ".npmrc", ".pypirc", "credentials", "local.settings.json"})
RUNTIME_DIR = Path(__file__).parent
# The portable-fn distributions themselves: the runtime ships from this machine, providers never ship.
OWN_DISTRIBUTIONS = re.compile(r"^portable[-_.]fn([-_.](aws|gcp|azure))?$", re.IGNORECASE)
# The distribution name at the start of a requirement line.
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
Entry = tuple[str, "bytes | Path"]


def app_files(source_dir: Path, skip: Path | None = None) -> Iterator[tuple[str, Path]]:
    """(archive name, path) for every file of the app's source directory that belongs in a package;
    none from inside `skip` (the directory the package is written to, when it lies in the source)."""
    for path in sorted(source_dir.rglob("*")):
        rel = path.relative_to(source_dir)
        if any(part in EXCLUDED_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
            continue
        if not path.is_file() or _excluded_file(path.name):
            continue
        if skip is not None and path.resolve().is_relative_to(skip.resolve()):
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


def app_requirements(app: App, *, context: str, unresolvable: str, split_options: bool = False) -> list[str]:
    """The app's requirement lines: the file named by `requirements`, else pyproject's
    `[project].dependencies`; portable-fn's own distributions are left out (the runtime ships itself).

    `context` starts every error ("Packaging 'shop' for gcp"); `unresolvable` ends the refusal of nested
    files ("cannot be pinned for Cloud Functions"). With `split_options`, an option line of a requirements
    file (`--index-url URL`) becomes its words, as pip takes them as arguments; else it stays one line.
    """
    if app.config.requirements:
        path = app.root / app.config.requirements
        if not path.is_file():
            raise DeployError(f"{context}: the requirements file {path} (tool.portable-fn."
                              "requirements) does not exist; fix the path or remove the key.")
        return _requirement_file(path, context, unresolvable, split_options)
    project = tomllib.loads((app.root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    return [str(dep) for dep in project.get("dependencies", []) if not is_own(str(dep))]


def is_own(requirement: str) -> bool:
    """Whether a requirement line names one of portable-fn's own distributions."""
    match = REQUIREMENT_NAME.match(requirement)
    return match is not None and OWN_DISTRIBUTIONS.match(match.group(1)) is not None


def module_closure(package_dir: Path, package_name: str, roots: Iterable[str], *, stub_init: bytes) -> list[Entry]:
    """(archive name, path) for the top-level modules of the package `package_name` (at `package_dir`)
    reachable by import statements from `roots` (module names without `.py`), then its `__init__.py`:
    as is if it imports only those modules, the stdlib and `portable_fn.runtime`, else `stub_init`."""
    shipped = _imported_closure(package_dir, package_name, roots)
    entries: list[Entry] = [(f"{package_name}/{name}.py", package_dir / f"{name}.py") for name in sorted(shipped)]
    init = package_dir / "__init__.py"
    imported = imported_names(ast.parse(init.read_text(encoding="utf-8")), package_name)
    if all(_runtime_safe(module, package_name, shipped) for module in imported):
        entries.append((f"{package_name}/__init__.py", init))
    else:  # the package's __init__ pulls in more than the shim: ship a stub that does not
        entries.append((f"{package_name}/__init__.py", stub_init))
    return entries


def package_imports(tree: ast.AST, package_name: str) -> list[str]:
    """The top-level modules of the package `package_name` that `tree` imports (names without `.py`)."""
    return [m.split(".")[1] for m in imported_names(tree, package_name) if m.startswith(f"{package_name}.")]


def imported_names(tree: ast.AST, package_name: str) -> list[str]:
    """The absolute name of every module imported anywhere in `tree`, a top-level module of `package_name`."""
    return [module for _, module in import_lines(tree, package_name)]


def import_lines(tree: ast.AST, package_name: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `tree`: nested and relative ones, and
    `importlib.import_module("x")` / `__import__("x")` with a constant name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:  # `.x`, `from . import x`
            found += [(node.lineno, f"{package_name}.{node.module}" if node.module else f"{package_name}.{a.name}")
                      for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found += ([(node.lineno, f"{package_name}.{a.name}") for a in node.names] if module == package_name
                      else [(node.lineno, module)])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "__import__", "import_module") and node.args and isinstance(node.args[0], ast.Constant):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def foreign_imports(path: Path, package_name: str, shipped: set[str]) -> list[tuple[int, str]]:
    """(line, module) of each import in `path` (a module of `package_name`) that a function could not
    satisfy with the package's `shipped` top-level modules (names without `.py`), the standard library and
    the portable runtime: what the providers' stdlib-only checks report."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(line, module) for line, module in import_lines(tree, package_name)
            if not (module == package_name or _runtime_safe(module, package_name, shipped))]


def _imported_closure(package_dir: Path, package_name: str, roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or not (package_dir / f"{name}.py").is_file():
            continue
        seen.add(name)
        todo += package_imports(ast.parse((package_dir / f"{name}.py").read_text(encoding="utf-8")), package_name)
    return seen


def _runtime_safe(module: str, package_name: str, shipped: set[str]) -> bool:
    """Whether importing `module` in the cloud needs nothing but the shipped modules, stdlib and runtime."""
    top, _, rest = module.partition(".")
    if top == package_name:
        return rest.split(".")[0] in shipped
    return top in sys.stdlib_module_names or module == "portable_fn.runtime" or module.startswith(
        "portable_fn.runtime.")


def _requirement_file(path: Path, context: str, unresolvable: str, split_options: bool) -> list[str]:
    """Requirement lines and index options (`--index-url URL` ...) of a requirements file."""
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith(("-r", "-c", "-e", "--requirement", "--constraint", "--editable")):
            raise DeployError(
                f"{context}: {path} has {line!r}; list every requirement in this one file "
                f"(nested files, constraints and editable installs {unresolvable})."
            )
        if split_options and line.startswith("-"):
            out += shlex.split(line)
        elif line and not line.startswith("#") and not is_own(line):
            out.append(line)
    return out


def _excluded_file(name: str) -> bool:
    return name in EXCLUDED_NAMES or name.startswith(".env.") or name.endswith(EXCLUDED_SUFFIXES)

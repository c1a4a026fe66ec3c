"""`build_package`: one deterministic zip per app for Azure Functions (Python v2 model, run-from-package).

The zip's root is the function app's `wwwroot`:

| what                                  | from                                                            |
|---------------------------------------|-----------------------------------------------------------------|
| `function_app.py`, `host.json`        | generated: `shim.generate_function_app(app)`, `shim.host_json(app)` |
| `requirements.txt`                    | the app's requirements less portable-fn's own, plus `azure-functions` |
| the user's code                       | `portable_fn.packaging.app_files` (what the app needs: no       |
|                                       | credentials, `local.settings.json` included, tests, VCS data,   |
|                                       | venvs, caches; `include` / `exclude` applied)                   |
| the portable runtime                  | `portable_fn.packaging.runtime_files`                           |
| the shim                              | the `portable_fn_azure` modules `function_app.py` imports and what they |
|                                       | import in turn; `__init__.py` as is, or a stub if it imports more |
| `.python_packages/lib/site-packages/` | wheels for Linux x86_64 and the app's Python (`_wheels`), unpacked |
|                                       | like an install; the host puts this directory on `sys.path`     |

With a remote build (`remote_build = true` under `[tool.portable-fn.azure]`, or `remote_build=True`) the
dependencies are left out: Azure installs `requirements.txt` itself. The same inputs give the same bytes
(`write_zip`), so an unchanged app is never uploaded again.
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from portable_fn.deploy.models import Artifact
from portable_fn.packaging import app_files, runtime_files, write_zip
from portable_fn.runtime.errors import DeployError

from . import _wheels
from ._wheels import DEFAULT_CACHE, PipDownload, Target, pip_download

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.provider import Progress

PACKAGE = "portable_fn_azure"
PACKAGE_DIR = Path(__file__).resolve().parent
SITE_PACKAGES = ".python_packages/lib/site-packages/"
AZURE_FUNCTIONS = "azure-functions"
# The portable-fn distributions themselves: the runtime ships from this machine, providers never ship.
OWN_DISTRIBUTIONS = re.compile(r"^portable[-_.]fn([-_.](aws|gcp|azure))?$", re.IGNORECASE)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_NESTED = ("-r", "-c", "-e", "--requirement", "--constraint", "--editable")
Entry = tuple[str, "bytes | Path"]


@dataclass(frozen=True)
class AzureArtifact(Artifact):
    """An `Artifact` that also says how its dependencies get installed and for which Python."""

    remote_build: bool = False
    python: str = "3.11"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "remote_build": self.remote_build, "python": self.python}


def build_package(app: App, stage: str, out_dir: Path, progress: Progress, *, remote_build: bool | None = None,
                  cache_dir: Path | None = None, pip_download: PipDownload = pip_download) -> AzureArtifact:
    """Build `<out_dir>/<app>-azure.zip`; `remote_build=None` takes the stage's `remote_build` setting."""
    remote = wants_remote_build(app, stage) if remote_build is None else remote_build
    target = Target(app.config.python)
    lines = requirement_lines(app)
    function_app = _generated_function_app(app)
    entries: list[Entry] = [  # the first entry of a name wins in `write_zip`: generated files over the user's
        ("function_app.py", function_app.encode("utf-8")),
        ("host.json", _generated_host_json(app).encode("utf-8")),
        ("requirements.txt", ("\n".join(lines) + "\n").encode("utf-8")),
        *app_files(app, skip=out_dir, context=f"Packaging {app.name!r} for azure"),
        *runtime_files(),
        *shim_files(function_app),
        *([] if remote else _vendored(app, lines, target, cache_dir or DEFAULT_CACHE, pip_download, progress)),
    ]
    artifact = write_zip(out_dir / f"{app.name}-azure.zip", entries)
    how = "source only, for a remote build" if remote else f"dependencies for {target.describe()}"
    progress(f"azure: {artifact.path.name}: {artifact.files} files ({how}), "
             f"{artifact.size / 1024 / 1024:.1f} MB, sha256 {artifact.sha256[:12]}")
    return AzureArtifact(artifact.path, artifact.sha256, artifact.size, artifact.files,
                         remote_build=remote, python=target.python)


def wants_remote_build(app: App, stage: str) -> bool:
    """The `remote_build` setting of `[tool.portable-fn.azure]` (with the stage's override); off by default."""
    value = app.config.provider_settings("azure", stage).get("remote_build", False)
    if not isinstance(value, bool):
        raise DeployError(f"Packaging {app.name!r} for azure: remote_build = {value!r} under "
                          "[tool.portable-fn.azure] must be true or false.")
    return value


def requirement_lines(app: App) -> list[str]:
    """The lines of the shipped `requirements.txt`: the file named by `requirements`, else pyproject's
    `[project].dependencies`; portable-fn's own distributions left out (the runtime ships itself) and
    `azure-functions` added unless listed."""
    if app.config.requirements:
        lines = _requirement_file(app, app.root / app.config.requirements)
    else:
        project = tomllib.loads((app.root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
        lines = [str(dep) for dep in project.get("dependencies", [])]
    lines = [line for line in lines if not _named(line, OWN_DISTRIBUTIONS)]
    listed = any(_named(line, re.compile(r"^azure[-_.]functions$", re.IGNORECASE)) for line in lines)
    return lines if listed else [*lines, AZURE_FUNCTIONS]


def pip_arguments(lines: Iterable[str]) -> list[str]:
    """`requirements.txt` lines as `pip download` arguments: options split into words, requirements whole."""
    return [arg for line in lines for arg in (shlex.split(line) if line.startswith("-") else [line])]


def shim_files(function_app: str, package_dir: Path = PACKAGE_DIR) -> list[Entry]:
    """The package's modules that ship: those `function_app` imports, what they import, and `__init__`."""
    starts = {m.split(".")[1] for m in _imports(ast.parse(function_app)) if m.startswith(f"{PACKAGE}.")}
    shipped = _imported_closure(package_dir, starts | {"shim"})
    entries: list[Entry] = [(f"{PACKAGE}/{name}.py", package_dir / f"{name}.py") for name in sorted(shipped)]
    init = package_dir / "__init__.py"
    if init.is_file() and all(_runtime_safe(m, shipped) for m in _imports(ast.parse(init.read_bytes()))):
        entries.append((f"{PACKAGE}/__init__.py", init))
    else:  # the package's __init__ pulls in the deploy side: ship a stub that does not
        entries.append((f"{PACKAGE}/__init__.py", b'"""portable-fn on Azure Functions: the runtime shim."""\n'))
    return entries


def _generated_function_app(app: App) -> str:
    from .shim import generate_function_app

    return generate_function_app(app)


def _generated_host_json(app: App) -> str:
    from .shim import host_json

    return host_json(app)


def _vendored(app: App, lines: list[str], target: Target, cache_dir: Path, download: PipDownload,
              progress: Progress) -> list[Entry]:
    """The dependencies unpacked under `.python_packages/lib/site-packages/`."""
    progress(f"azure: packaging {app.name!r} for {target.describe()}")
    try:
        wheels = _wheels.resolve(pip_arguments(lines), target, cache_dir, download, progress)
    except DeployError as exc:
        raise DeployError(f"Packaging {app.name!r} for azure: {exc}") from exc
    return [entry for wheel in wheels for entry in _wheels.unpacked(wheel, SITE_PACKAGES)]


def _requirement_file(app: App, path: Path) -> list[str]:
    """The requirement and option lines of a requirements file, comments dropped."""
    if not path.is_file():
        raise DeployError(f"Packaging {app.name!r} for azure: the requirements file {path} "
                          "(tool.portable-fn.requirements) does not exist; fix the path or remove the key.")
    lines = [line.split(" #")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if line.startswith(_NESTED):
            raise DeployError(
                f"Packaging {app.name!r} for azure: {path} has {line!r}; list every requirement in this one "
                "file (nested files, constraints and editable installs cannot be resolved for Azure)."
            )
    return [line for line in lines if line and not line.startswith("#")]


def _imported_closure(package_dir: Path, starts: set[str]) -> set[str]:
    """Modules of this package reachable by import statements from `starts` (names without `.py`)."""
    seen: set[str] = set()
    todo = sorted(starts)
    while todo:
        name = todo.pop()
        path = package_dir / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        todo += [m.split(".")[1] for m in _imports(ast.parse(path.read_bytes())) if m.startswith(f"{PACKAGE}.")]
    return seen


def _imports(tree: ast.AST) -> list[str]:
    """The absolute name of every module imported anywhere in `tree`, a top-level module of this package."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:  # `.x`, `from . import x`
            found += [f"{PACKAGE}.{node.module}" if node.module else f"{PACKAGE}.{alias.name}"
                      for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found += [f"{PACKAGE}.{a.name}" for a in node.names] if module == PACKAGE else [module]
    return found


def _runtime_safe(module: str, shipped: set[str]) -> bool:
    """Whether importing `module` on Azure needs nothing but the standard library, the portable runtime,
    `azure.functions` and the shipped part of this package."""
    top, _, rest = module.partition(".")
    if top == PACKAGE:
        return rest.split(".")[0] in shipped
    return (top in sys.stdlib_module_names or module == "azure.functions" or module.startswith("azure.functions.")
            or module == "portable_fn.runtime" or module.startswith("portable_fn.runtime."))


def _named(line: str, pattern: re.Pattern[str]) -> bool:
    match = None if line.startswith("-") else _NAME.match(line)
    return match is not None and pattern.match(match.group(1)) is not None

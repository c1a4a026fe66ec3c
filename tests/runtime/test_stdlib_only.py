"""The runtime ships inside every deployed function, so it imports the standard library only.

Two independent checks: every import statement in the source (top level, inside functions, under
`if TYPE_CHECKING`), and what importing the runtime actually loads in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import portable_fn.runtime

RUNTIME = Path(portable_fn.runtime.__file__).resolve().parent
PACKAGE = "portable_fn.runtime"
SOURCES = sorted(RUNTIME.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(RUNTIME).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`; relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            found.append((node.lineno, ".".join([*base, node.module] if node.module else base)))
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or ""))
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            found.append((node.lineno, node.args[0].value))  # type: ignore[attr-defined]
    return found


def _is_dynamic_import(node: ast.Call) -> bool:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return (
        name in ("__import__", "import_module")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


# Loaded only when the environment asks for OpenTelemetry, and then only if installed (an ImportError is
# logged and the function runs without it): the one import outside the runtime, optional by design.
OPTIONAL = {"portable_fn.otel"}


def _allowed(module: str) -> bool:
    return (
        module.split(".")[0] in sys.stdlib_module_names
        or module == PACKAGE
        or module.startswith(PACKAGE + ".")
        or module in OPTIONAL
    )


def test_the_runtime_has_modules_to_check() -> None:
    names = {p.name for p in SOURCES}
    assert {"__init__.py", "dispatch.py", "http.py", "cloudevent.py", "views.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(RUNTIME)))
def test_every_import_is_standard_library_or_the_runtime(path: Path) -> None:
    found = _imports(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")
    bad = [f"{path.name}:{line} imports {module!r}" for line, module in found if not _allowed(module)]
    assert not bad, (
        "portable_fn/runtime/ ships inside every function and may import the standard library only: " + "; ".join(bad)
    )


def test_the_scan_sees_nested_relative_and_dynamic_imports() -> None:
    """The checker itself: every kind of forbidden import is caught, allowed ones are not."""
    source = (
        "import json\nfrom . import errors\nfrom .http import Request\n"
        "from ..app import load\n"  # escapes the runtime: portable_fn.app
        "def f():\n    import pydantic\n    from yaml import safe_load\n"
        "    importlib.import_module('boto3')\n    __import__('os')\n"
        "if TYPE_CHECKING:\n    import cloudevents.http\n"
    )
    found = {module for _, module in _imports(source, "portable_fn.runtime.probe")}
    assert found == {
        "json",
        "portable_fn.runtime",
        "portable_fn.runtime.http",
        "portable_fn.app",
        "pydantic",
        "yaml",
        "boto3",
        "os",
        "cloudevents.http",
    }
    assert {m for m in found if not _allowed(m)} == {"portable_fn.app", "pydantic", "yaml", "boto3", "cloudevents.http"}
    assert _imports("from .. import x", "portable_fn.runtime.sub", is_package=True) == [(1, "portable_fn.runtime")]


# Runs in a fresh interpreter: -I ignores PYTHON* variables, the user site and the current directory.
PROBE = """
import json, pkgutil, sys
sys.path.insert(0, {root!r})
before = set(sys.modules)
import portable_fn.runtime
for info in pkgutil.walk_packages(portable_fn.runtime.__path__, "portable_fn.runtime."):
    __import__(info.name)
loaded = sorted(set(sys.modules) - before)
print(json.dumps({{"loaded": loaded, "file": portable_fn.runtime.__file__}}))
"""


@pytest.mark.slow  # imports in a fresh interpreter
def test_importing_the_runtime_loads_only_the_standard_library() -> None:
    root = str(RUNTIME.parent.parent)
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE.format(root=root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert Path(report["file"]).resolve() == RUNTIME / "__init__.py"  # this checkout, not another copy
    loaded = report["loaded"]
    assert "portable_fn.runtime.dispatch" in loaded and "portable_fn.runtime.views" in loaded
    foreign = [
        m
        for m in loaded
        if m.split(".")[0] not in sys.stdlib_module_names and m != "portable_fn" and not m.startswith(PACKAGE)
    ]
    assert not foreign, f"importing portable_fn.runtime loaded non-stdlib modules: {foreign}"
    others = [m for m in loaded if m.startswith("portable_fn.") and not m.startswith(PACKAGE)]
    assert not others, f"portable_fn/__init__.py pulled in more than the runtime: {others}"

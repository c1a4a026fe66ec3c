"""The shim ships inside every source zip: it imports the standard library and the portable runtime only.

Checked twice: every import statement of the shipped modules (nested, relative and dynamic ones too),
and what importing the shim actually loads in a fresh interpreter (no functions_framework, flask,
werkzeug or cloudevents).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import portable_fn_gcp
import pytest

from portable_fn.packaging import foreign_imports, import_lines

PACKAGE_DIR = Path(portable_fn_gcp.__file__).resolve().parent
SHIPPED = ["__init__.py", "shim.py", "events.py", "flask_http.py", "dead_letter.py"]
PROVIDER_SIDE = {
    "provider.py",
    "logs.py",
    "packaging.py",
    "_pins.py",
    "settings.py",
    "redrive.py",
    "cost.py",
    "secret_store.py",
}
# Shipped only when the app uses a state / sends to a channel / reads a secret / declares a bucket, with its SDK in
# the requirements; each imports the SDK when first used.
WITH_SDK = {
    "state.py": {"google.cloud", "google.cloud.firestore", "google.api_core", "google.api_core.exceptions"},
    "publish.py": {"google.cloud", "google.cloud.pubsub_v1", "google.cloud.tasks_v2"},
    "secrets.py": {
        "google.api_core",
        "google.api_core.client_options",
        "google.auth.credentials",
        "google.cloud",
        "google.cloud.secretmanager_v1",
    },
    "buckets.py": {
        "google.api_core",
        "google.api_core.exceptions",
        "google.auth.exceptions",
        "google.cloud",
        "google.cloud.storage.retry",
        "requests",
    },
}


def _foreign(path: Path) -> list[tuple[int, str]]:
    return foreign_imports(path, "portable_fn_gcp", {name[:-3] for name in SHIPPED})


def test_every_top_level_module_is_either_shipped_or_provider_side() -> None:
    assert {p.name for p in PACKAGE_DIR.glob("*.py")} <= set(SHIPPED) | PROVIDER_SIDE | set(WITH_SDK)
    assert set(SHIPPED) <= {p.name for p in PACKAGE_DIR.glob("*.py")}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_modules_import_only_the_standard_library_and_the_runtime(name: str) -> None:
    bad = [f"{name}:{line} imports {module!r}" for line, module in _foreign(PACKAGE_DIR / name)]
    assert not bad, "the shim may import the standard library and portable_fn.runtime only: " + "; ".join(bad)


@pytest.mark.parametrize("name", sorted(WITH_SDK))
def test_state_modules_import_their_sdk_only_and_only_when_used(name: str) -> None:
    path = PACKAGE_DIR / name
    assert {module for _, module in _foreign(path)} <= WITH_SDK[name]
    top = [node for node in ast.parse(path.read_text(encoding="utf-8")).body]
    modules = [a.name for node in top if isinstance(node, ast.Import) for a in node.names]
    modules += [node.module or "" for node in top if isinstance(node, ast.ImportFrom)]
    assert not [module for module in modules if module.startswith("google")]


def test_the_package_init_imports_nothing() -> None:
    assert import_lines(ast.parse((PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8")), "portable_fn_gcp") == []


def test_the_scan_catches_what_it_must(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json\nfrom .events import x\nfrom .provider import GcpProvider\n"
        "def f():\n    import functions_framework\n    from flask import request\n"
        "    importlib.import_module('cloudevents.http')\n",
        encoding="utf-8",
    )
    assert {module for _, module in _foreign(probe)} == {
        "portable_fn_gcp.provider",
        "functions_framework",
        "flask",
        "cloudevents.http",
    }


PROBE = """
import json, sys
before = set(sys.modules)
import portable_fn_gcp.shim
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.slow  # imports in a fresh interpreter
def test_importing_the_shim_loads_nothing_but_the_standard_library_and_the_runtime() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "portable_fn_gcp.shim" in loaded and "portable_fn.runtime.dispatch" in loaded
    ours = ("portable_fn.runtime", "portable_fn_gcp.")
    foreign = [
        m
        for m in loaded
        if m.split(".")[0] not in sys.stdlib_module_names
        and m not in ("portable_fn", "portable_fn_gcp")
        and not m.startswith(ours)
    ]
    assert not foreign
    assert "portable_fn_gcp.provider" not in loaded

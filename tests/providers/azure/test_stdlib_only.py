"""The shim ships inside the package zip: it imports the standard library and the portable runtime only.

Checked twice: every import statement of the shipped modules (nested, relative and dynamic ones too),
and what importing the shim actually loads in a fresh interpreter. `codegen` (and the `names` it uses)
generate function_app.py when packaging and never ship.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import portable_fn_azure
import pytest

from portable_fn.packaging import foreign_imports

PACKAGE_DIR = Path(portable_fn_azure.__file__).resolve().parent
SHIPPED = [
    "__init__.py",
    "shim.py",
    "http_adapter.py",
    "events.py",
    "state.py",
    "publish.py",
    "secrets.py",
    "buckets.py",
    "identity.py",
]
# Shipped only when the app uses a state, with its SDKs in the requirements; it imports them when first used.
WITH_SDK = {
    "state.py": {
        "azure.core",
        "azure.core.exceptions",
        "azure.data.tables",
        "azure.identity",
    },
    "publish.py": {"azure.storage.queue", "azure.servicebus", "azure.identity"},  # when a function sends
    "secrets.py": {"azure.core.exceptions", "azure.identity", "azure.keyvault.secrets"},  # when one reads a secret
    "buckets.py": {"azure.core.exceptions", "azure.storage.blob"},  # when a function uses a bucket
    "identity.py": {"azure.identity"},  # with the modules above: the credential of the running function's identity
}
PROVIDER_SIDE = {
    "provider.py",
    "logs.py",
    "packaging.py",
    "_wheels.py",
    "settings.py",
    "codegen.py",
    "names.py",
    "retries.py",
    "redrive.py",
    "grid_letters.py",
    "sb_letters.py",
    "event_letters.py",
    "host_redrive.py",
    "sb_dlq.py",
    "blob_poison.py",
    "cost.py",
    "secret_store.py",
}


def _foreign(path: Path) -> list[tuple[int, str]]:
    return foreign_imports(path, "portable_fn_azure", {name[:-3] for name in SHIPPED})


def test_every_module_is_either_shipped_or_provider_side() -> None:
    assert {p.name for p in PACKAGE_DIR.glob("*.py")} == set(SHIPPED) | PROVIDER_SIDE


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_modules_import_only_the_standard_library_and_the_runtime(name: str) -> None:
    allowed = WITH_SDK.get(name, set())
    bad = [
        f"{name}:{line} imports {module!r}" for line, module in _foreign(PACKAGE_DIR / name) if module not in allowed
    ]
    assert not bad, "the Azure shim may import the standard library and portable_fn.runtime only: " + "; ".join(bad)


def test_the_scan_catches_what_it_must(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json\nfrom .events import x\nfrom .provider import AzureProvider\n"
        "def f():\n    import azure.functions\n    from portable_fn.app import load_app\n"
        "    from .deploy.naming import queue_name\n"
        "    importlib.import_module('pydantic')\n",
        encoding="utf-8",
    )
    assert {module for _, module in _foreign(probe)} == {
        "portable_fn_azure.provider",
        "azure.functions",
        "portable_fn.app",
        "pydantic",
        "portable_fn_azure.deploy.naming",
    }


PROBE = """
import json, sys
before = set(sys.modules)
import portable_fn_azure.shim
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.slow  # imports in a fresh interpreter
def test_importing_the_shim_loads_nothing_but_the_standard_library_and_the_runtime() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "portable_fn_azure.shim" in loaded and "portable_fn.runtime.dispatch" in loaded
    ours = ("portable_fn.runtime", "portable_fn_azure.")
    foreign = [
        m
        for m in loaded
        if m.split(".")[0] not in sys.stdlib_module_names
        and m not in ("portable_fn", "portable_fn_azure")
        and not m.startswith(ours)
    ]
    assert not foreign
    assert not {"portable_fn_azure.codegen", "portable_fn_azure.provider", "azure.functions"} & set(loaded)


@pytest.mark.slow  # imports in a fresh interpreter
def test_the_state_backend_imports_its_sdk_only_when_a_state_is_opened() -> None:
    probe = "import json, sys\nimport portable_fn_azure.state\nprint(json.dumps('azure.data.tables' in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) is False


@pytest.mark.slow  # imports in a fresh interpreter
def test_the_bucket_store_imports_its_sdk_only_when_a_bucket_is_opened() -> None:
    probe = "import json, sys\nimport portable_fn_azure.buckets\nprint(json.dumps('azure.storage.blob' in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) is False

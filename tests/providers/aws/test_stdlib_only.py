"""The shim ships inside every function zip: it imports the standard library and the portable runtime only.

Checked twice: every import statement of the shipped modules (nested, relative and dynamic ones too),
and what importing the shim actually loads in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import portable_fn_aws
import pytest

from portable_fn.packaging import foreign_imports

PACKAGE_DIR = Path(portable_fn_aws.__file__).resolve().parent
SHIPPED = [
    "__init__.py",
    "shim.py",
    "http_events.py",
    "http_routes.py",
    "records.py",
    "dead_letter.py",
    "visibility.py",
    "state.py",
    "publish.py",
    "secrets.py",
    "buckets.py",
]
PROVIDER_SIDE = {
    "provider.py",
    "logs.py",
    "packaging.py",
    "_wheels.py",
    "settings.py",
    "redrive.py",
    "cost.py",
    "runtimes.py",
    "secret_store.py",
}
# The state backend, the publisher, the secret backend and the object store ship but run only once a state is
# used, an event sent, a secret read or a bucket touched, on boto3
# from the Lambda runtime itself.
BOTO3 = {"boto3", "botocore.config", "botocore.exceptions"}
LAMBDA_RUNTIME_SDK = {"state.py": BOTO3, "publish.py": BOTO3, "secrets.py": BOTO3, "buckets.py": BOTO3}


def _foreign(path: Path) -> list[tuple[int, str]]:
    return foreign_imports(path, "portable_fn_aws", {name[:-3] for name in SHIPPED})


def test_every_module_is_either_shipped_or_provider_side() -> None:
    assert {p.name for p in PACKAGE_DIR.glob("*.py")} == set(SHIPPED) | PROVIDER_SIDE


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_modules_import_only_the_standard_library_and_the_runtime(name: str) -> None:
    allowed = LAMBDA_RUNTIME_SDK.get(name, set())
    found = _foreign(PACKAGE_DIR / name)
    bad = [f"{name}:{line} imports {module!r}" for line, module in found if module not in allowed]
    assert not bad, "the Lambda shim may import the standard library and portable_fn.runtime only: " + "; ".join(bad)


def test_the_scan_catches_what_it_must(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json\nfrom .records import x\nfrom .provider import AwsProvider\n"
        "def f():\n    import boto3\n    from portable_fn.app import load_app\n"
        "    importlib.import_module('pydantic')\n",
        encoding="utf-8",
    )
    assert {module for _, module in _foreign(probe)} == {
        "portable_fn_aws.provider",
        "boto3",
        "portable_fn.app",
        "pydantic",
    }


PROBE = """
import json, sys
before = set(sys.modules)
import portable_fn_aws.shim
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.slow  # imports in a fresh interpreter
def test_importing_the_shim_loads_nothing_but_the_standard_library_and_the_runtime() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "portable_fn_aws.shim" in loaded and "portable_fn.runtime.dispatch" in loaded
    ours = ("portable_fn.runtime", "portable_fn_aws.")
    foreign = [
        m
        for m in loaded
        if m.split(".")[0] not in sys.stdlib_module_names
        and m not in ("portable_fn", "portable_fn_aws")
        and not m.startswith(ours)
    ]
    assert not foreign
    assert "portable_fn_aws.provider" not in loaded


@pytest.mark.slow  # imports in a fresh interpreter
@pytest.mark.parametrize("module", ["state", "buckets"])
def test_the_state_backend_and_object_store_import_boto3_only_when_opened(module: str) -> None:
    probe = f"import json, sys\nimport portable_fn_aws.{module}\nprint(json.dumps('boto3' in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) is False

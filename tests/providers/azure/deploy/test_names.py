"""One copy of the physical names: deploy creates the queues and containers the generated bindings
point at, and both take their names from the stdlib-only `portable_fn_azure.names`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from portable_fn_azure import codegen, names
from portable_fn_azure.deploy import naming

SHARED = (
    "POISON_SUFFIX",
    "MAX_QUEUE",
    "MAX_CONTAINER",
    "short_hash",
    "fit",
    "dns_label",
    "queue_name",
    "container_name",
)


def test_deploy_naming_reexports_the_one_copy() -> None:
    assert all(getattr(naming, name) is getattr(names, name) for name in SHARED)
    assert set(SHARED) <= set(naming.__all__)


def test_codegen_binds_to_the_names_deploy_creates() -> None:
    for logical in ("orders", "Slow.Jobs", "q" * 80):
        assert codegen.physical_queue(logical) == naming.queue_name(logical)
        assert codegen.poison_suffix() == naming.POISON_SUFFIX
    assert codegen.physical_container("photos") == naming.container_name("photos")


@pytest.mark.slow  # imports in a fresh interpreter
def test_the_names_import_without_the_azure_sdk() -> None:
    probe = (
        "import json, sys\nimport portable_fn_azure.names\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'azure')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []

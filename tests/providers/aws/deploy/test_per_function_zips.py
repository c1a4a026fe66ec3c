"""An app packaged one zip per function, deployed to a moto server with real packaging: each function
runs its own zip, and a change to a module reaches only the functions that import it.

The gateway test app's `items` functions import `models`, its `files` function imports `storage`, so
the default `package = "auto"` gives each function a zip of its own (it has no dependencies: nothing is
downloaded).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import load_app
from portable_fn.deploy import pipeline

GATEWAY = Path(__file__).with_name("apps") / "gateway"
FUNCTIONS = ["list_items", "get_item", "put_item", "files"]


@pytest.fixture
def gateway_dir(tmp_path: Path) -> Path:
    return shutil.copytree(GATEWAY, tmp_path / "gateway", ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))


def lambda_sha(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def touch(path: Path) -> None:
    with path.open("a") as f:
        f.write("# changed\n")


def test_each_function_runs_its_own_zip_and_only_importers_of_a_change_are_uploaded(
    endpoint: str, gateway_dir: Path, boto: Any
) -> None:
    app = load_app(gateway_dir)
    provider = AwsProvider({**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)
    first = pipeline.deploy(provider, app, "dev")
    zips = dict(first.artifact.functions)
    assert sorted(zips) == sorted(FUNCTIONS)
    for name in FUNCTIONS:
        config = boto.lambda_.get_function_configuration(FunctionName=f"gateway-dev-{name}")
        assert config["CodeSha256"] == lambda_sha(zips[name].path)
    assert len({zipped.sha256 for zipped in zips.values()}) == 4  # each holds its own entry module

    client = provider.deployer.client
    touch(gateway_dir / "gateway" / "storage.py")
    client.calls.clear()
    outcome = pipeline.deploy(provider, app, "dev")
    assert [s.describe() for s in outcome.plan.steps] == ["~ update lambda function gateway-dev-files (code_sha256)"]
    assert client.mutating_calls() == [("lambda", "UpdateFunctionCode")]

    touch(gateway_dir / "gateway" / "models.py")
    client.calls.clear()
    outcome = pipeline.deploy(provider, app, "dev")
    assert sorted(s.resource.name for s in outcome.plan.steps) == [
        "gateway-dev-get_item",
        "gateway-dev-list_items",
        "gateway-dev-put_item",
    ]
    assert client.mutating_calls() == [("lambda", "UpdateFunctionCode")] * 3
    client.calls.clear()
    assert pipeline.deploy(provider, app, "dev").plan.empty and client.mutating_calls() == []

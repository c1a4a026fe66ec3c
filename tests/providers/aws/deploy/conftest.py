"""The pieces to deploy to the moto server of `tests/providers/aws/conftest.py` (`moto_endpoint`,
`endpoint`), which every AWS control-plane test shares. Packaging belongs to its own
module, so the deploy tests build a small deterministic zip themselves: moto stores it as Lambda would,
and the control plane only needs its hash and the handler string.
"""

from __future__ import annotations

import hashlib
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from portable_fn_aws.deploy import AwsDeployer

from portable_fn.app import load_app
from portable_fn.deploy import Artifact, pipeline
from portable_fn.provider import Provider

from ....app_copy import copy_app

REGION = "eu-west-1"
REPO = Path(__file__).resolve().parents[4]


def make_artifact(directory: Path, code: str) -> Artifact:
    """A deterministic zip standing in for the packaged app (fixed timestamps, one entry module)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "app.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("portable_fn_entry.py", date_time=(1980, 1, 1, 0, 0, 0))
        archive.writestr(info, code)
    data = path.read_bytes()
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data), 1)


class MotoProvider(Provider):
    """The AWS deploy side with a stand-in `package`: AwsDeployer does everything else."""

    name = "aws"

    def __init__(self, settings: dict[str, Any] | None = None, endpoint_url: str | None = None) -> None:
        super().__init__(settings, endpoint_url)
        self.deployer = AwsDeployer(self.settings, endpoint_url)
        self.code = "# stand-in for the generated entry module\n"

    def check(self, app: Any) -> None:
        self.deployer.check(app)

    def package(self, app: Any, stage: str, out_dir: Path, progress: Any) -> Artifact:
        return make_artifact(out_dir, self.code)

    def desired(self, app: Any, stage: str, artifact: Artifact) -> list[Any]:
        return self.deployer.desired(app, stage, artifact)

    def read_remote(self, app: Any, stage: str) -> Any:
        return self.deployer.read_remote(app, stage)

    def executor(self, app: Any, stage: str) -> Any:
        return self.deployer.executor(app, stage)

    def outputs(self, app: Any, stage: str, remote: Any) -> dict[str, Any]:
        return self.deployer.outputs(app, stage, remote)

    def grants(self, desired: Any) -> list[Any]:
        from portable_fn_aws.deploy.grants import grants

        return grants(desired)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """samples/shop, loaded from a private copy (deploys write their build directory into it)."""
    target = copy_app(REPO / "samples" / "shop", tmp_path)
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    return load_app(target)


@pytest.fixture
def provider(endpoint: str, shop: Any) -> MotoProvider:
    """The provider pointed at the moto server, with the shop's settings for stage dev."""
    settings = {**shop.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}
    return MotoProvider(settings, endpoint)


@pytest.fixture
def boto(endpoint: str) -> Any:
    """Plain boto3 clients on the moto server, for checking what deploy made."""
    return clients(endpoint)


@pytest.fixture(scope="module")
def shop_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.SimpleNamespace]:
    """samples/shop from a private copy, for a module's `deployed_shop`."""
    with pytest.MonkeyPatch.context() as env:
        directory = tmp_path_factory.mktemp("shop")
        target = copy_app(REPO / "samples" / "shop", directory)
        env.setenv("SHOP_DATA_DIR", str(directory / "shop-data"))
        yield types.SimpleNamespace(app=load_app(target), deployed_at=None, provider=None, outcome=None)


@pytest.fixture
def deployed_shop(moto_resets: Any, shop_once: types.SimpleNamespace) -> types.SimpleNamespace:
    """samples/shop deployed to an emptied moto server, shared by the tests of a module that only read what the
    deploy made (`app`, `provider`, `outcome`, `boto`): a deploy is some 360 calls to moto, seconds each time.
    It is deployed again only when a test since emptied the server (`moto_resets` counts the resets), so the
    tests that use it may run in any order among those that start from an empty account."""
    if shop_once.deployed_at is None or shop_once.deployed_at != moto_resets.count:
        endpoint = moto_resets.reset()
        settings = {**shop_once.app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}
        shop_once.provider = MotoProvider(settings, endpoint)
        shop_once.outcome = pipeline.deploy(shop_once.provider, shop_once.app, "dev")
        shop_once.deployed_at = moto_resets.count
        shop_once.boto = clients(endpoint)
    return shop_once


def clients(endpoint: str) -> types.SimpleNamespace:
    """Plain boto3 clients on the moto server at `endpoint`."""

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)

    return types.SimpleNamespace(
        **{
            name: client(service)
            for name, service in {
                "iam": "iam",
                "lambda_": "lambda",
                "sqs": "sqs",
                "sns": "sns",
                "s3": "s3",
                "logs": "logs",
                "scheduler": "scheduler",
                "tagging": "resourcegroupstaggingapi",
                "apigw": "apigatewayv2",
                "sts": "sts",
            }.items()
        }
    )


@pytest.fixture
def helpers() -> types.SimpleNamespace:
    """Module-level helpers for the test modules (which cannot import this conftest)."""
    return types.SimpleNamespace(MotoProvider=MotoProvider, make_artifact=make_artifact, REPO=REPO, REGION=REGION)

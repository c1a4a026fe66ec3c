"""`--provider` takes any provider registered under the `portable_fn.providers` entry points, and
`portable-fn providers` lists them with their versions: a third-party plugin, installed as a real
distribution (a dist-info directory on the path), is listed and deploys like a built-in one."""

from __future__ import annotations

import json
import os
import subprocess
from importlib.metadata import version
from pathlib import Path

import click
import pytest

from portable_fn.cli import ProviderName, main

PLUGIN = '''import logging

from portable_fn.local.provider import LocalProvider

API = logging.getLogger("portable_fn.api")


class AcmeProvider(LocalProvider):
    """A third-party provider: the local one under another name, logging its reads as providers do."""

    name = "acme"

    def read_remote(self, app, stage):
        API.debug("acme state read %s-%s", app.name, stage)
        return super().read_remote(app, stage)
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A directory holding an installed distribution `acme-fn` 1.2.3 that registers the provider `acme`."""
    site = tmp_path / "site"
    dist = site / "acme_fn-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-fn\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[portable_fn.providers]\nacme = acme_fn_provider:AcmeProvider\n")
    (site / "acme_fn_provider.py").write_text(PLUGIN)
    return site


def portable_fn(*argv: str, path: Path, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run(["portable-fn", *argv], capture_output=True, text=True, env=environ, cwd=cwd)


@pytest.mark.slow  # the CLI in a process of its own
def test_providers_lists_each_with_its_distribution_and_version(plugin_path: Path) -> None:
    listed = portable_fn("providers", "--json", path=plugin_path)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)["providers"]
    assert sorted(found) == ["acme", "aws", "azure", "gcp", "local"]
    assert found["acme"] == {
        "distribution": "acme-fn",
        "version": "1.2.3",
        "entry_point": "acme_fn_provider:AcmeProvider",
    }
    assert found["local"]["distribution"] == "portable-fn" and found["local"]["version"] == version("portable-fn")
    assert found["aws"]["distribution"] == "portable-fn-aws"

    table = portable_fn("providers", path=plugin_path)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split() == ["PROVIDER", "DISTRIBUTION", "VERSION"]
    assert ["acme", "acme-fn", "1.2.3"] in [line.split() for line in table.stdout.splitlines()]


@pytest.mark.slow  # the CLI in a process of its own
def test_a_third_party_provider_is_selectable(plugin_path: Path, shop_copy: Path, tmp_path: Path) -> None:
    cloud = str(tmp_path / "cloud")
    deployed = portable_fn(
        "deploy", str(shop_copy), "--provider", "acme", "--json", path=plugin_path, PORTABLE_FN_LOCAL_CLOUD=cloud
    )
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["applied"] == 25
    assert "Deployed shop (dev) to acme in " in deployed.stderr
    info = portable_fn(
        "info", str(shop_copy), "--provider", "acme", "--json", path=plugin_path, PORTABLE_FN_LOCAL_CLOUD=cloud
    )
    assert info.returncode == 0 and json.loads(info.stdout)["provider"] == "acme"


def test_an_uninstalled_provider_is_a_usage_error_naming_the_installed_ones(capsys, shop_copy: Path) -> None:
    assert main(["plan", str(shop_copy), "--provider", "acme"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--provider': 'acme' is not an installed provider" in err
    assert "installed: aws, azure, gcp, local." in err


class OnlyLocalInstalled(ProviderName):
    """The parameter as a fresh `pip install -e .` sees it: no cloud provider installed."""

    def names(self) -> list[str]:
        return ["local"]


def test_an_uninstalled_cloud_says_how_to_install_it_from_a_checkout_too() -> None:
    with pytest.raises(click.BadParameter) as refused:
        OnlyLocalInstalled().convert("aws", None, None)
    assert str(refused.value) == (
        "'aws' is not an installed provider; installed: local. Install it: pip install 'portable-fn[aws]' "
        "(from a checkout of portable-fn: pip install -e ./providers/aws)."
    )


def test_a_misspelt_provider_is_answered_with_the_installed_one_meant(capsys, shop_copy: Path) -> None:
    assert main(["plan", str(shop_copy), "--provider", "aw"]) == 2
    assert capsys.readouterr().err.rstrip().endswith("installed: aws, azure, gcp, local. Try 'aws'.")


def test_dev_provider_local_says_it_takes_a_cloud(capsys, shop_copy: Path) -> None:
    assert main(["dev", str(shop_copy), "--provider", "local"]) == 2
    err = capsys.readouterr().err
    assert "dev serves locally without it; name the cloud whose checks and limits to apply: aws, azure, gcp." in err
    assert "not an installed provider" not in err


@pytest.mark.slow  # the CLI in a process of its own
def test_verbose_shows_each_api_call_the_provider_logs(plugin_path: Path, shop_copy: Path, tmp_path: Path) -> None:
    cloud = str(tmp_path / "cloud")
    quiet = portable_fn("plan", str(shop_copy), "--provider", "acme", path=plugin_path, PORTABLE_FN_LOCAL_CLOUD=cloud)
    assert quiet.returncode == 0, quiet.stderr
    assert "acme state read" not in quiet.stderr
    verbose = portable_fn(
        "plan",
        str(shop_copy),
        "--provider",
        "acme",
        "--verbose",
        "--json",
        path=plugin_path,
        PORTABLE_FN_LOCAL_CLOUD=cloud,
    )
    assert verbose.returncode == 0, verbose.stderr
    assert "\nacme state read shop-dev\n" in verbose.stderr
    assert json.loads(verbose.stdout)["plan"]["summary"].startswith("25 to create")  # stdout stays JSON


def test_verbose_leaves_the_api_logger_as_it_found_it(capsys, shop_copy: Path) -> None:
    import logging

    logger = logging.getLogger("portable_fn.api")
    before = (logger.level, list(logger.handlers))
    assert main(["package", str(shop_copy), "--verbose"]) == 0
    assert (logger.level, logger.handlers) == before

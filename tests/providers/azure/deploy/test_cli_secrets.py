"""`portable-fn secrets set|list|remove --provider azure` as a user runs it, against the fake ARM and the fake Key
Vault, with the real credential chain (azure-identity's DefaultAzureCredential limited to the Azure CLI credential,
a stand-in `az` printing the test token, as test_cli_deploy does): deploy makes the vault, the value goes in from
stdin and is never printed, and `secrets set` grants the secret to the deployed app's identity, so the next plan has
nothing to do."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from portable_fn.cli import cli
from portable_fn.console import Console

KEYED = Path(__file__).resolve().parents[1] / "apps" / "keyed"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OFFICER = "0d3b7a52-6a1c-4c55-9b7e-2f3c1e5a9d10"


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    result = CliRunner().invoke(cli, list(args), input=input, obj=Console(out, err, env={}))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, out.getvalue(), err.getvalue()


@pytest.fixture
def keyed_dir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arm: Any,
    keyvault: Any,
    blobs: Any,
    azurite: str,
    certificate: Any,
    helpers: Any,
) -> Path:
    app = tmp_path / "keyed"
    shutil.copytree(KEYED, app, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    pyproject = app / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.azure]\n",
            "[tool.portable-fn.azure]\n"
            f'subscription_id = "{SUBSCRIPTION}"\nremote_build = true\nconnection_verify = "{certificate[0]}"\n'
            f'tenant_id = "{TENANT}"\nsecrets_officer_id = "{OFFICER}"\nkeyvault_endpoint = "{keyvault.url}"\n'
            "polling_interval_s = 0.05\nlro_report_every_s = 0.02\n",
        )
    )
    arm.state.directory.add(OFFICER)
    bin_dir = helpers.fake_az(tmp_path / "bin", arm.token)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_MANAGER_URL"):
        monkeypatch.delenv(name, raising=False)
    return app


def test_secrets_set_list_remove_on_azure_with_the_cli(keyed_dir: Path, arm: Any, keyvault: Any) -> None:
    common = ("--provider", "azure", "--stage", "dev", "--endpoint-url", arm.url)
    code, _, err = run("deploy", str(keyed_dir), *common)
    assert code == 0, err
    assert "has no value yet" in err  # the grants wait for the values

    code, out, err = run("secrets", "set", "stripe-key", str(keyed_dir), *common, input="sk_live_from_stdin\n")
    assert code == 0, err
    assert "sk_live_from_stdin" not in out + err and "Set secret stripe-key (version " in out + err
    site = next(r["name"] for r in arm.state.resources.values() if r.get("type") == "Microsoft.Web/sites")
    assert err.splitlines()[-2:] == [  # to each function that declares it, through its own identity
        f"Secret stripe-key granted to function {f}'s identity in the function app {site} (portable-fn's secret "
        "reader role: getSecret on that secret alone); Azure applies a new role within minutes."
        for f in ("charge", "refund")
    ]
    code, out, err = run("secrets", "set", "webhook-secret", str(keyed_dir), *common, input="whsec_1\n")
    assert code == 0, err
    assert err.splitlines()[-1].startswith(
        f"Secret webhook-secret granted to function charge's identity in the function app {site} "
    )

    code, out, err = run("secrets", "list", str(keyed_dir), *common, "--json")
    assert code == 0, err
    assert {s["name"]: s["set"] for s in json.loads(out)["secrets"]} == {"stripe-key": True, "webhook-secret": True}
    assert "sk_live" not in out

    scope = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/keyed-dev-rg/providers/microsoft.keyvault/vaults/"
    granted = [
        r["properties"]["scope"].lower()
        for r in arm.state.resources.values()
        if r.get("type") == "Microsoft.Authorization/roleAssignments" and "/secrets/" in r["properties"]["scope"]
    ]
    assert sorted(s.rsplit("/", 1)[-1] for s in granted) == ["stripe-key", "stripe-key", "webhook-secret"]
    assert all(s.startswith(scope) for s in granted)
    code, out, err = run("plan", str(keyed_dir), *common)  # deploy, secrets set: nothing left to do
    assert code == 0, err
    assert "Plan: 0 to create, 0 to update, 0 to delete, 19 unchanged" in out, out  # 2 custom roles, 2 identities
    # the grant view: each declared grant as its exact actions, the host's built-in roles as the platform's
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action on /subscriptions/" in out
    assert "Storage Blob Data Owner on /subscriptions/" in out
    assert "(for the platform: the Functions host's own storage: its leases, keys and the app's package)" in out
    assert "Grants (0 to grant, 0 to take away, 6 unchanged):" in out, out  # stripe-key twice: charge, refund

    code, _, err = run("secrets", "remove", "webhook-secret", str(keyed_dir), *common, "--yes")
    assert code == 0, err
    code, out, _ = run("secrets", "list", str(keyed_dir), *common, "--json")
    assert {s["name"]: s["set"] for s in json.loads(out)["secrets"]} == {"stripe-key": True, "webhook-secret": False}

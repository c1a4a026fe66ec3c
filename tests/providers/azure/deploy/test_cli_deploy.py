"""The CLI as a user runs it against Azure (the local ARM endpoint and Azurite): `portable-fn deploy`,
a no-op redeploy, a code change, `info`, `remove`, with the real Azure packaging (remote build, so no
wheel is downloaded) and the real credential chain.

The credential is azure-identity's own DefaultAzureCredential, limited to the Azure CLI credential by
`AZURE_TOKEN_CREDENTIALS` (so nothing probes a metadata endpoint), with a stand-in `az` on PATH that
prints the test token, as `az account get-access-token` prints one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.deploy.naming import Names

from portable_fn.cli import main

REPO = Path(__file__).resolve().parents[4]
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
READ_POSTS = ("/list", "/listkeys", "/getfullurl")
SITE = Names("shop", "dev", SUBSCRIPTION).function_app


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else out), err


@pytest.fixture
def shop_dir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arm: Any,
    blobs: Any,
    azurite: str,
    certificate: tuple[Path, Path],
    helpers: Any,
) -> Path:
    """A copy of samples/shop whose [tool.portable-fn.azure] and environment point at the local endpoints."""
    app = tmp_path / "shop"
    shutil.copytree(REPO / "samples" / "shop", app, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    pyproject = app / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.azure]\n",
            (
                "[tool.portable-fn.azure]\n"
                f'subscription_id = "{SUBSCRIPTION}"\nremote_build = true\n'
                f'connection_verify = "{certificate[0]}"\n'
                "polling_interval_s = 0.05\nlro_report_every_s = 0.02\n"
            ),
        )
    )
    bin_dir = helpers.fake_az(tmp_path / "bin", arm.token)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_MANAGER_URL"):
        monkeypatch.delenv(name, raising=False)
    # Azurite's key goes in the environment, not in pyproject.toml: a key in a file that ships is refused
    # by packaging's credential check.
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    return app


def mutations(arm: Any, since: int) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in arm.state.requests[since:]
        if r.method in ("PUT", "PATCH", "DELETE") or (r.method == "POST" and not r.path.lower().endswith(READ_POSTS))
    ]


def test_deploy_redeploy_change_info_remove_with_the_cli(
    capsys: pytest.CaptureFixture[str], shop_dir: Path, arm: Any, blobs: Any, helpers: Any
) -> None:
    common = ("--provider", "azure", "--app", str(shop_dir), "--endpoint-url", arm.url)

    code, first, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert first["applied"] == len(first["plan"]["steps"]) == 45  # as test_arm_deploy.SHOP_STEPS
    assert "Packaging 'shop' for azure" in err and "waiting for function app" in err
    kinds = {s["kind"] for s in first["plan"]["steps"]}
    assert {"role assignment", "event grid topic", "event grid system topic", "event subscription"} <= kinds
    assert "get-access-token" in (shop_dir.parent / "bin" / "calls").read_text()  # the real credential chain

    before = len(arm.state.requests)
    code, second, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert second["applied"] == 0 and second["artifact"]["sha256"] == first["artifact"]["sha256"]
    # only reads reached ARM, and the audit trail's merge of the new record's tags into the function app's
    site = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/shop-dev-rg/providers/Microsoft.Web/sites/{SITE}"
    assert mutations(arm, before) == [("PATCH", f"{site}/providers/Microsoft.Resources/tags/default")]
    [(operation, scope, tags)] = arm.tagged(before)
    assert (operation, scope, sorted(tags)) == ("Merge", site, ["pfn-audit-at", "pfn-audit-commit", "pfn-audit-digest"])
    assert tags["pfn-audit-digest"] == second["audit"]["digest"][:12] != first["audit"]["digest"][:12]

    functions = shop_dir / "shop" / "functions.py"
    functions.write_text(functions.read_text() + "\n# changed\n")
    code, third, err = cli(capsys, "deploy", *common, "--json")
    assert code == 0, err
    assert [(s["action"], s["kind"]) for s in third["plan"]["steps"]] == [
        ("create", "package blob"),
        ("update", "app settings"),
        ("update", "package release"),
        ("delete", "package blob"),
    ]

    code, info, _ = cli(capsys, "info", *common, "--json")
    assert code == 0
    notify = info["outputs"]["functions"]["notify"]
    assert notify["endpoint"].endswith(".eventgrid.azure.net/api/events") and notify["subscription"]

    code, removed, err = cli(capsys, "remove", *common, "--json")
    assert code == 0, err
    assert removed["applied"] == 45
    # all but the audit trail's group and account, which outlive the stage
    assert {key: found["tags"] for key, found in arm.state.resources.items()} == helpers.audit_trail("shop", "dev")
    code, after, _ = cli(capsys, "plan", *common, "--json")
    assert code == 0 and after["plan"]["steps"] and all(s["action"] == "create" for s in after["plan"]["steps"])

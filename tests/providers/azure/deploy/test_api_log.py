"""What `--verbose` shows of a deploy to Azure: every request on the "portable_fn.api" logger, without secrets.

A real deploy of samples/shop to the local ARM endpoint and Azurite (see conftest) with
`storage_auth = "connection_string"`, so the storage account's key and a read-only SAS travel in the
requests (the app settings), and with a secret planted in the stage's environment. Flex Consumption adds
the release through the SCM host's /api/publish, with a bearer token.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.deploy import pipeline

PLANTED = "sk_live_planted_0123456789abcdef"
GROUP = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/shop-dev-rg"


def api_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "portable_fn.api"]


@pytest.fixture
def shop_with_secret(shop: Any) -> Any:
    pyproject = shop.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.stages.dev]\n", f'[tool.portable-fn.stages.dev]\nenv = {{ PAYMENT_KEY = "{PLANTED}" }}\n'
        )
    )
    return load_app(shop.root)


def deploy(shop: Any, arm: Any, certificate: Any, azurite: str, helpers: Any, plan_sku: str) -> tuple[Any, Any]:
    settings = helpers.settings_for(
        shop, "dev", certificate, azurite, storage_auth="connection_string", plan_sku=plan_sku
    )
    provider = helpers.ArmProvider(settings, arm.url)
    pipeline.deploy(provider, shop, "dev")
    return provider, provider.deployer.names(shop, "dev")


def test_a_deploy_logs_each_request_as_resource_provider_method_and_path(
    arm: Any,
    shop_with_secret: Any,
    blobs: Any,
    certificate: Any,
    azurite: str,
    helpers: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="portable_fn.api")
    provider, n = deploy(shop_with_secret, arm, certificate, azurite, helpers, "Y1")
    lines = api_lines(caplog)
    assert f"azure Microsoft.Resources PUT {GROUP.replace('resourceGroups', 'resourcegroups')}" in lines
    assert f"azure Microsoft.Web PUT {GROUP}/providers/Microsoft.Web/sites/{n.function_app}" in lines
    assert (
        f"azure Microsoft.Storage POST {GROUP}/providers/Microsoft.Storage/storageAccounts/"
        f"{n.storage_account}/listKeys" not in lines
    )  # the connection string is the override here
    assert any(line.startswith("azure blob PUT /devstoreaccount1/portable-fn-packages/shop-dev/") for line in lines)
    assert any(line.startswith("azure Microsoft.EventGrid PUT ") and "/eventSubscriptions/" in line for line in lines)
    assert all(len(line.split(" ")) == 4 and line.startswith("azure ") for line in lines)
    recorded = [(method, path) for _, method, path in provider.deployer.client.calls]
    assert [tuple(line.split(" ")[2:]) for line in lines] == recorded  # one line per request sent, in order


@pytest.mark.parametrize("plan_sku", ["Y1", "FC1"])
def test_no_line_holds_a_key_a_sas_a_token_or_an_environment_value(
    arm: Any,
    shop_with_secret: Any,
    blobs: Any,
    certificate: Any,
    azurite: str,
    helpers: Any,
    plan_sku: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="portable_fn.api")
    provider, n = deploy(shop_with_secret, arm, certificate, azurite, helpers, plan_sku)
    lines = api_lines(caplog)
    assert f"azure Microsoft.Web PUT {GROUP}/providers/Microsoft.Web/sites/{n.function_app}/config/appsettings" in lines
    if plan_sku == "FC1":
        assert "azure scm POST /api/publish" in lines
    text = "\n".join(lines)
    account_key = azurite.split("AccountKey=")[1].split(";")[0]
    for secret in (account_key, "AccountKey", "sig=", "?", provider.credential.token, PLANTED, "PAYMENT_KEY"):
        assert secret not in text

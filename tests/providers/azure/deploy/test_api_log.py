"""What `--verbose` shows of a deploy to Azure: every request on the "portable_fn.api" logger, without secrets.

A real deploy of samples/shop to the local ARM endpoint and Azurite (see conftest) with
`storage_auth = "connection_string"`, so the storage account's key and a read-only SAS travel in the
requests (the app settings), and with a secret planted in the stage's environment (the policy's
no-secret-env finding waived, so the deploy goes ahead). Flex Consumption adds the release through the SCM
host's /api/publish, with a bearer token. The deploy's audit record goes to the stage's audit account and
its tags onto the function app, through a client of their own: their requests are on the log too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from portable_fn_azure.deploy.audit import audit_account
from portable_fn_azure.deploy.client import READ_POSTS
from portable_fn_azure.deploy.naming import Names

from portable_fn.app import load_app
from portable_fn.deploy import pipeline

PLANTED = "sk_live_planted_0123456789abcdef"
SUB = "11111111-2222-3333-4444-555555555555"
GROUP = f"/subscriptions/{SUB}/resourceGroups/shop-dev-rg"
AUDIT_GROUP = f"/subscriptions/{SUB}/resourceGroups/shop-dev-audit-rg"
AUDIT_ACCOUNT = f"{AUDIT_GROUP}/providers/Microsoft.Storage/storageAccounts/{audit_account(Names('shop', 'dev', SUB))}"
WAIVER = """
[[tool.portable-fn.policy.waivers]]
rule = "PFN003"
reason = "a planted value: this test checks it reaches no log line"
"""


def api_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "portable_fn.api"]


@pytest.fixture
def shop_with_secret(shop: Any) -> Any:
    pyproject = shop.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.stages.dev]\n", f'[tool.portable-fn.stages.dev]\nenv = {{ PAYMENT_KEY = "{PLANTED}" }}\n'
        )
        + WAIVER
    )
    return load_app(shop.root)


def deploy(shop: Any, arm: Any, certificate: Any, azurite: str, helpers: Any, plan_sku: str) -> tuple[Any, Any, Any]:
    settings = helpers.settings_for(
        shop, "dev", certificate, azurite, storage_auth="connection_string", plan_sku=plan_sku
    )
    provider = helpers.ArmProvider(settings, arm.url)
    outcome = pipeline.deploy(provider, shop, "dev")
    return provider, provider.deployer.names(shop, "dev"), outcome.audit


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
    provider, n, record = deploy(shop_with_secret, arm, certificate, azurite, helpers, "Y1")
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
    # one line per request sent, in order: the deploy's, with the audit trail's once the change is made and
    # before the outputs are read
    recorded = [(method, path) for _, method, path in provider.deployer.client.calls]
    audited = [(method, path) for _, method, path in provider.deployer.audit_client.calls]
    logged = [tuple(line.split(" ")[2:]) for line in lines]
    start = logged.index(audited[0])
    assert logged == recorded[:start] + audited + recorded[start:]
    after = recorded[start:]  # the outputs' reads: GETs and the POSTs that only read (keys, settings, URLs)
    assert after and all(method == "GET" or path.lower().endswith(READ_POSTS) for method, path in after)

    # the audit trail of a stage's first deploy: no audit account yet, so its group and account are made (the
    # account polled until made), the record's upload finds no container, which is made and the record sent
    # again; then the function app is found and the record's tags merged into its own
    site = f"{GROUP}/providers/Microsoft.Web/sites/{n.function_app}"
    record_path = f"/devstoreaccount1/pfn-audit/shop/dev/{record.name}"
    trail = [
        re.sub(r"/_poll/[0-9a-f]{32}$", "/_poll/<operation>", line) for line in lines[start : start + len(audited)]
    ]
    assert trail == [
        f"azure Microsoft.Storage GET {AUDIT_ACCOUNT}",
        f"azure Microsoft.Resources PUT {AUDIT_GROUP.replace('resourceGroups', 'resourcegroups')}",
        f"azure Microsoft.Storage PUT {AUDIT_ACCOUNT}",
        "azure arm GET /_poll/<operation>",
        "azure arm GET /_poll/<operation>",
        f"azure blob PUT {record_path}",
        "azure blob PUT /devstoreaccount1/pfn-audit",
        f"azure blob PUT {record_path}",
        f"azure Microsoft.Web GET {site}",
        f"azure Microsoft.Resources PATCH {site}/providers/Microsoft.Resources/tags/default",
    ]
    assert len({line for line in lines[start : start + len(audited)] if "/_poll/" in line}) == 1  # one operation
    assert not [line for line in lines if "audit" in line.lower() and line not in lines[start : start + len(audited)]]


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
    provider, n, record = deploy(shop_with_secret, arm, certificate, azurite, helpers, plan_sku)
    lines = api_lines(caplog)
    assert f"azure Microsoft.Web PUT {GROUP}/providers/Microsoft.Web/sites/{n.function_app}/config/appsettings" in lines
    assert f"azure blob PUT /devstoreaccount1/pfn-audit/shop/dev/{record.name}" in lines
    if plan_sku == "FC1":
        assert "azure scm POST /api/publish" in lines
    text = "\n".join(lines)
    account_key = azurite.split("AccountKey=")[1].split(";")[0]
    for secret in (account_key, "AccountKey", "sig=", "?", provider.credential.token, PLANTED, "PAYMENT_KEY"):
        assert secret not in text
    written = blobs.get_container_client("pfn-audit").get_blob_client(f"shop/dev/{record.name}").download_blob()
    assert PLANTED.encode() not in written.readall()  # nor the audit record (it names the waiver, never a value)

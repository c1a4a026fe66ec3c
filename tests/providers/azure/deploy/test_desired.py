"""The pure half of Azure deploy: names within Azure's rules, the resources an app needs, and the
planner over in-memory remote states. No endpoint is involved."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.deploy import AzureDeployer, container_name, queue_name
from portable_fn_azure.deploy.naming import Names

from portable_fn.deploy import Artifact, RemoteState, make_plan
from portable_fn.runtime.errors import ConfigError, UnsupportedTriggerError

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
ARTIFACT = Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1)


@pytest.fixture
def deployer() -> AzureDeployer:
    return AzureDeployer({"subscription_id": SUBSCRIPTION, "location": "westeurope"})


def test_globally_unique_names_fit_azure_rules() -> None:
    names = Names("a-very-long-application-name", "production", SUBSCRIPTION)
    assert re.fullmatch(r"[a-z0-9]{3,24}", names.storage_account)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,58}[a-z0-9]", names.function_app)
    assert names.storage_account != Names("a-very-long-application-name", "production", "other-sub").storage_account
    assert queue_name("Orders_In") == "orders-in" and container_name("uploads") == "uploads"
    assert len(queue_name("q" * 80) + "-poison") <= 63


def test_shop_needs_one_function_app_and_its_storage(deployer: AzureDeployer, shop: Any) -> None:
    resources = deployer.desired(shop, "dev", ARTIFACT)
    assert [r.kind for r in resources] == [
        "resource group", "storage account", "blob container", "blob container", "storage queue", "storage queue",
        "package blob", "app service plan", "function app", "app settings"]
    settings = dict(resources[-1].settings)
    assert settings["WEBSITE_RUN_FROM_PACKAGE"].endswith(f"/portable-fn-packages/shop-dev/{'ab' * 32}.zip")
    assert "?" not in settings["WEBSITE_RUN_FROM_PACKAGE"]  # the SAS is added only when written
    assert make_plan(resources, RemoteState(resources)).empty


def test_a_named_resource_group_is_used_not_owned(shop: Any) -> None:
    deployer = AzureDeployer({"subscription_id": SUBSCRIPTION, "location": "westeurope", "resource_group": "mine"})
    resources = deployer.desired(shop, "dev", ARTIFACT)
    assert "resource group" not in [r.kind for r in resources]
    assert {getattr(r, "resource_group", "mine") for r in resources} == {"mine"}


def test_missing_settings_say_what_to_set(shop: Any) -> None:
    with pytest.raises(ConfigError, match="subscription_id"):
        AzureDeployer({"location": "westeurope"}).desired(shop, "dev", ARTIFACT)
    with pytest.raises(UnsupportedTriggerError, match="plan_sku"):
        AzureDeployer({"plan_sku": "S1"}).check(shop)

"""The app's tags on every resource Azure lets deploy tag (the group, the storage account, the plan, the
function app, the Event Grid topics, the functions' own identities), beside portable-fn's own, on the local ARM
endpoint and Azurite: a changed tag is an update of each that deploy applies through the Tags API key by key
(the release tag and the audit trail's `pfn-audit-*` stay), a rerun changes nothing, and tags Azure would
refuse are refused before any call. Queues, containers, tables, role assignments and event subscriptions take no
ARM tags."""

from __future__ import annotations

from typing import Any

import pytest
from portable_fn_azure.deploy import TAG_APP, TAG_STAGE

from portable_fn.app import App
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import ConfigError

from ....tags_contract import with_tags

OWN = {TAG_APP: "shop", TAG_STAGE: "dev"}
RECORD = "portable-fn-tags"  # the keys of the user's tags deploy manages
TAGGED_KINDS = {
    "resource group": 1,
    "storage account": 1,
    "app service plan": 1,
    "function app": 1,
    "event grid topic": 1,
    "event grid system topic": 1,
    "managed identity": 3,  # the own identities of place_order-run, create_order and confirm_payment
}


def all_tags(arm: Any) -> dict[str, dict[str, str]]:
    """The tags of every resource of the shop the endpoint holds, by id, without the release tag and those the
    audit trail writes on each deploy."""
    found = {}
    for key, item in arm.state.resources.items():
        tags = dict(item.get("tags") or {})
        if tags.get(TAG_APP) == "shop" and "/eventsubscriptions/" not in key:
            found[key] = {
                k: v
                for k, v in tags.items()
                if not k.startswith(("portable-fn-release", "pfn-audit-", "portable-fn-function"))
            }
    return found


def test_tags_reach_every_taggable_resource_change_in_place_and_rerun_as_nothing(
    provider: Any, shop: App, arm: Any
) -> None:
    app = with_tags(shop, 'tags = { team = "payments", cost-center = "42" }', 'tags = { cost-center = "43" }')
    pipeline.deploy(provider, app, "dev")
    found = all_tags(arm)
    assert len(found) == sum(TAGGED_KINDS.values()), sorted(found)
    wanted = {**OWN, "team": "payments", "cost-center": "43", RECORD: "cost-center team"}
    assert {k: tags for k, tags in found.items() if tags != wanted} == {}

    app = with_tags(shop, 'tags = { team = "checkout" }')
    planned = pipeline.plan(provider, app, "dev").plan
    assert planned is not None
    assert {(s.action, s.changes) for s in planned.steps} == {("update", ("tags",))}
    assert sorted(s.resource.kind for s in planned.steps) == sorted(
        k for k, n in TAGGED_KINDS.items() for _ in range(n)
    )

    pipeline.deploy(provider, app, "dev")
    assert {k: tags for k, tags in all_tags(arm).items() if tags != {**OWN, "team": "checkout", RECORD: "team"}} == {}
    [site] = [item for key, item in arm.state.resources.items() if key.rsplit("/", 2)[-2] == "sites"]
    assert "portable-fn-release" in site["tags"]  # the release tag stays
    assert pipeline.plan(provider, app, "dev").plan.empty  # type: ignore[union-attr]


def test_tags_others_set_are_no_change_for_deploy_and_survive_a_retag(provider: Any, shop: App, arm: Any) -> None:
    """The audit trail's tags, and one set in the portal: neither is compared, changed or taken off."""
    app = with_tags(shop, 'tags = { team = "payments", cost-center = "42" }')
    pipeline.deploy(provider, app, "dev")
    group = "/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/shop-dev-rg"
    account = next(key for key in arm.state.resources if key.rsplit("/", 2)[-2] == "storageaccounts")
    for key in (group, account):
        arm.state.resources[key]["tags"].update({"pfn-audit-by": "ci", "owner": "ops"})
    assert pipeline.plan(provider, app, "dev").plan.empty  # type: ignore[union-attr]

    pipeline.deploy(provider, with_tags(shop, 'tags = { team = "checkout" }'), "dev")  # cost-center goes
    for key in (group, account):
        tags = arm.state.resources[key]["tags"]
        assert tags == {**OWN, "team": "checkout", RECORD: "team", "pfn-audit-by": "ci", "owner": "ops"}

    pipeline.deploy(provider, with_tags(shop, "tags = {}"), "dev")  # no tag left: nor the record
    for key in (group, account):
        assert arm.state.resources[key]["tags"] == {**OWN, "pfn-audit-by": "ci", "owner": "ops"}


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ('{ "team/area" = "x" }', "Tag team/area = 'x' is not a valid azure tag: Azure takes no < > % & \\ ? /"),
        ('{ "cost center" = "42" }', "Tag cost center = '42' is not a valid azure tag: Azure takes no"),
        ('{ "microsoft.team" = "x" }', "keys starting with 'microsoft' or 'azure' or 'windows' are the cloud's own"),
        (f'{{ "{"k" * 129}" = "x" }}', "is not a valid azure tag: its key must be 1 to 128 characters"),
    ],
)
def test_tags_azure_would_refuse_are_refused_before_any_call(
    provider: Any, shop: App, arm: Any, tags: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        pipeline.plan(provider, with_tags(shop, f"tags = {tags}"), "dev")
    assert message in str(caught.value)
    assert "under [tool.portable-fn] tags" in str(caught.value)
    assert all_tags(arm) == {}

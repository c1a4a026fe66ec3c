"""State tables deployed to a real moto server through the shared pipeline: made with their settings
and tags, read back equal (a redeploy changes nothing), shown by `plan`, and kept by `remove` while they
hold items unless the data may go."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.deploy import pipeline

STATEFUL = Path(__file__).with_name("apps") / "stateful"
TABLES = ["stateful-test-orders", "stateful-test-stock"]


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return load_app(shutil.copytree(STATEFUL, tmp_path / "stateful", ignore=shutil.ignore_patterns("__pycache__")))


@pytest.fixture
def stateful(endpoint: str, helpers: Any, app: Any) -> Any:
    return helpers.MotoProvider({**app.config.provider_settings("aws", "test"), "wait_delay_s": 0.1}, endpoint)


@pytest.fixture
def dynamodb(endpoint: str, helpers: Any) -> Any:
    return boto3.client("dynamodb", region_name=helpers.REGION, endpoint_url=endpoint)


def test_deploy_makes_one_tagged_encrypted_on_demand_table_per_state(stateful: Any, app: Any, dynamodb: Any) -> None:
    planned = pipeline.plan(stateful, app, "test").plan
    assert planned is not None
    assert {s.resource.name for s in planned.steps if s.resource.kind == "dynamodb table"} == set(TABLES)
    pipeline.deploy(stateful, app, "test")
    assert sorted(dynamodb.list_tables()["TableNames"]) == TABLES
    for name in TABLES:
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["SSEDescription"]["Status"] == "ENABLED"
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")
        tags = {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]}
        assert tags == {"portable-fn:app": "stateful", "portable-fn:stage": "test"}
    again = pipeline.plan(stateful, app, "test").plan
    assert again is not None and again.empty, [s.describe() for s in again.steps]


def test_a_changed_table_is_updated_and_a_changed_grant_shows_in_plan(stateful: Any, app: Any, dynamodb: Any) -> None:
    pipeline.deploy(stateful, app, "test")
    dynamodb.update_time_to_live(
        TableName="stateful-test-stock", TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"}
    )
    dynamodb.update_table(
        TableName="stateful-test-stock",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    copy = shutil.copytree(app.root, app.root.with_name("changed"), ignore=shutil.ignore_patterns("__pycache__"))
    functions = copy / "stateful" / "functions.py"
    functions.write_text(functions.read_text().replace("uses=[stock.read()]", "uses=[stock.write()]"))
    changed = load_app(copy)  # another directory, so the module is imported again
    planned = pipeline.plan(stateful, changed, "test").plan
    assert planned is not None
    assert {(s.resource.kind, s.resource.name, s.changes) for s in planned.steps} == {
        ("dynamodb table", "stateful-test-stock", ("billing_mode", "ttl_attribute")),
        ("iam role", "stateful-test-show_stock", ("policy",)),
    }
    pipeline.deploy(stateful, changed, "test")
    assert dynamodb.describe_table(TableName="stateful-test-stock")["Table"]["BillingModeSummary"]["BillingMode"] == (
        "PAY_PER_REQUEST"
    )
    assert (
        dynamodb.describe_time_to_live(TableName="stateful-test-stock")["TimeToLiveDescription"]["TimeToLiveStatus"]
        == "ENABLED"
    )
    again = pipeline.plan(stateful, changed, "test").plan
    assert again is not None and again.empty, [s.describe() for s in again.steps]


def test_remove_keeps_a_table_holding_items_unless_told_to_delete_data(stateful: Any, app: Any, dynamodb: Any) -> None:
    pipeline.deploy(stateful, app, "test")
    dynamodb.put_item(
        TableName="stateful-test-orders", Item={"pk": {"S": "o-1"}, "value": {"S": "{}"}, "version": {"S": "v"}}
    )
    said: list[str] = []
    outcome = pipeline.remove(stateful, app, "test", said.append)
    assert outcome.plan is not None and [r.name for r in outcome.plan.kept] == ["stateful-test-orders"]
    assert any("keep dynamodb table stateful-test-orders: it holds data" in line for line in said)
    assert dynamodb.list_tables()["TableNames"] == ["stateful-test-orders"]
    pipeline.remove(stateful, app, "test", delete_data=True)
    assert dynamodb.list_tables()["TableNames"] == []


# The grants `plan` lists, read from what AWS holds against what the app declares.


def test_after_a_deploy_every_grant_reads_back_unchanged(stateful: Any, app: Any) -> None:
    first = pipeline.plan(stateful, app, "test")
    assert first.grants is not None and first.grants.kept == () and len(first.grants.added) >= 4
    assert len(first.grants.added) == len(stateful.grants(stateful.desired(app, "test", first.artifact)))
    pipeline.deploy(stateful, app, "test")
    again = pipeline.plan(stateful, app, "test").grants
    assert again is not None
    assert (again.added, again.removed) == ((), ())
    assert sorted(again.kept, key=repr) == sorted(first.grants.added, key=repr)


def test_a_use_going_from_read_to_write_shows_as_the_grants_it_adds_and_takes_away(stateful: Any, app: Any) -> None:
    pipeline.deploy(stateful, app, "test")
    copy = shutil.copytree(app.root, app.root.with_name("changed"), ignore=shutil.ignore_patterns("__pycache__"))
    functions = copy / "stateful" / "functions.py"
    functions.write_text(functions.read_text().replace("uses=[stock.read()]", "uses=[stock.write()]"))
    changes = pipeline.plan(stateful, load_app(copy), "test").grants
    assert changes is not None
    table = "arn:aws:dynamodb:eu-west-1:123456789012:table/stateful-test-stock"
    assert [(g.function, g.resource) for g in changes.added] == [("show_stock", table)]
    assert [(g.function, g.resource) for g in changes.removed] == [("show_stock", table)]
    gained = set(changes.added[0].actions) - set(changes.removed[0].actions)
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem"} <= gained
    assert not set(changes.removed[0].actions) - set(changes.added[0].actions)
    lines = changes.lines()
    assert lines[0] == f"Grants (1 to grant, 1 to take away, {len(changes.kept)} unchanged):"
    assert sum(line.startswith("  + show_stock as ") for line in lines) == 1


def test_the_plan_command_prints_the_grants_and_puts_them_in_its_json(
    stateful: Any, app: Any, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    common = ["plan", str(app.root), "--provider", "aws", "--stage", "test", "--endpoint-url", endpoint]
    assert main([*common, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["grants"]["kept"] == [] and document["grants"]["removed"] == []
    resources = {g["resource"] for g in document["grants"]["added"]}
    assert "arn:aws:dynamodb:eu-west-1:123456789012:table/stateful-test-orders" in resources
    assert all("*" not in action for g in document["grants"]["added"] for action in g["actions"])
    assert main(common) == 0
    text = capsys.readouterr().out
    assert f"Grants ({len(document['grants']['added'])} to grant, 0 to take away, 0 unchanged):" in text

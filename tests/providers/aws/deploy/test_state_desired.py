"""What deploy makes of an app's states on AWS, without AWS: one table per state, the locator on exactly
the functions that declare it, and least-privilege grants (no wildcard, every resource named, nothing
undeclared); and what a table found holding items does to `remove`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy.desired import Target, desired
from portable_fn_aws.deploy.naming import Arns, Names
from portable_fn_aws.deploy.resources import Function, Role, Table

from portable_fn.app import load_app
from portable_fn.deploy import Artifact, RemoteState, make_plan

ARNS = Arns("aws", "eu-west-1", "123456789012")
STATEFUL = Path(__file__).with_name("apps") / "stateful"
TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/stateful-test-{}"
READ = ["dynamodb:GetItem"]
WRITE = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


@pytest.fixture(scope="module")
def resources() -> dict[tuple[str, str], Any]:
    app = load_app(STATEFUL)
    built = desired(Target(app, "test", Names(app.name, "test"), ARNS, Artifact(Path("/tmp/a.zip"), "ab" * 32, 1, 1)))
    return {r.key: r for r in built}


def policy(resources: dict[tuple[str, str], Any], fn: str) -> list[dict[str, Any]]:
    role = resources[("iam role", f"stateful-test-{fn}")]
    assert isinstance(role, Role)
    statements: list[dict[str, Any]] = json.loads(role.policy)["Statement"]
    return statements


def state_grants(resources: dict[tuple[str, str], Any], fn: str) -> dict[str, list[str]]:
    """Table ARN -> the DynamoDB actions the function's role allows on it."""
    out: dict[str, list[str]] = {}
    for s in policy(resources, fn):
        if any(a.startswith("dynamodb:") for a in s["Action"]):
            for arn in s["Resource"]:
                out[arn] = sorted({*out.get(arn, []), *s["Action"]})
    return out


def test_one_encrypted_on_demand_table_with_ttl_per_state(resources: dict[tuple[str, str], Any]) -> None:
    tables = [r for r in resources.values() if isinstance(r, Table)]
    assert tables == [Table("stateful-test-orders"), Table("stateful-test-stock")]
    assert all((t.billing_mode, t.encrypted, t.ttl_attribute) == ("PAY_PER_REQUEST", True, "ttl") for t in tables)


def test_each_function_gets_exactly_the_grants_its_uses_declare(resources: dict[tuple[str, str], Any]) -> None:
    assert state_grants(resources, "fulfil") == {TABLE_ARN.format("orders"): WRITE, TABLE_ARN.format("stock"): READ}
    assert state_grants(resources, "show_stock") == {TABLE_ARN.format("stock"): READ}
    assert state_grants(resources, "restock") == {TABLE_ARN.format("stock"): WRITE}  # a bare state is write
    assert state_grants(resources, "nightly") == {}


@pytest.mark.parametrize("fn", ["fulfil", "show_stock", "restock", "nightly"])
def test_no_policy_has_a_wildcard_action_or_an_unnamed_resource(resources: dict[tuple[str, str], Any], fn: str) -> None:
    for s in policy(resources, fn):
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
        assert all("*" not in action for action in s["Action"]), s
        for arn in s["Resource"]:
            assert arn.startswith("arn:aws:") and "*" not in arn.removesuffix(":*"), s  # a log group's streams
            assert arn.removesuffix(":*").split(":")[5] != "", s


def test_the_locator_is_set_on_exactly_the_functions_that_declare_the_state(
    resources: dict[tuple[str, str], Any],
) -> None:
    def states_env(fn: str) -> dict[str, str]:
        function = resources[("lambda function", f"stateful-test-{fn}")]
        assert isinstance(function, Function)
        return {k: v for k, v in function.env if k.startswith("PORTABLE_FN_STATE_")}

    assert states_env("fulfil") == {
        "PORTABLE_FN_STATE_ORDERS": "stateful-test-orders",
        "PORTABLE_FN_STATE_STOCK": "stateful-test-stock",
    }
    assert states_env("show_stock") == states_env("restock") == {"PORTABLE_FN_STATE_STOCK": "stateful-test-stock"}
    assert states_env("nightly") == {}


def test_a_table_holding_items_is_kept_by_remove_unless_its_data_may_go() -> None:
    full, empty = Table("stateful-test-orders", has_items=True), Table("stateful-test-stock")
    kept = make_plan([], RemoteState([full, empty]))
    assert [s.resource for s in kept.steps] == [empty] and kept.kept == (full,)
    assert "--delete-data" in kept.kept_lines()[0]
    assert [s.resource for s in make_plan([], RemoteState([full, empty]), delete_data=True).steps] == [empty, full]


def test_a_table_found_with_items_compares_equal_to_the_desired_one() -> None:
    assert Table("t").changed_fields(Table("t", has_items=True)) == ()
    assert Table("t").changed_fields(Table("t", encrypted=False, ttl_attribute="")) == ("encrypted", "ttl_attribute")

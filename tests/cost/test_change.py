"""`plan_change` on in-memory resources: what a plan's two sides cost, why, and when it cannot say."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from portable_fn_aws.deploy.resources import Function
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import App
from portable_fn.cost import money, plan_change
from portable_fn.local.provider import LocalProvider

SINGLE = Path(__file__).with_name("apps") / "single"
TRAFFIC = {"work": {"invocations": 3_000_000, "duration_ms": 1000}}


def lambda_of(memory_mb: int, architecture: str = "x86_64") -> Function:
    return Function("single-dev-work", memory_mb=memory_mb, architecture=architecture)


def test_a_resize_and_an_architecture(app_with: Callable[..., App]) -> None:
    app = app_with(SINGLE, TRAFFIC, aws={"region": "us-east-1"})
    change = plan_change(AwsProvider(), app, "dev", [lambda_of(1024, "arm64")], [lambda_of(512)])
    # 3M requests ($0.60); 1.5M GB-s at $0.0000166667 before, 3M GB-s at $0.0000133334 after
    assert (change.before, change.after) == (Decimal("25.600050"), Decimal("40.600200"))
    assert change.lines() == [
        "Cost: $25.60/month -> $40.60/month (+$15.00), memory of work 512 -> 1024 MB, architecture of work "
        "x86_64 -> arm64 (list prices in us-east-1, before free tiers; `portable-fn cost` shows each function)."
    ]


def test_a_new_and_a_removed_function(app_with: Callable[..., App]) -> None:
    app = app_with(SINGLE, TRAFFIC, aws={"region": "us-east-1"})
    created = plan_change(AwsProvider(), app, "dev", [lambda_of(512)], [])
    assert (created.before, money(created.after), created.reasons) == (0, "$25.60", ["new function work (+$25.60)"])
    removed = plan_change(AwsProvider(), app, "dev", [], [lambda_of(512)])
    assert (money(removed.before), removed.after, removed.reasons) == ("$25.60", 0, ["work removed (-$25.60)"])


def test_it_says_why_it_cannot_estimate(app_with: Callable[..., App]) -> None:
    app = app_with(SINGLE, TRAFFIC, aws={"region": "ap-south-1"})
    local = plan_change(LocalProvider(), app, "dev", [], [])
    assert local.lines() == ["Cost: not estimated (portable-fn has no prices for local)."]
    unpriced = plan_change(AwsProvider(), app, "dev", [lambda_of(512)], [])
    assert unpriced.lines()[0].startswith("Cost: not estimated (portable-fn has no aws prices for region 'ap-south-1'")
    silent = plan_change(AwsProvider(), app_with(SINGLE, aws={"region": "us-east-1"}), "dev", [lambda_of(512)], [])
    assert silent.to_dict() == {
        "provider": "aws",
        "region": "us-east-1",
        "before_usd": None,
        "after_usd": None,
        "delta_usd": None,
        "reasons": [],
        "unavailable": "no traffic declared: add [tool.portable-fn.traffic.default] with `invocations = 100000` "
        "(a month)",
    }

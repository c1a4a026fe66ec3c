"""What every cloud's `plan_change` test checks, written once: after a real deploy of the shop (to moto, the
GCP recording endpoint or the fake ARM), a plan that changes nothing changes no cost, and a change is priced
from what the cloud holds on one side and what the plan wants on the other."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from portable_fn.app import App, load_app
from portable_fn.cost import CostChange, plan_change
from portable_fn.provider import Provider

P = TypeVar("P", bound=Provider)


def on(cloud: type[P], stand_in: Any) -> P:
    """The cloud's real provider, as `plan` would use it, with the stand-in's settings and deploy side."""
    provider = cloud(stand_in.settings, stand_in.endpoint_url)
    provider.deployer = stand_in.deployer
    return provider


def priced(provider: Provider, app: App, build: Path, stand_in: Any) -> CostChange:
    """`plan_change` over what a plan of `app` compares: its desired resources (for the stand-in's zip) and
    what the cloud holds."""
    artifact = stand_in.package(app, "dev", build, lambda _: None)
    desired, remote = provider.desired(app, "dev", artifact), list(provider.read_remote(app, "dev"))
    return plan_change(provider, app, "dev", desired, remote)


def edited(shop: App, tmp_path: Path, old: str, new: str) -> App:
    """The shop with one change to its functions, from a directory of its own (a fresh import)."""
    target = tmp_path / "shop-edited"
    shutil.copytree(shop.root, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    source = target / "shop" / "functions.py"
    text = source.read_text(encoding="utf-8")
    assert old in text
    source.write_text(text.replace(old, new), encoding="utf-8")
    return load_app(target)


def check_no_change(change: CostChange, gross: Decimal, shown: str, region: str) -> None:
    """A plan that changes nothing: the same monthly cost (`gross`, shown as `shown`) on both sides, no reason,
    one line saying so."""
    assert (change.before, change.after, change.delta, change.reasons) == (gross, gross, 0, [])
    assert change.lines() == [
        f"Cost: {shown}/month -> {shown}/month (+$0.00) (list prices in {region}, before free tiers; "
        "`portable-fn cost` shows each function)."
    ]

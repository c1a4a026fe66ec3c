"""What a provider adjusts in what the app declares (a clamped retry policy) reaches `plan` and `deploy`:
the outcome, its JSON and the progress lines."""

from __future__ import annotations

from pathlib import Path

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.local.provider import LocalProvider


class NotingProvider(LocalProvider):
    """The local provider, saying what a cloud that clamps retry policies would say."""

    def plan_notes(self, app: App, stage: str) -> list[str]:
        return [f"{spec.name}: {stage} clamps its retry policy" for spec in app.functions[:2]]


def test_plan_and_deploy_carry_the_provider_s_notes(shop_copy: Path, tmp_path: Path) -> None:
    provider = NotingProvider({"state_dir": str(tmp_path / "cloud")})
    app = load_app(shop_copy)
    expected = ["place_order-run: dev clamps its retry policy", "create_order: dev clamps its retry policy"]

    planned = pipeline.plan(provider, app, "dev")
    assert planned.notes == expected
    assert planned.to_dict()["notes"] == expected

    said: list[str] = []
    deployed = pipeline.deploy(provider, app, "dev", said.append)
    assert deployed.notes == expected
    assert [line.strip() for line in said if line.strip().startswith("!")] == [f"! {n}" for n in expected]


def test_a_provider_that_adjusts_nothing_says_nothing(shop_copy: Path, tmp_path: Path) -> None:
    outcome = pipeline.plan(LocalProvider({"state_dir": str(tmp_path / "cloud")}), load_app(shop_copy), "dev")
    assert outcome.notes == [] and "notes" not in outcome.to_dict()

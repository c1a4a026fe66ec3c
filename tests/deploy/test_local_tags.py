"""The app's tags on the local cloud: each record carries the user's tags beside the app and stage, a changed
tag is an update of every record, and a rerun changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.local.provider import LocalProvider


def with_tags(root: Path, original: str, app_tags: str, stage_tags: str = "") -> App:
    """The shop copy at `root` with `original` (its pyproject.toml as copied) holding `app_tags` (a TOML line) in
    `[tool.portable-fn]` and `stage_tags` in its stage dev's table, loaded again."""
    text = original.replace("[tool.portable-fn.defaults]", f"{app_tags}\n\n[tool.portable-fn.defaults]", 1)
    if stage_tags:
        text = text.replace("[tool.portable-fn.stages.dev]\n", f"[tool.portable-fn.stages.dev]\n{stage_tags}\n", 1)
    (root / "pyproject.toml").write_text(text)
    return load_app(root)


def records(cloud_dir: Path) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for path in cloud_dir.rglob("*.json"):
        data = json.loads(path.read_text())
        if isinstance(data, list):
            found += [r for r in data if isinstance(r, dict) and "kind" in r]
    return found


def test_tags_are_recorded_changed_in_place_and_a_rerun_is_no_change(shop_copy: Path, tmp_path: Path) -> None:
    cloud_dir = tmp_path / "local-cloud"
    provider = LocalProvider({"state_dir": str(cloud_dir)})
    original = (shop_copy / "pyproject.toml").read_text()
    app = with_tags(
        shop_copy, original, 'tags = { team = "payments", cost-center = "42" }', 'tags = { cost-center = "43" }'
    )
    pipeline.deploy(provider, app, "dev")
    found = records(cloud_dir)
    assert found and all(r["tags"] == {"app": "shop", "stage": "dev"} for r in found)
    assert {json.dumps(r["user_tags"], sort_keys=True) for r in found} == {'{"cost-center": "43", "team": "payments"}'}

    app = with_tags(shop_copy, original, 'tags = { team = "checkout" }')
    planned = pipeline.plan(provider, app, "dev").plan
    assert planned is not None
    assert {s.action for s in planned.steps} == {"update"} and len(planned.steps) == len(found)
    # the package holds pyproject.toml, so the functions' code changes with it
    assert {s.changes for s in planned.steps if s.resource.kind != "local function"} == {("tags",)}
    assert {s.changes for s in planned.steps if s.resource.kind == "local function"} == {("code_sha256", "tags")}
    pipeline.deploy(provider, app, "dev")
    assert {json.dumps(r["user_tags"]) for r in records(cloud_dir)} == {'{"team": "checkout"}'}
    assert pipeline.plan(provider, app, "dev").plan.empty  # type: ignore[union-attr]

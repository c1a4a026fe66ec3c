"""What every cloud's tag tests use to set the shop's tags, written once."""

from __future__ import annotations

from portable_fn.app import App, load_app

MARK = "  # set by test_tags"


def with_tags(shop: App, app_tags: str, stage_tags: str = "") -> App:
    """The shop's copy with `app_tags` (a TOML line) in `[tool.portable-fn]` and `stage_tags` in its stage dev's
    table, replacing what an earlier call set, loaded again."""
    pyproject = shop.root / "pyproject.toml"
    text = "".join(line for line in pyproject.read_text().splitlines(True) if not line.rstrip().endswith(MARK))
    text = text.replace("[tool.portable-fn.defaults]", f"{app_tags}{MARK}\n\n[tool.portable-fn.defaults]", 1)
    if stage_tags:
        stage = "[tool.portable-fn.stages.dev]\n"
        text = text.replace(stage, f"{stage}{stage_tags}{MARK}\n", 1)
    pyproject.write_text(text)
    return load_app(shop.root)

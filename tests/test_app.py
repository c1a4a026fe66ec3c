"""Loading apps: functions collected in order, mistakes reported with where and what next."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from portable_fn.app import load_app
from portable_fn.runtime.errors import AppLoadError


def test_shop_functions_are_collected_in_declaration_order(shop_dir: Path) -> None:
    app = load_app(shop_dir)
    assert [s.name for s in app.functions] == [
        "place_order-run",  # the workflow's runner: declared first, as create_order starts it
        "create_order",
        "get_order",
        "confirm_payment",
        "fulfil",
        "sweep",
        "nightly_report",
        "on_upload",
        "notify",
    ]
    assert app.function("fulfil").trigger.kind == "queue"


def test_defaults_fill_unset_options(shop_dir: Path) -> None:
    app = load_app(shop_dir)
    options = app.options(app.function("sweep"))
    assert options.memory_mb == 256 and options.timeout_s == 30


def test_unknown_function_lists_the_known_ones(shop_dir: Path) -> None:
    with pytest.raises(AppLoadError, match="has no function 'nope'.*create_order"):
        load_app(shop_dir).function("nope")


def test_a_bad_declaration_fails_loading_with_the_fix(apps: Path) -> None:
    expected = r"broken_handlers.py:4: .*batch_size must be an integer from 1 to 10 for a FIFO"
    with pytest.raises(AppLoadError, match=expected):
        load_app(apps / "broken_decl")


def test_an_app_without_functions_says_so(apps: Path) -> None:
    with pytest.raises(AppLoadError, match="declares no functions"):
        load_app(apps / "no_functions")


def test_two_functions_with_one_name_are_rejected(apps: Path) -> None:
    with pytest.raises(AppLoadError, match="Two functions are named 'handle'.*name='...'"):
        load_app(apps / "dupes")


def test_a_crashing_module_reports_the_exception_and_line(apps: Path) -> None:
    with pytest.raises(AppLoadError, match=r"raised KeyError: 'timeout' \(.*crashing_mod.py:2\)"):
        load_app(apps / "bad_import")


def test_a_missing_module_names_the_config_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.portable-fn]\napp = "ghost"\nmodules = ["ghost_functions"]\n')
    with pytest.raises(AppLoadError, match="tool.portable-fn.modules.*was not found"):
        load_app(tmp_path)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match="is not a directory"):
        load_app(tmp_path / "missing")


def test_defaults_architecture_applies_unless_the_function_sets_one(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.portable-fn]\napp = "arch-app"\nmodules = ["arch_functions"]\n'
        '[tool.portable-fn.defaults]\narchitecture = "arm64"\n'
    )
    (tmp_path / "arch_functions.py").write_text(
        "from portable_fn import function, topic\n\n\n"
        "@function(trigger=topic('a'))\ndef inherits(event):\n    pass\n\n\n"
        "@function(trigger=topic('b'), architecture='x86_64')\ndef overrides(event):\n    pass\n"
    )
    app = load_app(tmp_path)
    assert app.options(app.function("inherits")).architecture == "arm64"
    assert app.options(app.function("overrides")).architecture == "x86_64"


def test_apps_with_a_module_of_the_same_name_load_their_own_module_each_time(tmp_path: Path) -> None:
    """Loading A, then B (same module name, another directory), then A again gives A's functions: A's
    directory goes first on sys.path again, not only the first time."""
    for app, function in (("one", "first"), ("two", "second")):
        root = tmp_path / app
        root.mkdir()
        (root / "pyproject.toml").write_text(f'[tool.portable-fn]\napp = "{app}-app"\nmodules = ["same_name"]\n')
        (root / "same_name.py").write_text(
            "from portable_fn import function, queue\n\n"
            f"@function(trigger=queue('jobs'))\ndef {function}(event):\n    pass\n"
        )
    names = [[spec.name for spec in load_app(tmp_path / app).functions] for app in ("one", "two", "one")]
    assert names == [["first"], ["second"], ["first"]]


def test_loading_for_a_stage_imports_under_its_env_and_restores_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a module reads from its environment when imported is what the stage's functions will see on a
    cloud (defaults.env < the stage's env), and the process gets its own environment back."""
    app = tmp_path / "staged"
    (app / "staged_fns").mkdir(parents=True)
    (app / "pyproject.toml").write_text(
        '[tool.portable-fn]\napp = "staged"\nmodules = ["staged_fns.api"]\n'
        '[tool.portable-fn.defaults]\nenv = { ISSUER = "https://default.example/", REGION_HINT = "eu" }\n'
        "[tool.portable-fn.stages.dev]\n"
        '[tool.portable-fn.stages.prod]\nenv = { ISSUER = "https://prod.example/" }\n'
    )
    (app / "staged_fns" / "__init__.py").write_text("")
    (app / "staged_fns" / "api.py").write_text(
        "import os\nfrom portable_fn import function, http\n\n"
        "SEEN = (os.environ.get('ISSUER'), os.environ.get('REGION_HINT'))\n\n"
        "@function(trigger=http('GET', '/'))\ndef home() -> dict:\n    return {}\n"
    )
    monkeypatch.setenv("ISSUER", "from-the-shell")
    monkeypatch.delenv("REGION_HINT", raising=False)
    loaded = load_app(app, "prod")
    assert sys.modules["staged_fns.api"].SEEN == ("https://prod.example/", "eu")
    assert loaded.function("home").name == "home"
    assert (os.environ["ISSUER"], os.environ.get("REGION_HINT")) == ("from-the-shell", None)

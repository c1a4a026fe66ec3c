"""Shared pieces of the Azure shim tests: the apps, their generated `function_app.py` imported as the
Functions host imports it, and real `azure.functions` objects (a host Context, an `Out` binding)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from portable_fn_azure.codegen import function_app_source as generate_function_app

from portable_fn.app import App, load_app

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DATA = REPO / "tests" / "data" / "azure"
EVERY = HERE / "apps" / "every_trigger"


def import_function_app(app: App, directory: Path) -> ModuleType:
    """Write the app's function_app.py into `directory` and import it under a name of its own."""
    path = directory / "function_app.py"
    path.write_text(generate_function_app(app), encoding="utf-8")
    name = f"function_app_{app.name}_{abs(hash(directory))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def every_app() -> App:
    return load_app(EVERY)


@pytest.fixture(scope="session")
def shop_app() -> App:
    return load_app(REPO / "samples" / "shop")


@pytest.fixture
def every_module() -> ModuleType:
    import every_trigger

    every_trigger.SEEN.clear()
    return every_trigger


@pytest.fixture
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[App], dict[str, Any]]:
    """The functions of an app's generated function_app.py as the host indexes them, by name."""

    def index(app: App) -> dict[str, Any]:
        module = import_function_app(app, tmp_path_factory.mktemp(app.name))
        return {fn.get_function_name(): fn for fn in module.app.get_functions()}

    return index

"""The public facades: `__all__` of `portable_fn` and `portable_fn.runtime` lists exactly what they export."""

from __future__ import annotations
import __future__

import types
from typing import Any

import pytest

import portable_fn
import portable_fn.runtime


def _isort_key(name: str) -> tuple[int, str]:
    """CONSTANTS, then Classes, then functions, each alphabetical (ruff's RUF022 style)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def _public_members(module: types.ModuleType) -> set[str]:
    """Names the module binds on purpose: not private, not submodules, not `from __future__` flags."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    }


@pytest.mark.parametrize("module", [portable_fn, portable_fn.runtime], ids=lambda m: m.__name__)
def test_all_imports_are_exported(module: types.ModuleType) -> None:
    lazy = set(getattr(module, "_LAZY", ()))  # resolved on first use by the module's __getattr__
    assert set(module.__all__) == _public_members(module) | lazy
    assert len(module.__all__) == len(set(module.__all__)), "duplicates in __all__"
    assert module.__all__ == sorted(module.__all__, key=_isort_key)


@pytest.mark.parametrize("module", [portable_fn, portable_fn.runtime], ids=lambda m: m.__name__)
def test_every_exported_name_resolves(module: types.ModuleType) -> None:
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_the_facade_re_exports_the_runtime_objects_themselves() -> None:
    import portable_fn.runtime.workflow as engine

    for name in portable_fn.__all__:
        home = engine if name in portable_fn._LAZY else portable_fn.runtime
        assert getattr(portable_fn, name) is getattr(home, name), name


@pytest.mark.slow  # imports in a fresh interpreter
def test_workflows_are_not_imported_by_the_runtime_a_function_loads() -> None:
    import subprocess
    import sys

    code = "import sys, portable_fn; print('portable_fn.runtime.workflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_user_names_from_the_design_are_importable_from_portable_fn() -> None:
    user_names = {
        "function",
        "http",
        "queue",
        "topic",
        "schedule",
        "cron",
        "storage",
        "CloudEvent",
        "Request",
        "Response",
        "Context",
        "Retry",
        "DeadLetter",
        "StorageObject",
        "ScheduleTick",
        "state",
        "State",
        "Item",
        "StateError",
        "KeyExistsError",
        "VersionConflictError",
        "UndeclaredResourceError",
        "RetryPolicy",
        "exponential",
        "fixed",
        "idempotent",
        "breaker",
        "CircuitOpenError",
        "workflow",
        "Workflow",
        "start_workflow",
        "send_event",
        "step_key",
    }
    assert user_names <= set(portable_fn.__all__)


def test_exported_names_are_not_shadowed_by_submodules() -> None:
    # `portable_fn.runtime.http` is also a submodule name: the package must bind the trigger function,
    # not the module. (The schedule parser lives in `timing` so that importing it lazily, when an app
    # declares a schedule, cannot rebind `runtime.schedule` to a module.)
    from portable_fn.runtime import timing  # noqa: F401  (as a schedule declaration would)

    runtime: Any = portable_fn.runtime
    assert callable(runtime.http) and not isinstance(runtime.http, types.ModuleType)
    assert callable(runtime.schedule) and not isinstance(runtime.schedule, types.ModuleType)
    assert callable(runtime.function) and not isinstance(runtime.function, types.ModuleType)
    # `state` is also the module of the State API: `runtime.state` is the declaring function.
    from portable_fn.runtime import state_sqlite  # noqa: F401  (as the local backend's first use would)

    assert callable(runtime.state) and not isinstance(runtime.state, types.ModuleType)
    assert callable(runtime.breaker) and not isinstance(runtime.breaker, types.ModuleType)


def test_version() -> None:
    assert isinstance(portable_fn.__version__, str) and portable_fn.__version__.count(".") == 2

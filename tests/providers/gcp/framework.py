"""functions-framework's own flask app for a generated main.py, as its command builds it (shared by the tests
that serve it in process: conftest's `served`, test_shim_routing)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_FRAMEWORK_ENV = ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE")


def framework_app(target: str, main: Path) -> Any:
    """functions-framework's flask app for `target` of `main`, as its command builds it."""
    import functions_framework

    saved = {name: os.environ.get(name) for name in _FRAMEWORK_ENV}
    try:
        return functions_framework.create_app(target, str(main))
    finally:  # create_app records the target and signature type in the environment
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

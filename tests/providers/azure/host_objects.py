"""What the Azure Functions Python worker hands a function besides its input, for tests that call the
generated `function_app.py` functions directly: the invocation `Context` and an output binding (`Out`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import azure.functions as func


class HostContext(func.Context):
    """The worker's Context for function `name` (the shim reads the invocation id and the function name)."""

    def __init__(self, name: str = "f") -> None:
        self._name = name

    invocation_id = property(lambda self: "inv")
    function_name = property(lambda self: self._name)
    function_directory = property(lambda self: "/home/site/wwwroot")
    trace_context = property(lambda self: None)
    retry_context = property(lambda self: None)
    thread_local_storage = property(lambda self: None)


class Captured(func.Out):  # type: ignore[type-arg]
    """An output binding (the poison queue's): keeps what the function sets."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, val: Any) -> None:
        self.value = val

    def get(self) -> Any:
        return self.value


def with_dead_letters(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """`args` and a fresh `Out` for the function's dead-letter binding (`dead`), as the worker passes one,
    when the caller gave only the trigger's object."""
    if len(args) == 1 and "dead" in inspect.signature(function).parameters:
        return (*args, Captured())
    return args

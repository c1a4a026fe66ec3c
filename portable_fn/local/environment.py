"""The environment variables a handler sees locally: the same `env` settings the clouds get.

On a cloud each function's variables are `[tool.portable-fn.defaults] env` < the stage's `env` < the
function's own `env=` < portable-fn's own (`PORTABLE_FN_APP`, `PORTABLE_FN_STAGE`,
`PORTABLE_FN_FUNCTION`, `PORTABLE_FN_PROVIDER`, and `AppConfig.runtime_env`: `PORTABLE_FN_MAX_HOPS`).

- `portable-fn invoke --provider local` runs one function: it sees exactly that, with
  `PORTABLE_FN_PROVIDER=local`, for the duration of the call.
- `portable-fn dev` runs every function in one process, as one Azure function app does, so the process
  has one environment: defaults < stage < every function's own `env` < portable-fn's own (no
  `PORTABLE_FN_FUNCTION`), set when the host starts and taken back when it stops. Two functions that set
  one variable to different values cannot both be served that way: dev refuses to start and names them
  (the Azure provider refuses the same app for the same reason).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING

from ..runtime.errors import ConfigError
from ..runtime.function import FunctionSpec

if TYPE_CHECKING:
    from ..app import App

PROVIDER = "local"


def stage_env(app: App, stage: str) -> dict[str, str]:
    """`defaults.env` < the stage's `env`."""
    config = app.config
    declared = config.stages.get(stage)
    return {**config.defaults.env, **(declared.env if declared else {})}


def function_env(app: App, spec: FunctionSpec, stage: str) -> dict[str, str]:
    """What one function sees on a cloud, for `invoke --provider local`."""
    return {**stage_env(app, stage), **spec.options.env, **_own(app, stage), "PORTABLE_FN_FUNCTION": spec.name}


def dev_env(app: App, stage: str) -> dict[str, str]:
    """The one environment of a dev host serving every function; ConfigError when two functions
    disagree on a variable."""
    merged = stage_env(app, stage)
    owner: dict[str, str] = {}
    for spec in app.functions:
        for name, value in spec.options.env.items():
            if name in owner and merged[name] != value:
                raise ConfigError(
                    f"Functions {owner[name]!r} and {spec.name!r} set env {name!r} to different values "
                    f"({merged[name]!r} and {value!r}), but `portable-fn dev` runs every function in one "
                    "process with one environment. Use one value, or two variable names, or try each "
                    "function alone with `portable-fn invoke --provider local`."
                )
            owner[name] = spec.name
            merged[name] = value
    return {**merged, **_own(app, stage)}


def _own(app: App, stage: str) -> dict[str, str]:
    own = {"PORTABLE_FN_APP": app.name, "PORTABLE_FN_STAGE": stage, "PORTABLE_FN_PROVIDER": PROVIDER}
    return {**app.config.runtime_env(), **own}


class ProcessEnv:
    """Variables set in the process environment (`apply`) and taken back as they were (`restore`)."""

    def __init__(self, values: Mapping[str, str], environ: MutableMapping[str, str] | None = None) -> None:
        self.values = dict(values)
        self.environ = os.environ if environ is None else environ
        self._before: dict[str, str | None] | None = None

    def apply(self) -> None:
        if self._before is None:
            self._before = {name: self.environ.get(name) for name in self.values}
            self.environ.update(self.values)

    def restore(self) -> None:
        before, self._before = self._before, None
        for name, value in (before or {}).items():
            if value is None:
                self.environ.pop(name, None)
            else:
                self.environ[name] = value

    def __enter__(self) -> ProcessEnv:
        self.apply()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

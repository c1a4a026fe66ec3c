"""The app's settings: `[tool.portable-fn]` in its `pyproject.toml`, validated with pydantic.

Every error names the file and the key, and says what a valid value looks like::

    [tool.portable-fn]
    app = "shop"                      # lowercase, digits and '-'; names every cloud resource
    modules = ["shop.functions"]      # modules holding the @function handlers
    python = "3.11"
    [tool.portable-fn.defaults]       # options applied to every function unless it sets its own
    memory_mb = 256
    [tool.portable-fn.aws]            # per-provider settings (free-form, checked by each provider)
    region = "eu-west-1"
    [tool.portable-fn.stages.prod]    # a stage may override provider settings and environment
    env = { LOG_LEVEL = "info" }
    aws = { region = "eu-central-1" }
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .runtime.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_STAGE = "dev"


class Defaults(BaseModel):
    """Function options applied when a function does not set its own."""

    model_config = ConfigDict(extra="forbid")
    memory_mb: int | None = Field(default=None, ge=128, le=32768)
    timeout_s: float | None = Field(default=None, ge=1, le=3600)
    architecture: str | None = Field(default=None, pattern=r"^(x86_64|arm64)$")
    retries: int | None = Field(default=None, ge=0, le=100)
    env: dict[str, str] = Field(default_factory=dict)


class StageConfig(BaseModel):
    """Overrides for one stage (dev, prod, ...)."""

    model_config = ConfigDict(extra="forbid")
    env: dict[str, str] = Field(default_factory=dict)
    local: dict[str, Any] = Field(default_factory=dict)
    aws: dict[str, Any] = Field(default_factory=dict)
    gcp: dict[str, Any] = Field(default_factory=dict)
    azure: dict[str, Any] = Field(default_factory=dict)


class AppConfig(BaseModel):
    """`[tool.portable-fn]`."""

    model_config = ConfigDict(extra="forbid")
    app: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
    modules: list[str] = Field(min_length=1)
    python: str = "3.11"
    source: str = "."
    requirements: str | None = None
    # globs (relative to the app's source directory) of files to ship on purpose / to leave out
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)
    stages: dict[str, StageConfig] = Field(default_factory=lambda: {DEFAULT_STAGE: StageConfig()})
    local: dict[str, Any] = Field(default_factory=dict)
    aws: dict[str, Any] = Field(default_factory=dict)
    gcp: dict[str, Any] = Field(default_factory=dict)
    azure: dict[str, Any] = Field(default_factory=dict)

    @field_validator("python")
    @classmethod
    def _python(cls, value: str) -> str:
        if value not in PYTHON_VERSIONS:
            raise ValueError(f"use one of {', '.join(PYTHON_VERSIONS)}")
        return value

    @field_validator("modules")
    @classmethod
    def _modules(cls, value: list[str]) -> list[str]:
        for name in value:
            if not all(part.isidentifier() for part in name.split(".")):
                raise ValueError(f"{name!r} is not a dotted module name like 'shop.functions'")
        return value

    def provider_settings(self, provider: str, stage: str) -> dict[str, Any]:
        """The provider's table with the stage's overrides applied."""
        merged = dict(getattr(self, provider, {}) or {})
        stage_cfg = self.stages.get(stage)
        if stage_cfg is not None:
            merged.update(getattr(stage_cfg, provider, {}) or {})
        return merged

    def check_stage(self, stage: str, path: Path) -> None:
        """Raise a ConfigError when `stage` is not declared."""
        if stage not in self.stages:
            raise ConfigError(
                f"{path}: stage {stage!r} is not declared; declared stages are "
                f"{sorted(self.stages)}. Add [tool.portable-fn.stages.{stage}] or pass --stage "
                f"{sorted(self.stages)[0]}."
            )


def load_config(app_dir: Path) -> AppConfig:
    """Read and validate `[tool.portable-fn]` from `app_dir/pyproject.toml`."""
    path = app_dir / "pyproject.toml"
    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist: an app is a directory with a pyproject.toml holding "
            "[tool.portable-fn]. Run `portable-fn init NAME` to create one."
        )
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    table = document.get("tool", {}).get("portable-fn")
    if table is None:
        raise ConfigError(
            f"{path} has no [tool.portable-fn] table; add one with at least `app = \"my-app\"` and "
            "`modules = [\"main\"]`."
        )
    try:
        return AppConfig.model_validate(table)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from None


def _describe(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: [tool.portable-fn] is invalid:"]
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; see the README for the valid keys)"
        elif error["type"] == "string_pattern_mismatch" and key == "app":
            message = "use 3-32 lowercase letters, digits and '-', starting with a letter"
        lines.append(f"  tool.portable-fn.{key}: {message}")
    return "\n".join(lines)

"""The app's settings: `[tool.portable-fn]` in its `pyproject.toml`, validated with pydantic.

Every error names the file and the key, and says what a valid value looks like::

    [tool.portable-fn]
    app = "shop"                      # lowercase, digits and '-'; names every cloud resource
    modules = ["shop.functions"]      # modules holding the @function handlers
    python = "3.11"
    max_hops = 16                     # functions an emitted event may pass through (a loop is dead-lettered)
    [tool.portable-fn.defaults]       # options applied to every function unless it sets its own
    memory_mb = 256
    [tool.portable-fn.aws]            # per-provider settings, checked by the provider's settings model
    region = "eu-west-1"
    [tool.portable-fn.stages.prod]    # a stage may override provider settings and environment
    protected = true                  # remove, and deploys that delete or replace, ask first (or --yes)
    env = { LOG_LEVEL = "info" }
    aws = { region = "eu-central-1" }
"""

from __future__ import annotations

import difflib
import re
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .policy.settings import PolicyConfig
from .runtime.errors import ConfigError, UnknownStageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_STAGE = "dev"
PROVIDER_TABLES = ("local", "aws", "gcp", "azure")
S = TypeVar("S", bound=BaseModel)  # a provider's settings model
APP_NAME_RULE = "3-32 lowercase letters, digits and '-', starting with a letter and not ending with '-'"
STAGE_NAME_RULE = "1-16 lowercase letters, digits and '-', starting with a letter and not ending with '-'"
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")
AUDIT_TAG_PREFIX = "pfn-audit-"  # tags the audit trail writes outside any plan
RESERVED_TAG_PREFIXES = ("portable-fn", AUDIT_TAG_PREFIX)  # portable-fn's own tag and label keys start so


class Defaults(BaseModel):
    """Function options applied when a function does not set its own."""

    model_config = ConfigDict(extra="forbid")
    memory_mb: int | None = Field(default=None, ge=128, le=32768)
    timeout_s: float | None = Field(default=None, ge=1, le=3600)
    architecture: Literal["x86_64", "arm64"] | None = None
    retries: int | None = Field(default=None, ge=0, le=100)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return env_table(value)


def env_table(value: dict[str, str]) -> dict[str, str]:
    """An `env` table: names a process environment can hold (letters, digits and _, not starting with a
    digit), values without NUL (which no environment holds: every command failed with a traceback)."""
    for name, text in value.items():
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not an environment variable name; use letters, digits and _, not starting with a "
                "digit (MY_SETTING)"
            )
        if "\0" in text:
            raise ValueError(f"the value of {name} holds a NUL character, which no environment variable can hold")
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class StageConfig(BaseModel):
    """Overrides for one stage (dev, prod, ...)."""

    model_config = ConfigDict(extra="forbid")
    protected: bool = False  # `remove`, and a deploy that deletes or replaces, ask first (or need --yes)
    env: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)  # over the app's tags, key by key
    local: dict[str, Any] = Field(default_factory=dict)
    aws: dict[str, Any] = Field(default_factory=dict)
    gcp: dict[str, Any] = Field(default_factory=dict)
    azure: dict[str, Any] = Field(default_factory=dict)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return env_table(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        return own_tags(value)


def own_tags(tags: dict[str, str]) -> dict[str, str]:
    """`tags` when no key is one of portable-fn's own (`RESERVED_TAG_PREFIXES`); the cloud's own rules are
    checked by each provider when it plans (`portable_fn.deploy.tags`)."""
    for key in tags:
        if key.lower().startswith(RESERVED_TAG_PREFIXES):
            raise ValueError(
                f"tag {key!r} collides with portable-fn's own tags (keys starting with "
                f"{' or '.join(repr(p) for p in RESERVED_TAG_PREFIXES)} are reserved): rename it"
            )
    return tags


CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*")


class CorsConfig(BaseModel):
    """`[tool.portable-fn.cors]`: which browser origins may call the app's HTTP functions (`runtime.cors`)."""

    model_config = ConfigDict(extra="forbid")
    allow_origins: list[str] = Field(min_length=1)  # "https://app.example.com", or "*" (without credentials)
    allow_methods: list[str] = Field(default_factory=lambda: ["*"])  # "*": the method a preflight asks for
    allow_headers: list[str] = Field(default_factory=lambda: ["*"])  # "*": the headers a preflight asks for
    expose_headers: list[str] = Field(default_factory=list)
    max_age: int | None = Field(default=None, ge=0, le=86400)  # seconds a browser may keep a preflight's answer
    allow_credentials: bool = False

    @field_validator("allow_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            scheme, _, rest = origin.partition("://")
            if origin != "*" and (scheme not in ("http", "https") or not rest or "/" in rest or rest != rest.strip()):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme and host (and port), like 'https://app.example.com', "
                    "with no path, or '*'"
                )
        return value

    @field_validator("allow_methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        for method in value:
            if method.upper() not in CORS_METHODS:
                raise ValueError(f"{method!r} is not an HTTP method; use {', '.join(CORS_METHODS)}")
        return [m.upper() for m in value]

    @model_validator(mode="after")
    def _credentials(self) -> CorsConfig:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError(
                "allow_origins = ['*'] cannot go with allow_credentials = true (browsers refuse it): list the origins"
            )
        return self


class AppConfig(BaseModel):
    """`[tool.portable-fn]`."""

    model_config = ConfigDict(extra="forbid")
    app: str
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
    # how many functions an emitted event may pass through before it is dead-lettered as a loop (runtime
    # default 16, `runtime.emit.DEFAULT_MAX_HOPS`)
    max_hops: int | None = Field(default=None, ge=1, le=1000)
    # tags (labels on GCP) put on every resource the app deploys, beside portable-fn's own
    tags: dict[str, str] = Field(default_factory=dict)
    # expected traffic per function, for `portable-fn cost` (read by `portable_fn.cost`)
    traffic: dict[str, Any] = Field(default_factory=dict)
    # the team's rules and waivers, for `portable-fn check`, `plan` and `deploy` (read by `portable_fn.policy`)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    # which browser origins may call the HTTP functions; carried to them as PORTABLE_FN_CORS (`runtime.cors`)
    cors: CorsConfig | None = None

    @field_validator("app")
    @classmethod
    def _app(cls, value: str) -> str:
        if not (
            3 <= len(value) <= 32
            and value[0].isascii()
            and value[0].islower()
            and value[-1] != "-"
            and all(c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in value)
        ):
            raise ValueError(f"{value!r} is not a valid app name: use {APP_NAME_RULE} (it names every cloud resource)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        return own_tags(value)

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: dict[str, StageConfig]) -> dict[str, StageConfig]:
        for name in value:
            if not _STAGE_NAME.fullmatch(name) or name.endswith("-"):
                raise ValueError(
                    f"{name!r} is not a valid stage name: use {STAGE_NAME_RULE} (it names every cloud resource, "
                    "after the app's name)"
                )
        return value

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

    def runtime_env(self) -> dict[str, str]:
        """The settings every function reads from its environment (`PORTABLE_FN_MAX_HOPS`), for deploy and
        the local host to add to each function's env (`PORTABLE_FN_CORS`: the CORS policy as JSON); empty
        while they are left at their defaults."""
        env = {} if self.max_hops is None else {"PORTABLE_FN_MAX_HOPS": str(self.max_hops)}
        if self.cors is not None:
            env["PORTABLE_FN_CORS"] = self.cors.model_dump_json()
        return env

    def check_stage(self, stage: str, path: Path) -> None:
        """Raise an UnknownStageError when `stage` is not declared."""
        if stage not in self.stages:
            raise UnknownStageError(
                f"{path}: stage {stage!r} is not declared; declared stages are "
                f"{sorted(self.stages)}. Add [tool.portable-fn.stages.{stage}] or pass --stage "
                f"{sorted(self.stages)[0]}."
            )

    def check_provider_settings(self, models: Mapping[str, type[BaseModel]], path: Path) -> None:
        """Validate each provider's table, and each stage's, against that provider's settings model
        (providers not installed are not checked); every problem is listed, each with its key."""
        lines: list[str] = []
        for provider, model in models.items():
            tables = [(f"tool.portable-fn.{provider}", getattr(self, provider, None) or {})]
            tables += [
                (f"tool.portable-fn.stages.{name}.{provider}", getattr(stage, provider, None) or {})
                for name, stage in self.stages.items()
            ]
            for where, table in tables:
                try:
                    model.model_validate(table)
                except ValidationError as exc:
                    lines += _problems(where, exc, model)
        if lines:
            raise ConfigError("\n".join([f"{path}: provider settings are invalid:", *lines]))


class ProviderSettings(BaseModel):
    """The base of every provider's settings model (`Provider.settings_model`): unknown keys are errors and
    values are taken as written, never converted ("5" is not 5)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def parse_settings(model: type[BaseModel], settings: Mapping[str, Any], where: str) -> dict[str, Any]:
    """`settings` checked against `model`: the keys given, validated (a ConfigError lists what is wrong)."""
    return typed_settings(model, settings, where).model_dump(exclude_unset=True)


def typed_settings(model: type[S], settings: S | Mapping[str, Any] | None, where: str) -> S:
    """`settings` as an instance of `model`, every default filled in, for code that reads them as attributes
    (`settings.region`); an instance passes as it is, a mapping is validated (a ConfigError lists what is wrong)."""
    if isinstance(settings, model):
        return settings
    try:
        return model.model_validate(dict(settings or {}))
    except ValidationError as exc:
        raise ConfigError("\n".join([f"[{where}] is invalid:", *_problems(where, exc, model)])) from None


def load_config(app_dir: Path, settings_models: Mapping[str, type[BaseModel]] | None = None) -> AppConfig:
    """Read and validate `[tool.portable-fn]` from `app_dir/pyproject.toml`, provider tables included
    (against `settings_models`, by default those of every installed provider)."""
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
    tool = document.get("tool")
    table = tool.get("portable-fn") if isinstance(tool, dict) else None
    if table is None:
        raise ConfigError(_no_table(path, document))
    try:
        config = AppConfig.model_validate(table)
    except ValidationError as exc:
        raise ConfigError(
            "\n".join([f"{path}: [tool.portable-fn] is invalid:", *_problems("tool.portable-fn", exc, AppConfig)])
        ) from None
    _check_source(config, app_dir, path)
    if settings_models is None:
        from .provider import settings_models as installed

        settings_models = installed()
    config.check_provider_settings(settings_models, path)
    return config


def _check_source(config: AppConfig, app_dir: Path, path: Path) -> None:
    """A ConfigError when `source` lies outside the app's directory: `source = ".."`, an absolute path or a link to
    one would make packaging ship whatever is there (a home directory, its keys with it), and `dev` import and
    watch it."""
    root = app_dir.resolve()
    found = (app_dir / config.source).resolve()
    if not found.is_relative_to(root):
        raise ConfigError(
            f"{path}: source = {config.source!r} under [tool.portable-fn] is {found}, outside the app's directory "
            f"{root}; packaging ships what lies under `source`, so nothing was loaded. Set `source` to a folder "
            'inside the app\'s directory ("." or "src"), or move pyproject.toml to the folder that holds the code.'
        )


def _no_table(path: Path, document: dict[str, Any]) -> str:
    """No [tool.portable-fn]: name a table that looks like a misspelling of it, if there is one."""
    found = [key for key, value in document.items() if isinstance(value, dict)]
    found += [
        f"{key}.{sub}"
        for key, value in document.items()
        if isinstance(value, dict)
        for sub, inner in value.items()
        if isinstance(inner, dict)
    ]
    wanted = "tool.portable-fn"
    close = difflib.get_close_matches(wanted, [_plain(name) for name in found], n=1, cutoff=0.75)
    if close:
        similar = next(name for name in found if _plain(name) == close[0])
        return (
            f"{path} has no [tool.portable-fn] table, but it has [{similar}]: rename that to "
            "[tool.portable-fn] (with the hyphen; its sub-tables too, like [tool.portable-fn.aws])."
        )
    return f'{path} has no [tool.portable-fn] table; add one with at least `app = "my-app"` and `modules = ["main"]`.'


def _plain(name: str) -> str:
    return name.lower().replace("_", "-")


# -- error messages: what is wrong and what is allowed, never pydantic's wording or a regular expression --

_SAYS = {
    "missing": "is required",
    "string_type": "must be a string (in quotes)",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number (inf, nan and numbers past 1e308 are not)",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": 'must be a table, like { key = "value" }',
    "list_type": 'must be a list, like ["a", "b"]',
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
}

_BOUNDS = {
    "greater_than_equal": "must be {} or more",
    "greater_than": "must be more than {}",
    "less_than_equal": "must be {} or less",
    "less_than": "must be less than {}",
}


def _problems(where: str, exc: ValidationError, model: type[BaseModel]) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        lines.append(f"  {'.'.join([where, *loc])}: {_says(error, _owner(model, loc[:-1]))}")
    return lines


def _says(error: Any, owner: type[BaseModel] | None) -> str:
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(str(error["loc"][-1]), owner)
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"use {ctx['expected']}, not {_shown(given)}"
    if kind in _BOUNDS:
        return f"{_BOUNDS[kind].format(next(iter(ctx.values()), ''))}, not {_shown(given)}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} item(s)"
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} item(s)"
    if kind == "string_pattern_mismatch":
        return f"{_shown(given)} has characters that are not allowed here"
    if kind in _SAYS:
        return _SAYS[kind] if kind == "missing" else f"{_SAYS[kind]}, not {_shown(given)}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _shown(value: Any) -> str:
    """A setting's value as an error repeats it: shortened, and never a credential typed into the wrong key (a
    connection string with its AccountKey where a choice of words was asked for)."""
    from .packaging import credential_in

    if isinstance(value, str) and credential_in(value.encode("utf-8", "replace")) is not None:
        return "a value that looks like a credential (not repeated here)"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown_key(key: str, owner: type[BaseModel] | None) -> str:
    valid = sorted(owner.model_fields) if owner is not None else []
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = f" Valid keys: {', '.join(valid)}." if valid else ""
    return f"unknown key{(hint or '.') if listed else hint}{listed}"


def _owner(model: type[BaseModel], loc: list[str]) -> type[BaseModel] | None:
    """The model that holds the last part of `loc` (through nested models and maps of models)."""
    current: Any = model
    parts = iter(loc)
    for part in parts:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        annotation = _unwrap(current.model_fields[part].annotation)
        if typing.get_origin(annotation) in (dict, Mapping):
            next(parts, None)  # the map's key (a stage's name)
            annotation = _unwrap(typing.get_args(annotation)[1])
        current = annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation

"""`[tool.portable-fn.policy]`: the team's bounds, lists, own rules and waivers, validated with pydantic.

Unknown keys are errors, as everywhere in `[tool.portable-fn]`::

    [tool.portable-fn.policy]
    memory_mb = { min = 128, max = 1024 }
    timeout_s = { max = 60 }
    required_tags = ["team", "cost-center"]
    allowed_regions = ["eu-west-1", "europe-west1", "westeurope"]
    python = ["3.11", "3.12"]
    public_functions = ["place_order"]     # the HTTP functions that may be open to anyone
    disable = ["PFN005"]                   # rule ids or names
    rules = ["shop_policies:no_big_memory"]
    [[tool.portable-fn.policy.waivers]]
    rule = "PFN003"
    function = "charge"
    reason = "test-mode key, rotated daily"

This module imports pydantic only: `portable_fn.config` uses it for the `policy` field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Bounds(BaseModel):
    """The smallest and largest value allowed (either may be left out)."""

    model_config = ConfigDict(extra="forbid")
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is larger than max ({self.max:g})")
        return self

    def describe(self) -> str:
        """ "from 128 to 1024", "at most 60", "at least 256"."""
        if self.min is not None and self.max is not None:
            return f"from {self.min:g} to {self.max:g}"
        return f"at most {self.max:g}" if self.max is not None else f"at least {self.min:g}"

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Waiver(BaseModel):
    """A finding the team accepts: of `rule` (id or name), for `function` (every function when left out),
    with the `reason`, which reports and the audit record show."""

    model_config = ConfigDict(extra="forbid")
    rule: str = Field(min_length=1)
    function: str | None = None
    reason: str

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say why the finding is accepted (a waiver without a reason is not allowed)")
        return value.strip()


class PolicyConfig(BaseModel):
    """`[tool.portable-fn.policy]`; every key is optional and an unset key checks nothing more."""

    model_config = ConfigDict(extra="forbid")
    memory_mb: Bounds | None = None
    timeout_s: Bounds | None = None
    required_tags: list[str] = Field(default_factory=list)
    allowed_regions: list[str] = Field(default_factory=list)
    python: list[str] = Field(default_factory=list)  # the supported Python versions; empty: any portable-fn supports
    public_functions: list[str] | None = None  # None: any HTTP function may declare public=True
    disable: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _rules(cls, value: list[str]) -> list[str]:
        for ref in value:
            module, _, name = ref.partition(":")
            if not name or not all(p.isidentifier() for p in [*module.split("."), *name.split(".")]):
                raise ValueError(f"{ref!r} is not a rule reference like 'mypkg.policies:no_big_memory'")
        return value

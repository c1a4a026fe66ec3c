"""The traffic an app expects, from `[tool.portable-fn.traffic]`: what `portable-fn cost` prices.

One table per function, and a `default` one for the functions not named::

    [tool.portable-fn.traffic.default]
    invocations = 100000          # a month
    duration_ms = 120             # mean
    payload_kb = 2                # mean request / message size
    [tool.portable-fn.traffic.create_order]
    invocations = 300000
    duration_ms = 250
    state_reads = 1               # per invocation, of each state the function uses (default: 1)
    state_writes = 2              # per invocation, of each state it writes (default: 1)

A scheduled function nobody names runs as often as its schedule says; any other function nobody names, with
no `default`, is estimated at no traffic (and the estimate says which).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field

from ..config import ProviderSettings, typed_settings
from ..runtime.errors import ConfigError

DEFAULT = "default"


class FunctionTraffic(ProviderSettings):
    """The expected traffic of one function (or of every function not named, as `default`)."""

    invocations: int = Field(ge=0)
    duration_ms: float = Field(default=100, gt=0)
    payload_kb: float = Field(default=1, ge=0)
    state_reads: float | None = Field(default=None, ge=0)
    state_writes: float | None = Field(default=None, ge=0)

    @property
    def duration_s(self) -> Decimal:
        return Decimal(str(self.duration_ms)) / 1000

    @property
    def payload_bytes(self) -> int:
        return int(Decimal(str(self.payload_kb)) * 1024)


def read_traffic(table: Mapping[str, Any], functions: list[str], where: str) -> dict[str, FunctionTraffic]:
    """`[tool.portable-fn.traffic]` validated: each entry checked, and each name one of `functions` (or
    `default`); a ConfigError names what is wrong and what the app has."""
    unknown = sorted(name for name in table if name != DEFAULT and name not in functions)
    if unknown:
        raise ConfigError(
            f"{where}: [tool.portable-fn.traffic] names {', '.join(repr(n) for n in unknown)}, which "
            f"{'is not a function' if len(unknown) == 1 else 'are not functions'} of this app; its functions are "
            f"{', '.join(functions)}. Rename the table to one of them, or to `default` for every function not named."
        )
    for name, entry in table.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"{where}: tool.portable-fn.traffic.{name} must be a table, like "
                f"[tool.portable-fn.traffic.{name}] with `invocations = 100000`, not {entry!r}."
            )
    try:
        return {
            name: typed_settings(FunctionTraffic, entry, f"tool.portable-fn.traffic.{name}")
            for name, entry in table.items()
        }
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None

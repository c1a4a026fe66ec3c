"""What one cloud made of one logical event: what the handlers saw and the answer the cloud acts on.

Every cloud's runner returns a `Delivery`; `CannotCarry` says a cloud has no way to deliver the event at
all (it must then be listed in `differences.NOT_CARRIED`, with the reason). A cloud that can bring the same
event to the function another way (AWS's HTTP API beside Function URLs, Azure's Service Bus beside Storage
Queues) names that delivery path: its delivery is compared as `<cloud>:<path>`, a cloud of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .events import LogicalEvent


class CannotCarry(Exception):
    """The cloud cannot deliver this logical event (say why)."""


@dataclass
class Delivery:
    """`seen`: the probe's SEEN entries, in order. `outcomes`: per message of the logical event, in its
    order, what the cloud's native answer means ("ack", "retry" or "dead-letter"). `letters`: the dead
    letters written, as {"id", "data", "reason", "function", "attempt"}. HTTP: `status`, `json` body,
    `set_cookies`."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    letters: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    json: Any = None
    set_cookies: list[str] = field(default_factory=list)


class Runner(Protocol):
    name: str  # "local" | "aws" | "gcp" | "azure"

    def paths(self, event: LogicalEvent) -> tuple[str, ...]:
        """The other delivery paths that carry `event` on this cloud, besides the default one."""
        ...

    def deliver(self, event: LogicalEvent, path: str = "") -> Delivery:
        """Build the native delivery of `event` (by `path`, "" the default), run it through the cloud's real
        entry point, read the answer. The probe's SEEN is cleared before."""
        ...

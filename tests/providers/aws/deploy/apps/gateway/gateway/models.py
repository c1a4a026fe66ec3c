"""What the items API stores; imported by `items` only."""

from __future__ import annotations

ITEMS: dict[str, dict[str, str]] = {"1": {"id": "1", "name": "lamp"}}

"""A cloud's failure inside a command (no credentials, a refusal) said as an error: what failed, and what to do
in the provider's words when it can tell (`Provider.explain`), never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from ..runtime.errors import PortableFnError

if TYPE_CHECKING:
    from ..provider import Provider


@contextmanager
def explained(provider: Provider, doing: str) -> Iterator[None]:
    """Run the block; a failure that is not already ours becomes `PortableFnError("<doing> failed: <why>")`."""
    try:
        yield
    except (PortableFnError, click.ClickException):
        raise
    except Exception as exc:
        why = provider.explain(exc) or f"{type(exc).__name__}: {exc}"
        raise PortableFnError(f"{doing} failed: {why}") from exc

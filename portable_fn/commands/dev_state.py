"""`--state-dir DIR` for the commands that read what the dev host keeps (secrets, dead letters, workflow
instances, logs): the directory `portable-fn dev --state-dir DIR` was given, instead of the app's own
`.portable-fn/local`. Only the local provider keeps its data there."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..cli import UsageError
from ..cli import _state_dir_option as state_dir_option

if TYPE_CHECKING:
    from ..provider import Provider

__all__ = ["state_dir_option", "use_state_dir"]


def use_state_dir(provider: Provider, state_dir: str | None) -> None:
    """Have `provider` (the local one) read the dev host's `state_dir`; a usage error for a cloud provider."""
    if state_dir is None:
        return
    from ..local.provider import LocalProvider  # a command given --state-dir alone loads it

    if not isinstance(provider, LocalProvider):
        raise UsageError(
            f"--state-dir names a dev host's state directory, where the local provider keeps its data; "
            f"{provider.name} keeps it in the cloud. Drop --state-dir, or use --provider local."
        )
    provider.use_dev_state_dir(Path(state_dir))

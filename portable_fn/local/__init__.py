"""The built-in local provider: the dev host, local queues, topics, buckets and timers, and a local deploy target."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..app import App


def secrets_notice(app: App, state_dir: Path) -> str | None:
    """What `portable-fn dev --state-dir DIR` says on start when DIR holds no secrets file but the app's
    default state directory does (`portable-fn secrets set --provider local` writes there unless given
    `--state-dir`): one line naming both files and the fix. None when there is nothing to say."""
    from ..runtime.secrets_file import FILE_NAME
    from .host import dev_state_dir

    given, default = Path(state_dir) / FILE_NAME, dev_state_dir(app) / FILE_NAME
    if given.exists() or not default.exists() or given.resolve() == default.resolve():
        return None
    return (
        f"note: no secrets file in the state directory ({given}), but {default} holds the app's local secrets, "
        f"which functions here will not find; set them for this directory with `portable-fn secrets set NAME "
        f"{app.root} --provider local --state-dir {state_dir}` (or copy the file there)."
    )

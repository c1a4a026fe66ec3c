"""A private copy of an app directory for one test: deploy, dev and the local secret store write into the app's
directory, so a test works on a copy in its tmp_path, without what an earlier run left (`.portable-fn`,
`__pycache__`). Tests import it relatively (`from ..app_copy import copy_app`): they run with
--import-mode=importlib."""

from __future__ import annotations

import shutil
from pathlib import Path

LEFT_BEHIND = shutil.ignore_patterns(".portable-fn", "__pycache__")


def copy_app(source: Path, into: Path) -> Path:
    """`source` copied to `into / source.name` (without the state and bytecode a run left there); the copy."""
    target = into / source.name
    shutil.copytree(source, target, ignore=LEFT_BEHIND)
    return target

"""`portable-fn init`: a new app from the template in `templates/app/`, ready to serve and test."""

from __future__ import annotations

import re
from pathlib import Path

from .runtime.errors import ConfigError

TEMPLATE = Path(__file__).parent / "templates" / "app"
# template files stored without their leading dot (package data globs skip hidden files)
DOTTED = {"gitignore": ".gitignore"}
_NAME = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]\Z")


def create_app(target: Path) -> Path:
    """Write the template into `target` (which must not exist yet); the app is named after it."""
    name = target.name
    if not _NAME.match(name):
        raise ConfigError(
            f"App name {name!r} is invalid: use 3-32 lowercase letters, digits and '-', starting with a "
            "letter (it names every cloud resource)."
        )
    if target.exists():
        raise ConfigError(f"{target} already exists; choose a new directory name.")
    values = {"{{name}}": name, "{{module}}": name.replace("-", "_")}
    for source in sorted(TEMPLATE.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative = str(source.relative_to(TEMPLATE))
        text = source.read_text(encoding="utf-8")
        for placeholder, value in values.items():
            relative = relative.replace(placeholder, value)
            text = text.replace(placeholder, value)
        destination = target / DOTTED.get(relative, relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
    return target

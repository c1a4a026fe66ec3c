"""`[tool.portable-fn.local]`: the settings of the built-in local provider (`LocalProvider.settings_model`)."""

from __future__ import annotations

from pydantic import Field

from ..config import ProviderSettings


class LocalSettings(ProviderSettings):
    """Where the local cloud lives and the port its outputs name."""

    # the local cloud's directory (else $PORTABLE_FN_LOCAL_CLOUD, else <app>/.portable-fn/local-cloud)
    state_dir: str | None = None
    port: int = Field(default=8080, ge=1, le=65535)  # the port `info` shows in URLs (`portable-fn dev --port`)

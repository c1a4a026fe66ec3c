"""An app's dependencies as Azure Functions runs them: wheels for Linux x86_64, never for this machine.

Azure Functions runs Python on Linux x86_64 (Debian images, glibc 2.31 or later). The work is
`portable_fn.wheels` (pip download by tag, the cache, the fit check, unpacking); this module is Azure's
platform and the ways out it suggests. `resolve` takes pip arguments: requirements and index options.
`PipDownload` is the one boundary to pip: tests pass a fake and count its calls.
"""

from __future__ import annotations

from portable_fn import wheels
from portable_fn.wheels import PipDownload, cache_key, check_fits, download_error, pip_download, resolve, unpacked

__all__ = [
    "MACHINE",
    "NEWEST_GLIBC",
    "PipDownload",
    "Target",
    "cache_key",
    "check_fits",
    "download_error",
    "pip_download",
    "resolve",
    "unpacked",
]

# manylinux2014 is manylinux_2_17; Azure's oldest supported image (Debian 11) has glibc 2.31, so every
# manylinux_2_N up to 2_28 loads there.
NEWEST_GLIBC = 28
MACHINE = "x86_64"
OPTIONS = (
    "let Azure build the dependencies (a remote build: set `remote_build = true` under "
    "[tool.portable-fn.azure], or pass remote_build=True); pick another version of {name!r} that publishes "
    "a manylinux wheel for {cp} (or a pure-Python py3-none-any one); or use a pure-Python alternative. "
    "portable-fn never builds a source distribution on this machine: the result would not run on Azure."
)


class Target(wheels.Target):
    """Where the code runs: the function app's Python version on Linux x86_64."""

    def __init__(self, python: str) -> None:
        super().__init__(python, MACHINE, NEWEST_GLIBC, "Azure Functions'", "Linux x86_64", OPTIONS, pip_arguments=True)

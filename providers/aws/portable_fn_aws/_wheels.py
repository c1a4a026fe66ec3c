"""An app's dependencies as Lambda will run them: wheels for Lambda's platform, never for this machine.

The work is `portable_fn.wheels` (pip download by tag, the cache, the fit check, unpacking); this module
is Lambda's platform: its glibc per Python runtime, its architectures, and the ways out it suggests.
`PipDownload` is the one boundary to pip: tests pass a fake and count its calls.
"""

from __future__ import annotations

from portable_fn import wheels
from portable_fn.wheels import PipDownload, cache_key, check_fits, download_error, pip_download, resolve, unpacked

__all__ = [
    "GLIBC_BY_PYTHON",
    "MACHINE_BY_ARCHITECTURE",
    "PipDownload",
    "Target",
    "cache_key",
    "check_fits",
    "download_error",
    "pip_download",
    "resolve",
    "unpacked",
]

# Lambda's Python runtimes run on Amazon Linux 2 (python3.10, 3.11: glibc 2.26) or Amazon Linux 2023
# (python3.12 and later: glibc 2.34); a manylinux wheel needing a newer glibc would not load there.
GLIBC_BY_PYTHON = {"3.10": 26, "3.11": 26, "3.12": 34, "3.13": 34}
MACHINE_BY_ARCHITECTURE = {"x86_64": "x86_64", "arm64": "aarch64"}
OPTIONS = (
    "pick a version of {requirement!r} that publishes a manylinux wheel for {cp} (or a pure-Python "
    "py3-none-any one); use a pure-Python alternative; or build the dependencies in a container that matches "
    "Lambda (public.ecr.aws/lambda/python:{python}) and ship them as a layer or a container image. "
    "portable-fn never builds a source distribution on this machine: the result would not run on Lambda."
)


class Target(wheels.Target):
    """Where the code runs: Lambda's Python version and architecture (`x86_64` or `arm64`)."""

    def __init__(self, python: str, architecture: str) -> None:
        super().__init__(
            python,
            MACHINE_BY_ARCHITECTURE[architecture],
            GLIBC_BY_PYTHON.get(python, 26),
            "Lambda's",
            architecture,
            OPTIONS,
        )

    @property
    def architecture(self) -> str:
        return self.where

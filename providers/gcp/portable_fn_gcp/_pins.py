"""An app's dependencies pinned for Cloud Functions: exact versions, chosen for Google's platform.

Cloud Functions installs `requirements.txt` remotely, at deploy time; unpinned lines would install
whatever is newest that day, so the same source zip could run different code. Here the requirement
lines are resolved once, by pip's resolver in dry-run mode for the function's CPython on Linux x86_64
(`pip install --dry-run --report`), and every distribution it would install becomes a `name==version`
line. Wheels only: the pins must be chosen by tag for Google's platform, never by what builds here.

Resolutions are cached by requirement set + Python version + platforms, so a rebuild gives the same
lines (and the same zip) without asking the index again. `Resolve` is the one boundary to pip: tests
pass a fake and count its calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portable_fn.packaging import redact
from portable_fn.runtime.errors import DeployError

# Cloud Functions (2nd gen) Python runtimes run on Ubuntu 22.04 (glibc 2.35) up to python312 and on
# Ubuntu 24.04 (glibc 2.39) from python313; a wheel that needs a newer glibc would not load there.
GLIBC_BY_PYTHON = {"3.10": 35, "3.11": 35, "3.12": 35, "3.13": 39}


@dataclass(frozen=True)
class Target:
    """Where the function runs: the runtime's CPython version on Linux x86_64."""

    python: str

    @property
    def platforms(self) -> tuple[str, ...]:
        """The `--platform` values: manylinux2014 and each manylinux_2_N up to the runtime's glibc."""
        newest = GLIBC_BY_PYTHON.get(self.python, 35)
        return ("manylinux2014_x86_64", *(f"manylinux_2_{n}_x86_64" for n in range(17, newest + 1)))

    def describe(self) -> str:
        return f"CPython {self.python} on Linux x86_64"


# (requirement lines, index option lines such as `--index-url URL`; target) -> `name==version` lines,
# or DeployError.
Resolve = Callable[[Sequence[str], Target], list[str]]


def pip_resolve(requirements: Sequence[str], target: Target) -> list[str]:
    """Ask pip which distributions it would install for `target`; nothing is installed or kept."""
    with tempfile.TemporaryDirectory(prefix="portable-fn-resolve-") as scratch:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--report",
            "-",
            "--ignore-installed",
            "--disable-pip-version-check",
            "--no-input",
            "--target",
            scratch,  # pip accepts --platform only with --target; dry-run writes nothing
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            target.python,
            *(arg for platform in target.platforms for arg in ("--platform", platform)),
            *(arg for line in requirements for arg in (shlex.split(line) if line.startswith("-") else [line])),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise resolve_error(done.stdout + done.stderr, target)
    return pins_from_report(json.loads(done.stdout))


def pins_from_report(report: dict[str, Any]) -> list[str]:
    """One `name==version` line per distribution in a pip installation report (`name @ url` if direct)."""
    lines = []
    for item in report["install"]:
        name, version = canonical(item["metadata"]["name"]), item["metadata"]["version"]
        direct = item.get("is_direct") and item.get("download_info", {}).get("url")
        lines.append(f"{name} @ {direct}" if direct else f"{name}=={version}")
    return sorted(lines, key=pin_name)


def pinned(
    requirements: Sequence[str], target: Target, cache_dir: Path, resolve: Resolve, progress: Callable[[str], None]
) -> list[str]:
    """The pins for `requirements` on `target`: from the cache, or resolved once and cached."""
    entry = cache_dir / f"{cache_key(requirements, target)}.json"
    if entry.is_file():
        progress(f"dependencies: pins for {redact(' '.join(requirements))} on {target.describe()} from the cache")
        return list(json.loads(entry.read_text(encoding="utf-8"))["pins"])
    progress(f"dependencies: resolving {redact(' '.join(requirements))} for {target.describe()}")
    pins = sorted(resolve(requirements, target), key=pin_name)
    record = {"requirements": list(requirements), "python": target.python, "pins": pins}
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=cache_dir, prefix=".resolve-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(record, indent=1) + "\n")
    os.replace(staging, entry)  # atomic: a reader sees a whole entry or none
    return pins


def cache_key(requirements: Sequence[str], target: Target) -> str:
    """Names the cache entry: the sorted requirement lines, the Python version and the platforms."""
    material = json.dumps([sorted(requirements), target.python, target.platforms, "cp"])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def pin_name(pin: str) -> str:
    """The distribution a pinned line is about: `pydantic-core==2.4` -> `pydantic-core`."""
    return canonical(re.split(r"==| @ ", pin, maxsplit=1)[0].strip())


def canonical(name: str) -> str:
    """A distribution name as PEP 503 normalises it: `Typing_Extensions` -> `typing-extensions`."""
    return re.sub(r"[-_.]+", "-", name).lower()


_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_NO_VERSION = re.compile(
    r"Could not find a version that satisfies the requirement (\S+)(?: \(from versions: ([^)]*)\))?"
)
_UNREACHABLE = re.compile(r"NewConnectionError|Could not fetch URL|ConnectTimeoutError")
_CONFLICT = re.compile(r"(?:ResolutionImpossible|conflicting dependencies)")


def resolve_error(output: str, target: Target) -> DeployError:
    """pip's failure as what + next step, naming the requirement that cannot be pinned."""
    missing = _NO_MATCH.search(output) or _NO_VERSION.search(output)
    said = redact("\n".join([line for line in output.strip().splitlines() if not line.startswith("WARNING")][-8:]))
    if missing is None and _CONFLICT.search(output):
        return DeployError(
            f"The requirements conflict for {target.describe()}; pip said:\n{said}\n"
            "Loosen or align the versions it names, then package again."
        )
    if missing is None:
        return DeployError(
            f"Resolving the dependencies for {target.describe()} failed; pip said:\n{said}\n"
            "Check the requirement lines and that the package index is reachable, then package again."
        )
    found = _NO_VERSION.search(output)
    versions = [v.strip() for v in found.group(2).split(",")] if found is not None and found.group(2) else []
    versions = [v for v in versions if v != "none"]
    where = f"No wheel of {missing.group(1)!r} fits Cloud Functions' {target.describe()}"
    if _UNREACHABLE.search(output):
        return DeployError(
            f"{where}: pip could not reach the package index. Check the network and any "
            "--index-url in the requirements, then package again."
        )
    if not versions:
        return DeployError(
            f"{where}: the index has no wheel of it at all (a misspelt name, or a project published as "
            "source only). Fix the name, or use an alternative that publishes wheels: the pins are chosen "
            "from wheels so that they hold on Google's platform."
        )
    return DeployError(
        f"{where}; the newest versions that have one: {', '.join(versions[-5:])}. Fix the requirement's "
        f"version (one with a manylinux x86_64 wheel for cp{target.python.replace('.', '')}, or a "
        "py3-none-any one), then package again."
    )

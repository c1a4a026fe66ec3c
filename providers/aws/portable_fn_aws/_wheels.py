"""An app's dependencies as Lambda will run them: wheels for Lambda's platform, never for this machine.

`pip download --only-binary=:all:` with `--platform`, `--implementation cp` and `--python-version` picks
wheels by tag alone, so what it fetches is what Lambda's Python on Lambda's CPU and glibc can load, on any
build machine. Source distributions are refused (building one here would compile for this machine), so a
dependency without a fitting wheel is an error naming it and the ways out. Downloads are cached by
requirement set + platform + Python version; the cache is the only state, and a hit never runs pip.

`PipDownload` is the one boundary to pip: tests pass a fake and count its calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from portable_fn.runtime.errors import DeployError

# Lambda's Python runtimes run on Amazon Linux 2 (python3.10, 3.11: glibc 2.26) or Amazon Linux 2023
# (python3.12 and later: glibc 2.34); a manylinux wheel needing a newer glibc would not load there.
GLIBC_BY_PYTHON = {"3.10": 26, "3.11": 26, "3.12": 34, "3.13": 34}
MACHINE_BY_ARCHITECTURE = {"x86_64": "x86_64", "arm64": "aarch64"}
DEFAULT_CACHE = Path.home() / ".cache" / "portable-fn" / "wheels"
_COMPLETE = "portable-fn-wheels.json"  # written last: a cache entry without it is ignored and refetched


@dataclass(frozen=True)
class Target:
    """Where the code runs: Lambda's Python version and architecture (`x86_64` or `arm64`)."""

    python: str
    architecture: str

    @property
    def platforms(self) -> tuple[str, ...]:
        """The `--platform` values: manylinux2014 and each manylinux_2_N up to the runtime's glibc."""
        machine = MACHINE_BY_ARCHITECTURE[self.architecture]
        newest = GLIBC_BY_PYTHON.get(self.python, 26)
        return (f"manylinux2014_{machine}", *(f"manylinux_2_{n}_{machine}" for n in range(17, newest + 1)))

    @property
    def tags(self) -> frozenset[tuple[str, str, str]]:
        """Every (python, abi, platform) wheel tag that Lambda's CPython of this version can load."""
        minor = int(self.python.split(".")[1])
        cp = f"cp3{minor}"
        pys = {"py3", f"py3{minor}", *(f"py3{m}" for m in range(minor + 1))}
        native = {(cp, cp, p) for p in self.platforms} | {(cp, "none", p) for p in self.platforms}
        native |= {(f"cp3{m}", "abi3", p) for m in range(2, minor + 1) for p in self.platforms}
        generic = {(py, "none", p) for py in pys | {cp} for p in (*self.platforms, "any")}
        return frozenset(native | generic)

    def describe(self) -> str:
        return f"CPython {self.python} on {self.platforms[0]}"


# (requirements, target, destination directory) -> wheels in the destination, or DeployError.
PipDownload = Callable[[Sequence[str], Target, Path], None]


def pip_download(requirements: Sequence[str], target: Target, dest: Path) -> None:
    """Run `pip download` for `target` into `dest`: wheels only, chosen by tag, dependencies included."""
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
               "--only-binary=:all:", "--implementation", "cp", "--python-version", target.python,
               *(arg for platform in target.platforms for arg in ("--platform", platform)),
               "--dest", str(dest), *requirements]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise _download_error(done.stdout + done.stderr, target)


def resolve(requirements: Sequence[str], target: Target, cache_dir: Path, download: PipDownload,
            progress: Callable[[str], None]) -> list[Path]:
    """The wheels for `requirements` on `target`: from the cache, or downloaded into it once."""
    if not requirements:
        return []
    entry = cache_dir / cache_key(requirements, target)
    if (entry / _COMPLETE).is_file():
        progress(f"dependencies: {' '.join(requirements)} for {target.describe()} from the cache")
        return sorted(entry.glob("*.whl"))
    progress(f"dependencies: downloading {' '.join(requirements)} for {target.describe()}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".download-"))
    try:
        download(requirements, target, staging)
        for wheel in sorted(staging.glob("*.whl")):
            check_fits(wheel.name, target)
        record = {"requirements": list(requirements), "python": target.python, "platforms": target.platforms}
        (staging / _COMPLETE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        shutil.rmtree(entry, ignore_errors=True)
        os.replace(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(entry.glob("*.whl"))


def cache_key(requirements: Sequence[str], target: Target) -> str:
    """Names the cache entry: the sorted requirement lines, the platforms and the Python version."""
    material = json.dumps([sorted(requirements), target.python, target.platforms, "cp"])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def check_fits(filename: str, target: Target) -> None:
    """Refuse a wheel whose tags Lambda's Python cannot load (one built for this machine, say)."""
    parts = filename[:-4].split("-")
    if not filename.endswith(".whl") or len(parts) not in (5, 6):
        raise DeployError(f"{filename} is not a wheel file name; portable-fn ships wheels only.")
    pys, abis, platforms = (part.split(".") for part in parts[-3:])
    if not any((py, abi, p) in target.tags for py in pys for abi in abis for p in platforms):
        raise DeployError(
            f"The wheel {filename} does not fit Lambda's {target.describe()} (its tags: "
            f"{'-'.join(parts[-3:])}). Delete it from the wheel cache and package again."
        )


def unpacked(wheel: Path) -> Iterator[tuple[str, bytes]]:
    """(archive name, bytes) of what installing `wheel` puts in site-packages, minus bytecode.

    `<dist>.data/purelib/` and `platlib/` land at the root like an install would; `scripts`, `headers`
    and `data` have no place on sys.path and are left out. `.dist-info` stays: libraries read it.
    """
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = _installed_name(info.filename)
            if info.is_dir() or name is None or "__pycache__" in name.split("/") or name.endswith((".pyc", ".pyo")):
                continue
            yield name, archive.read(info)


def _installed_name(name: str) -> str | None:
    top, _, rest = name.partition("/")
    if not top.endswith(".data"):
        return name
    scheme, _, path = rest.partition("/")
    return path if scheme in ("purelib", "platlib") and path else None


_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_NO_VERSION = re.compile(
    r"Could not find a version that satisfies the requirement (\S+)(?: \(from versions: ([^)]*)\))?")


def _download_error(output: str, target: Target) -> DeployError:
    """pip's failure as where + what + next step, naming the requirement that has no fitting wheel."""
    missing = _NO_MATCH.search(output) or _NO_VERSION.search(output)
    if missing is None:
        tail = "\n".join(output.strip().splitlines()[-8:])
        return DeployError(
            f"Downloading the dependencies for {target.describe()} failed; pip said:\n{tail}\n"
            "Check the requirement lines and that the package index is reachable, then package again."
        )
    found = _NO_VERSION.search(output)
    versions = found.group(2) if found is not None and found.group(2) else "none"
    return DeployError(
        f"No wheel of {missing.group(1)!r} fits Lambda's {target.describe()} (Python {target.python}, "
        f"{target.architecture}); versions with a fitting wheel: {versions}. Options: pick a version of "
        f"{missing.group(1)!r} that publishes a manylinux wheel for cp{target.python.replace('.', '')} "
        f"(or a pure-Python py3-none-any one); use a pure-Python alternative; or build the dependencies "
        f"in a container that matches Lambda (public.ecr.aws/lambda/python:{target.python}) and ship "
        "them as a layer or a container image. portable-fn never builds a source distribution on this "
        "machine: the result would not run on Lambda."
    )

"""An app's dependencies as the cloud runs them: wheels for a manylinux platform, never for this machine.

`pip download --only-binary=:all:` with `--platform`, `--implementation cp` and `--python-version` picks
wheels by tag alone, so what it fetches is what the target's Python on the target's CPU and glibc can load,
on any build machine. Source distributions are refused (building one here would compile for this machine),
so a dependency without a fitting wheel is an error naming it and the ways out. Downloads are cached by
requirement set + platform + Python version; the cache is the only state, and a hit never runs pip.

Shared by the providers that vendor wheels (aws, azure); each builds its own `Target`. `PipDownload` is
the one boundary to pip: tests pass a fake and count its calls.
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

from portable_fn.packaging import redact
from portable_fn.runtime.errors import DeployError

_COMPLETE = "portable-fn-wheels.json"  # written last: a cache entry without it is ignored and refetched


@dataclass(frozen=True)
class Target:
    """Where the code runs: CPython `python` on manylinux for `machine` (`x86_64` or `aarch64`) with glibc
    up to 2.`newest_glibc`.

    `label` names the platform in messages ("Lambda's"), `where` follows the Python version in them
    ("arm64"), and `options` is the ways out when no wheel fits: a `str.format` template with
    `{requirement}`, `{name}` (the distribution name), `{cp}` (e.g. `cp312`) and `{python}`. With
    `pip_arguments`, the list handed to `resolve` is pip arguments (index options among the requirements):
    options are left out of messages and a list of options only needs no download.
    """

    python: str
    machine: str
    newest_glibc: int
    label: str
    where: str
    options: str
    pip_arguments: bool = False

    @property
    def platforms(self) -> tuple[str, ...]:
        """The `--platform` values: manylinux2014 and each manylinux_2_N from 17 up to the target's glibc."""
        machine = self.machine
        return (f"manylinux2014_{machine}", *(f"manylinux_2_{n}_{machine}" for n in range(17, self.newest_glibc + 1)))

    @property
    def tags(self) -> frozenset[tuple[str, str, str]]:
        """Every (python, abi, platform) wheel tag that CPython of this version on the target can load."""
        minor = int(self.python.split(".")[1])
        cp = f"cp3{minor}"
        pys = {"py3", *(f"py3{m}" for m in range(minor + 1))}
        native = {(cp, abi, p) for abi in (cp, "none") for p in self.platforms}
        native |= {(f"cp3{m}", "abi3", p) for m in range(2, minor + 1) for p in self.platforms}
        generic = {(py, "none", p) for py in pys | {cp} for p in (*self.platforms, "any")}
        return frozenset(native | generic)

    def describe(self) -> str:
        return f"CPython {self.python} on {self.platforms[0]}"


# (requirements or pip arguments, target, destination directory) -> wheels in the destination, or DeployError.
PipDownload = Callable[[Sequence[str], Target, Path], None]


def pip_download(arguments: Sequence[str], target: Target, dest: Path) -> None:
    """Run `pip download` for `target` into `dest`: wheels only, chosen by tag, dependencies included."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        target.python,
        *(arg for platform in target.platforms for arg in ("--platform", platform)),
        "--dest",
        str(dest),
        *arguments,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise download_error(done.stdout + done.stderr, target)


def resolve(
    arguments: Sequence[str], target: Target, cache_dir: Path, download: PipDownload, progress: Callable[[str], None]
) -> list[Path]:
    """The wheels for `arguments` on `target`: from the cache, or downloaded into it once."""
    named = [arg for arg in arguments if not arg.startswith("-")] if target.pip_arguments else list(arguments)
    if not named:
        return []
    entry = cache_dir / cache_key(arguments, target)
    listed = redact(" ".join(named))  # an index URL may carry a token: never in a log
    if (entry / _COMPLETE).is_file():
        progress(f"dependencies: {listed} for {target.describe()} from the cache")
        return sorted(entry.glob("*.whl"))
    progress(f"dependencies: downloading {listed} for {target.describe()}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".download-"))
    try:
        download(arguments, target, staging)
        for wheel in sorted(staging.glob("*.whl")):
            check_fits(wheel.name, target)
        record = {
            "arguments" if target.pip_arguments else "requirements": list(arguments),
            "python": target.python,
            "platforms": target.platforms,
        }
        (staging / _COMPLETE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        try:
            os.replace(staging, entry)
        except OSError:  # the entry is there: another build (another process) finished the same download first
            if not (entry / _COMPLETE).is_file():  # not complete: one that went wrong, replaced
                shutil.rmtree(entry, ignore_errors=True)
                os.replace(staging, entry)
            # a complete entry is never removed, since another build may be reading its wheels
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(entry.glob("*.whl"))


def cache_key(arguments: Sequence[str], target: Target) -> str:
    """Names the cache entry: the requirement set (order aside), the platforms and the Python version."""
    material = json.dumps([sorted(arguments), target.python, target.platforms, "cp"])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def check_fits(filename: str, target: Target) -> None:
    """Refuse a wheel whose tags the target's Python cannot load (one built for this machine, say)."""
    parts = filename[:-4].split("-")
    if not filename.endswith(".whl") or len(parts) not in (5, 6):
        raise DeployError(f"{filename} is not a wheel file name; portable-fn ships wheels only.")
    pys, abis, platforms = (part.split(".") for part in parts[-3:])
    if not any((py, abi, p) in target.tags for py in pys for abi in abis for p in platforms):
        raise DeployError(
            f"The wheel {filename} does not fit {target.label} {target.describe()} (its tags: "
            f"{'-'.join(parts[-3:])}). Delete it from the wheel cache and package again."
        )


def unpacked(wheel: Path, prefix: str = "") -> Iterator[tuple[str, bytes]]:
    """(archive name, bytes) of what installing `wheel` puts in site-packages (under `prefix`), minus bytecode.

    `<dist>.data/purelib/` and `platlib/` land at the root like an install would; `scripts`, `headers`
    and `data` have no place on sys.path and are left out. `.dist-info` stays: libraries read it.
    """
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = _installed_name(info.filename)
            if info.is_dir() or name is None or "__pycache__" in name.split("/") or name.endswith((".pyc", ".pyo")):
                continue
            yield prefix + name, archive.read(info)


def _installed_name(name: str) -> str | None:
    top, _, rest = name.partition("/")
    if not top.endswith(".data"):
        return name
    scheme, _, path = rest.partition("/")
    return path if scheme in ("purelib", "platlib") and path else None


_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_NO_VERSION = re.compile(
    r"Could not find a version that satisfies the requirement (\S+)(?: \(from versions: ([^)]*)\))?"
)


def download_error(output: str, target: Target) -> DeployError:
    """pip's failure as where + what + next step, naming the requirement that has no fitting wheel."""
    missing = _NO_MATCH.search(output) or _NO_VERSION.search(output)
    if missing is None:
        tail = redact("\n".join(output.strip().splitlines()[-8:]))
        return DeployError(
            f"Downloading the dependencies for {target.describe()} failed; pip said:\n{tail}\n"
            "Check the requirement lines and that the package index is reachable, then package again."
        )
    found = _NO_VERSION.search(output)
    versions = found.group(2) if found is not None and found.group(2) else "none"
    requirement = missing.group(1)
    name = re.split(r"[<>=!~;\[ (]", requirement, maxsplit=1)[0]
    options = target.options.format(
        requirement=requirement, name=name, cp=f"cp{target.python.replace('.', '')}", python=target.python
    )
    return DeployError(
        f"No wheel of {requirement!r} fits {target.label} {target.describe()} (Python {target.python}, "
        f"{target.where}); versions with a fitting wheel: {versions}. Options: {options}"
    )

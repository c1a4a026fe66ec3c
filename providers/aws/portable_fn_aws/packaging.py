"""`build_package`: one deterministic Lambda zip per app, checked against Lambda's size limits.

The zip holds, at its root (Lambda's `/var/task`, first on `sys.path`):

| what                          | from                                                                 |
|-------------------------------|----------------------------------------------------------------------|
| `portable_fn_entry.py`        | generated: `F = make_handler(module.attr.__portable_fn__)` per function F; |
|                               | Lambda's handler string is `portable_fn_entry.F` (`handler_string`)  |
| the user's code               | `portable_fn.packaging.app_files` (no secrets, VCS data, venvs, caches) |
| the portable runtime          | `portable_fn.packaging.runtime_files`                                |
| the shim                      | `portable_fn_aws.shim` and the package modules it imports             |
|                               | (`portable_fn.packaging.module_closure`)                             |
| the dependencies              | wheels for Lambda's platform (`_wheels`), unpacked like an install   |

The same inputs give the same bytes (`write_zip`), so an unchanged app is never uploaded again. The size
limits are checked here, before anything is uploaded: over 50 MB zipped the code goes through S3, over
250 MB unzipped Lambda refuses it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portable_fn.deploy.models import Artifact
from portable_fn.packaging import Entry, app_files, app_requirements, module_closure, runtime_files, write_zip
from portable_fn.runtime.errors import DeployError
from portable_fn.runtime.function import spec_of

from . import _wheels
from ._wheels import DEFAULT_CACHE, PipDownload, Target, pip_download

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.provider import Progress

ENTRY_MODULE = "portable_fn_entry"
PACKAGE = "portable_fn_aws"
PACKAGE_DIR = Path(__file__).resolve().parent
MB = 1024 * 1024


@dataclass(frozen=True)
class SizeBudget:
    """Lambda's code size limits: a zip above `direct_upload` goes through S3; above `unzipped` it is refused."""

    direct_upload: int = 50 * MB
    unzipped: int = 250 * MB


LAMBDA_LIMITS = SizeBudget()


@dataclass(frozen=True)
class LambdaArtifact(Artifact):
    """An `Artifact` that also says its unzipped size and whether it must be uploaded through S3."""

    unzipped_size: int = 0
    via_s3: bool = False
    architecture: str = "x86_64"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "unzipped_size": self.unzipped_size, "via_s3": self.via_s3,
                "architecture": self.architecture}


def build_package(app: App, stage: str, out_dir: Path, progress: Progress, *, cache_dir: Path | None = None,
                  pip_download: PipDownload = pip_download, budget: SizeBudget = LAMBDA_LIMITS) -> LambdaArtifact:
    """Build `<out_dir>/<app>-aws.zip` for Lambda (the same for every stage: stages differ in settings)."""
    target = Target(app.config.python, architecture(app))
    progress(f"aws: packaging {app.name!r} for {target.describe()}")
    wanted = requirements(app)
    try:
        wheels = _wheels.resolve(wanted, target, cache_dir or DEFAULT_CACHE, pip_download, progress)
    except DeployError as exc:
        raise DeployError(f"Packaging {app.name!r} for aws: {exc}") from exc
    entries = _unique([
        (f"{ENTRY_MODULE}.py", entry_module(app).encode("utf-8")),
        *shim_files(),
        *app_files(app.source_dir, skip=out_dir),
        *runtime_files(),
        *(entry for wheel in wheels for entry in _wheels.unpacked(wheel)),
    ])
    unzipped = sum(len(c) if isinstance(c, bytes) else c.stat().st_size for _, c in entries)
    if unzipped > budget.unzipped:
        raise DeployError(_too_large(app, unzipped, budget))
    artifact = write_zip(out_dir / f"{app.name}-aws.zip", entries)
    via_s3 = artifact.size > budget.direct_upload
    progress(f"aws: {artifact.path.name}: {artifact.files} files, {_mb(artifact.size)} zipped, "
             f"{_mb(unzipped)} unzipped, sha256 {artifact.sha256[:12]}"
             + (f"; over {_mb(budget.direct_upload)}, so it is uploaded through S3" if via_s3 else ""))
    return LambdaArtifact(artifact.path, artifact.sha256, artifact.size, artifact.files,
                          unzipped_size=unzipped, via_s3=via_s3, architecture=target.architecture)


def handler_string(spec: Any) -> str:
    """The Lambda `Handler` setting of a function packaged by `build_package`."""
    return f"{ENTRY_MODULE}.{spec.name}"


def architecture(app: App) -> str:
    """The one architecture of the app's functions: they share a zip, so they must agree."""
    chosen = {spec.name: app.options(spec).architecture or "x86_64" for spec in app.functions}
    if len(set(chosen.values())) > 1:
        listed = ", ".join(f"{name}={arch}" for name, arch in sorted(chosen.items()))
        raise DeployError(
            f"Packaging {app.name!r} for aws: its functions ask for different architectures ({listed}), "
            "but an app ships as one zip with dependencies for one CPU. Give every function the same "
            "architecture=, or split the app into one app per architecture."
        )
    return next(iter(chosen.values()), "x86_64")


def requirements(app: App) -> list[str]:
    """The app's requirement lines (`portable_fn.packaging.app_requirements`), index options split for pip."""
    return app_requirements(app, context=f"Packaging {app.name!r}", unresolvable="cannot be resolved for Lambda",
                            split_options=True)


def entry_module(app: App) -> str:
    """The source of `portable_fn_entry.py`: imports the app's modules, one Lambda handler per function."""
    modules = sorted({spec.module for spec in app.functions})
    alias = {module: f"_m{i}" for i, module in enumerate(modules)}
    lines = [f'"""Generated by portable-fn for the app {app.name!r}: Lambda handler `{ENTRY_MODULE}.<function>`."""',
             "", f"from {PACKAGE}.shim import make_handler", ""]
    lines += [f"import {module} as {alias[module]}" for module in modules] + [""]
    for spec in app.functions:
        made = f"make_handler({alias[spec.module]}.{_attribute(spec)}.__portable_fn__)"
        lines.append(f"{spec.name} = {made}" if spec.name.isidentifier() else f"globals()[{spec.name!r}] = {made}")
    return "\n".join(lines) + "\n"


def shim_files(package_dir: Path = PACKAGE_DIR) -> list[Entry]:
    """The modules of this package that ship: the shim, what it imports within the package, `__init__`."""
    return module_closure(package_dir, PACKAGE, ["shim"],
                          stub_init=b'"""portable-fn on AWS Lambda: the runtime shim."""\n')


def _attribute(spec: Any) -> str:
    """The name under which the function's module holds its handler."""
    module = sys.modules.get(spec.module)
    for name, value in vars(module).items() if module is not None else ():
        if spec_of(value) is spec:
            return name
    qualname = getattr(spec.handler, "__qualname__", "")
    if module is None and qualname.isidentifier():  # the module was unloaded since: trust the definition
        return str(qualname)
    raise DeployError(
        f"Packaging function {spec.name!r} for aws: its handler is not a top-level name of module "
        f"{spec.module!r}, so Lambda cannot reach it. Define the @function at module level."
    )


def _unique(entries: Iterable[Entry]) -> list[Entry]:
    """First entry of each archive name wins, as in `write_zip`."""
    chosen: dict[str, bytes | Path] = {}
    for name, content in entries:
        chosen.setdefault(name, content)
    return list(chosen.items())


def _too_large(app: App, unzipped: int, budget: SizeBudget) -> str:
    return (
        f"Packaging {app.name!r} for aws: the package is {_mb(unzipped)} unzipped, over Lambda's limit of "
        f"{_mb(budget.unzipped)} for code and layers together. Trim the dependencies (drop ones the "
        "functions do not import, prefer slimmer alternatives), move large shared dependencies into a "
        "Lambda layer, or deploy as a container image (up to 10 GB)."
    )


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"

"""`build_package`: deterministic Lambda zips, one per app or one per function, checked against Lambda's
size limits.

A zip holds, at its root (Lambda's `/var/task`, first on `sys.path`):

| what                          | from                                                                 |
|-------------------------------|----------------------------------------------------------------------|
| `portable_fn_entry.py`        | generated: `F = make_handler(module.attr.__portable_fn__)` per function F; |
|                               | Lambda's handler string is `portable_fn_entry.F` (`handler_string`)  |
| the user's code               | `portable_fn.packaging.app_files` (what the app needs: no credentials, |
|                               | tests, VCS data, venvs, caches; `include` / `exclude` applied)       |
| the portable runtime          | `portable_fn.packaging.runtime_files`                                |
| the shim                      | `portable_fn_aws.shim`, `.state` (the state backend), `.publish`,     |
|                               | `.secrets` (the secret backend), `.buckets` (the object store) and    |
|                               | the package modules they import (`portable_fn.packaging.module_closure`)|
| the dependencies              | wheels for Lambda's platform (`_wheels`), unpacked like an install   |

One zip per function or per app (the setting `package`, `Layout`): with "auto", the default, each
function gets a zip of its own when that is smaller, that is when the functions' import closures
(`app_closure`: the app's modules a function's module imports, directly or not) differ, and when they
run on different architectures (their dependencies are wheels for different CPUs). A function's zip
then leaves out the app modules that only other functions import; it keeps every other file, and all
the app's dependencies, since the app declares one dependency set and imports cannot show which
dependency needs which. Otherwise all functions share one zip (as with "app"); "function" always splits.

The same inputs give the same bytes (`write_zip`), and each function's code hash is that of its own zip,
so a function whose zip did not change is never uploaded again. The size limits are checked here, per
zip, before anything is uploaded: over 250 MB unzipped Lambda refuses it (an error with what to trim);
over 50 MB zipped (`SizeBudget.via_s3`; the setting `direct_upload_limit_mb` lowers the limit) deploy
uploads the zip to the app's deployment bucket and points Lambda at it (see `deploy.desired`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portable_fn.bytecode import HERE, Compiler, Interpreters, compiler_for, with_bytecode
from portable_fn.deploy.models import Artifact
from portable_fn.packaging import (
    ANY_MODULE,
    Entry,
    ShipRules,
    app_files,
    app_imports,
    app_module_files,
    app_requirements,
    module_closure,
    runtime_files,
    user_cache,
    write_zip,
)
from portable_fn.runtime.errors import ConfigError, DeployError
from portable_fn.runtime.function import top_level_name
from portable_fn.runtime.triggers import Http

from . import _wheels
from ._wheels import PipDownload, Target, pip_download

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.provider import Progress
    from portable_fn.runtime.function import FunctionSpec

    from .settings import AwsSettings

ENTRY_MODULE = "portable_fn_entry"
PACKAGE = "portable_fn_aws"
PACKAGE_DIR = Path(__file__).resolve().parent
MB = 1024 * 1024
AUTO, APP, FUNCTION = "auto", "app", "function"  # the settings' `package`: how many zips
LAYOUTS = (AUTO, APP, FUNCTION)


DIRECT_UPLOAD_LIMIT_MB = 50  # the largest zip Lambda takes in the request itself (`ZipFile=`)


@dataclass(frozen=True)
class SizeBudget:
    """Lambda's code size limits: a zip above `direct_upload` goes through S3; above `unzipped` it is refused."""

    direct_upload: int = DIRECT_UPLOAD_LIMIT_MB * MB
    unzipped: int = 250 * MB

    def via_s3(self, zipped_size: int) -> bool:
        """Whether a zip of `zipped_size` bytes is uploaded to the deployment bucket rather than sent directly."""
        return zipped_size > self.direct_upload


LAMBDA_LIMITS = SizeBudget()


def size_budget(settings: AwsSettings) -> SizeBudget:
    """Lambda's limits with the setting `direct_upload_limit_mb` (0 to 50, checked by `AwsSettings`; 0 sends
    every zip through S3): one reading of it for packaging's report and deploy's choice of upload."""
    return SizeBudget(direct_upload=int(settings.direct_upload_limit_mb * MB))


@dataclass(frozen=True)
class LambdaArtifact(Artifact):
    """An `Artifact` that also says its unzipped size and whether it must be uploaded through S3.

    Built per function, it is the build directory with one zip per function in `functions`; its
    `sha256` is a digest of theirs, and `for_function` gives the zip a function runs from."""

    unzipped_size: int = 0
    via_s3: bool = False
    architecture: str = "x86_64"
    functions: tuple[tuple[str, LambdaArtifact], ...] = ()

    def for_function(self, name: str) -> LambdaArtifact:
        """The zip holding the function `name`: its own, or the app's."""
        return dict(self.functions).get(name, self)

    def to_dict(self) -> dict[str, Any]:
        out = {
            **super().to_dict(),
            "unzipped_size": self.unzipped_size,
            "via_s3": self.via_s3,
            "architecture": self.architecture,
            "layout": FUNCTION if self.functions else APP,
        }
        if self.functions:
            out["zips"] = {name: zipped.to_dict() for name, zipped in self.functions}
        return out


@dataclass(frozen=True)
class Sources:
    """The app's files (archive name -> path) and, per function, the app modules it imports."""

    files: dict[str, Path]
    closures: dict[str, frozenset[str]]  # function -> archive names of its modules (`app_closure`)

    def for_function(self, name: str) -> list[Entry]:
        """Every file but the modules only other functions import."""
        others = frozenset().union(*self.closures.values()) - self.closures[name]
        return [(n, path) for n, path in self.files.items() if n not in others]


def build_package(
    app: App,
    stage: str,
    out_dir: Path,
    progress: Progress,
    *,
    layout: str = AUTO,
    cache_dir: Path | None = None,
    pip_download: PipDownload = pip_download,
    budget: SizeBudget = LAMBDA_LIMITS,
    interpreters: Interpreters = HERE,
) -> LambdaArtifact:
    """Build `<out_dir>/<app>-aws.zip`, or `<app>-aws-<function>.zip` per function (see the module
    docstring); the same for every stage, since stages differ in settings. `interpreters` says where
    an interpreter of the app's Python is looked for, to compile the bytecode."""
    sources = Sources(
        dict(app_files(app, skip=out_dir, context=f"Packaging {app.name!r} for aws")),
        {spec.name: app_closure(app.source_dir, spec.module) for spec in app.functions},
    )
    split, why = per_function(app, checked_layout(layout), sources)
    arch_of = architectures(app)
    targets = {arch: Target(app.config.python, arch) for arch in sorted(set(arch_of.values())) or ["x86_64"]}
    progress(
        f"aws: packaging {app.name!r} for {' and '.join(t.describe() for t in targets.values())} as "
        f"{'one zip per function' if split else 'one zip'} ({why})"
    )
    wheels = {arch: dependencies(app, target, cache_dir, pip_download, progress) for arch, target in targets.items()}
    compiler = compiler_for(app.config.python, "aws", progress, interpreters)
    for stale in out_dir.glob(f"{app.name}-aws*.zip"):  # zips of the other layout, or of removed functions
        stale.unlink()
    if not split:
        (arch,) = wheels
        return build_zip(
            app,
            app.functions,
            list(sources.files.items()),
            wheels[arch],
            arch,
            out_dir / f"{app.name}-aws.zip",
            budget,
            progress,
            compiler,
        )
    return combined(
        out_dir,
        tuple(
            (
                spec.name,
                build_zip(
                    app,
                    [spec],
                    sources.for_function(spec.name),
                    wheels[arch_of[spec.name]],
                    arch_of[spec.name],
                    out_dir / f"{app.name}-aws-{spec.name}.zip",
                    budget,
                    progress,
                    compiler,
                ),
            )
            for spec in app.functions
        ),
    )


def checked_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ConfigError(
            f"Packaging for aws: package = {layout!r} under [tool.portable-fn.aws] is not one of "
            f'{", ".join(repr(x) for x in LAYOUTS)}. Use "auto" (a zip per function when that is smaller, '
            'the default), "app" (one zip) or "function" (always one per function).'
        )
    return layout


def per_function(app: App, layout: str, sources: Sources) -> tuple[bool, str]:
    """Whether the app gets one zip per function, and why (said in the progress line)."""
    chosen = architectures(app)
    if layout == APP and len(set(chosen.values())) > 1:
        listed = ", ".join(f"{name}={arch}" for name, arch in sorted(chosen.items()))
        raise DeployError(
            f"Packaging {app.name!r} for aws: its functions ask for different architectures ({listed}), "
            'but package = "app" ships them as one zip with dependencies for one CPU. Give every function '
            'the same architecture=, or set package = "function" (or "auto") under [tool.portable-fn.aws].'
        )
    if layout != AUTO:
        return layout == FUNCTION, f"package = {layout!r}"
    if len(set(chosen.values())) > 1:
        return True, "its functions run on different architectures"
    if len(set(sources.closures.values())) > 1:
        return True, "its functions import different modules of the app"
    return False, "every function imports the same modules of the app"


def architectures(app: App) -> dict[str, str]:
    """Each function's architecture (`x86_64` unless its options say `arm64`)."""
    return {spec.name: app.options(spec).architecture or "x86_64" for spec in app.functions}


def dependencies(
    app: App, target: Target, cache_dir: Path | None, download: PipDownload, progress: Progress
) -> list[Path]:
    """The wheels of the app's requirements for `target`, Lambda's Python on one architecture."""
    try:
        return _wheels.resolve(requirements(app), target, cache_dir or user_cache("wheels"), download, progress)
    except DeployError as exc:
        raise DeployError(f"Packaging {app.name!r} for aws: {exc}") from exc


def build_zip(
    app: App,
    specs: Sequence[FunctionSpec],
    sources: list[Entry],
    wheels: list[Path],
    arch: str,
    path: Path,
    budget: SizeBudget,
    progress: Progress,
    compiler: Compiler | None = None,
) -> LambdaArtifact:
    """One zip: the entry module for `specs`, the shim, `sources`, the runtime and the wheels, with their
    bytecode for the app's Python when there is a `compiler` (`portable_fn.bytecode`)."""
    entries = with_bytecode(
        _unique(
            [
                (f"{ENTRY_MODULE}.py", entry_module(app, specs).encode("utf-8")),
                *shim_files(),
                *sources,
                *runtime_files(requirements(app)),
                *(entry for wheel in wheels for entry in _wheels.unpacked(wheel)),
            ]
        ),
        compiler,
    )
    unzipped = sum(len(c) if isinstance(c, bytes) else c.stat().st_size for _, c in entries)
    if unzipped > budget.unzipped:
        raise DeployError(_too_large(app, unzipped, budget))
    artifact = write_zip(path, entries)
    via_s3 = budget.via_s3(artifact.size)
    progress(
        f"aws: {artifact.path.name}: {artifact.files} files, {_mb(artifact.size)} zipped, "
        f"{_mb(unzipped)} unzipped, sha256 {artifact.sha256[:12]}"
        + (f"; over {_mb(budget.direct_upload)}, so it is uploaded through S3" if via_s3 else "")
    )
    return LambdaArtifact(
        artifact.path,
        artifact.sha256,
        artifact.size,
        artifact.files,
        unzipped_size=unzipped,
        via_s3=via_s3,
        architecture=arch,
    )


def combined(out_dir: Path, zips: tuple[tuple[str, LambdaArtifact], ...]) -> LambdaArtifact:
    """The artifact standing for one zip per function: the build directory, a digest of their digests."""
    parts = [zipped for _, zipped in zips]
    digest = hashlib.sha256("".join(f"{name} {z.sha256}\n" for name, z in zips).encode()).hexdigest()
    return LambdaArtifact(
        out_dir,
        digest,
        sum(z.size for z in parts),
        sum(z.files for z in parts),
        unzipped_size=sum(z.unzipped_size for z in parts),
        via_s3=any(z.via_s3 for z in parts),
        architecture=parts[0].architecture if parts else "x86_64",
        functions=zips,
    )


def app_closure(source_dir: Path, module: str) -> frozenset[str]:
    """Archive names of the app's modules that `module` imports, directly or not, with their packages'
    `__init__.py`: what import statements and `importlib.import_module("x")` / `__import__("x")` calls
    show. A module that imports a name built at run time (`import_module(f"plugins.{name}")`) could
    import any of them, so its function's closure is every module of the app."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name == ANY_MODULE:
            return frozenset(n for n, _ in ShipRules().select(source_dir) if n.endswith(".py"))
        for found in app_module_files(source_dir, name) if name else ():
            if found not in seen:
                seen.add(found)
                todo += [module for _, module in app_imports(source_dir, found)]
    return frozenset(seen)


def handler_string(spec: FunctionSpec) -> str:
    """The Lambda `Handler` setting of a function packaged by `build_package`."""
    return f"{ENTRY_MODULE}.{spec.name}"


def requirements(app: App) -> list[str]:
    """The app's requirement lines (`portable_fn.packaging.app_requirements`), index options split for pip."""
    return app_requirements(
        app, context=f"Packaging {app.name!r}", unresolvable="cannot be resolved for Lambda", split_options=True
    )


def entry_module(app: App, specs: Sequence[FunctionSpec] | None = None) -> str:
    """The source of `portable_fn_entry.py`: imports the modules of `specs` (all the app's functions
    by default), one Lambda handler per function. Every HTTP handler gets `ROUTES`, the (method, path) of
    each HTTP function of the app on its HTTP API, whichever zip it is in: what the API's 404 and 405 name
    (`http_routes`)."""
    specs = app.functions if specs is None else specs
    modules = sorted({spec.module for spec in specs})
    alias = {module: f"_m{i}" for i, module in enumerate(modules)}
    lines = [
        f'"""Generated by portable-fn for the app {app.name!r}: Lambda handler `{ENTRY_MODULE}.<function>`."""',
        "",
        f"from {PACKAGE}.shim import make_handler",
        "",
    ]
    lines += [f"import {module} as {alias[module]}" for module in modules] + [""]
    if any(isinstance(spec.trigger, Http) for spec in specs):
        lines += [f"ROUTES = {http_api_routes(app)!r}", ""]
    for spec in specs:
        handler = top_level_name(spec, "Packaging for aws", "Lambda")
        routes = ", ROUTES" if isinstance(spec.trigger, Http) else ""
        made = f"make_handler({alias[spec.module]}.{handler}.__portable_fn__{routes})"
        lines.append(f"{spec.name} = {made}" if spec.name.isidentifier() else f"globals()[{spec.name!r}] = {made}")
    return "\n".join(lines) + "\n"


def http_api_routes(app: App) -> tuple[tuple[str, str], ...]:
    """(method, path) of each HTTP function the app's HTTP API would front (not the tenant-isolated ones,
    which are on the tenants' REST API, as `deploy.rest_api.isolated` says), in the app's order: the
    order `dev`'s 404 lists routes of equal precedence in."""
    return tuple(
        (spec.trigger.method, spec.trigger.path)
        for spec in app.functions
        if isinstance(spec.trigger, Http) and not getattr(app.options(spec), "tenant_isolation", False)
    )


def shim_files(package_dir: Path = PACKAGE_DIR) -> list[Entry]:
    """The modules of this package that ship: the shim, the state backend, the publisher, the secret backend
    and the object store (`portable_fn.runtime.state`, `.channels`, `.secrets` and `.buckets` import them by
    name when a state is first used, an event first sent, a secret first read or a bucket first touched), what
    they import within the package, `__init__`."""
    return module_closure(
        package_dir,
        PACKAGE,
        ["shim", "state", "publish", "secrets", "buckets"],
        stub_init=b'"""portable-fn on AWS Lambda: the runtime shim."""\n',
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

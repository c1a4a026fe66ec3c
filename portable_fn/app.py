"""Loading an app: read its config, import its modules, collect the declared functions.

Importing is where declaration mistakes surface (the runtime checks every `@function` as it is applied),
so loading an app is also its first validation.
"""

from __future__ import annotations

import difflib
import importlib
import sys
import traceback
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from .config import AppConfig, load_config
from .runtime.buckets import Bucket
from .runtime.channels import Channel
from .runtime.errors import AppLoadError, PortableFnError
from .runtime.function import FunctionOptions, FunctionSpec, spec_of
from .runtime.resources import Resource
from .runtime.secrets import Secret
from .runtime.state import State
from .runtime.workflow import WorkflowDef


class App:
    """A loaded app: its directory, validated config and functions (in declaration order)."""

    def __init__(self, root: Path, config: AppConfig, functions: list[FunctionSpec]) -> None:
        self.root = root
        self.config = config
        self.functions = functions

    @property
    def name(self) -> str:
        return self.config.app

    @property
    def source_dir(self) -> Path:
        """The directory that holds the app's modules (put on sys.path)."""
        return (self.root / self.config.source).resolve()

    def function(self, name: str) -> FunctionSpec:
        """One function by name; an unknown name lists the ones that exist."""
        for spec in self.functions:
            if spec.name == name:
                return spec
        names = [s.name for s in self.functions]
        meant = difflib.get_close_matches(name, names, n=1)
        raise AppLoadError(
            f"App {self.name!r} has no function {name!r}; its functions are {', '.join(names)}."
            + (f" Try {meant[0]!r}." if meant else "")
        )

    def options(self, spec: FunctionSpec) -> FunctionOptions:
        """The function's options with the app's [defaults] filled in."""
        own, defaults = spec.options, self.config.defaults
        merged = FunctionOptions(
            spec.name,
            memory_mb=own.memory_mb if own.memory_mb is not None else defaults.memory_mb,
            timeout_s=own.timeout_s if own.timeout_s is not None else defaults.timeout_s,
            env={**defaults.env, **own.env},
            max_concurrency=own.max_concurrency,
            architecture=own.architecture or defaults.architecture or "x86_64",
            retries=own.retries if own.retries is not None else defaults.retries,
            dead_letter=own.dead_letter,
            uses=own.uses,
            idempotent=own.idempotent,
            retry=own.retry,
            tenant=own.tenant,
            tenant_isolation=own.tenant_isolation,
        )
        return merged

    @property
    def resources(self) -> list[Resource]:
        """Every resource some function uses, once each, in order of first use (what deploy provisions)."""
        found: dict[tuple[str, str], Resource] = {}
        for spec in self.functions:
            for use in spec.options.uses:
                found.setdefault((use.resource.kind, use.resource.name), use.resource)
        return list(found.values())

    @property
    def states(self) -> list[State]:
        """The state stores some function uses."""
        return [r for r in self.resources if isinstance(r, State)]

    @property
    def buckets(self) -> list[Bucket]:
        """The buckets some function reads or writes (`uses=[uploads.read()]`): deploy provisions each (the
        bucket of a `storage(...)` trigger of the same name is the same bucket) and grants exactly those uses."""
        return [r for r in self.resources if isinstance(r, Bucket)]

    @property
    def secrets(self) -> list[Secret]:
        """The secrets some function reads (`uses=[stripe_key]`): deploy grants each to exactly the functions
        that declare it."""
        return [r for r in self.resources if isinstance(r, Secret)]

    def readers(self, secret: Secret) -> list[FunctionSpec]:
        """The functions that declare reading `secret`."""
        return [s for s in self.functions if any(u.resource == secret for u in s.options.uses)]

    @property
    def channels(self) -> list[Channel]:
        """The topics and queues some function sends to (`uses=[order_events.publish()]`): deploy provisions
        each (whether or not a function of this app receives from it) and grants sending to exactly the
        functions that declare it."""
        return [r for r in self.resources if isinstance(r, Channel)]

    def senders(self, channel: Channel) -> list[FunctionSpec]:
        """The functions that declare sending to `channel`."""
        return [s for s in self.functions if any(u.resource == channel for u in s.options.uses)]

    def __repr__(self) -> str:
        return f"App({self.name!r}, {len(self.functions)} functions)"


def load_app(path: str | Path = ".", stage: str | None = None) -> App:
    """Load the app in `path` (a directory holding pyproject.toml with [tool.portable-fn]).

    With a declared `stage`, its modules are imported under the stage's `env` settings (`defaults.env` <
    the stage's `env`), as its functions are on a cloud: a module that reads a variable when imported (the
    issuer its `jwt()` trusts, say) declares what that stage's functions will see, and deploy configures
    the cloud (an HTTP API's JWT authorizer) from that. The process environment is restored afterwards."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise AppLoadError(f"{root} is not a directory; pass the app's directory (the one with pyproject.toml).")
    config = load_config(root)
    source = (root / config.source).resolve()
    functions: list[FunctionSpec] = []
    seen: dict[str, str] = {}
    with _stage_env(config, stage):
        modules = [_import(module_name, source, root) for module_name in config.modules]
    for module_name, module in zip(config.modules, modules):
        for spec in _specs_in(module):
            if spec.name in seen and seen[spec.name] != f"{module_name}:{spec.handler.__qualname__}":
                raise AppLoadError(
                    f"Two functions are named {spec.name!r} ({seen[spec.name]} and "
                    f"{module_name}:{spec.handler.__qualname__}); rename one or pass name='...' to @function."
                )
            if spec.name not in seen:
                seen[spec.name] = f"{module_name}:{spec.handler.__qualname__}"
                functions.append(spec)
    if not functions:
        raise AppLoadError(
            f"App {config.app!r} declares no functions: none of {config.modules} holds a handler "
            "decorated with @function(trigger=...)."
        )
    return App(root, config, functions)


def _stage_env(config: AppConfig, stage: str | None) -> AbstractContextManager[Any]:
    """The stage's `env` settings in the process environment while the app's modules are imported."""
    declared = config.stages.get(stage) if stage is not None else None
    if declared is None:
        return nullcontext()
    from .local.environment import ProcessEnv

    return ProcessEnv({**config.defaults.env, **declared.env})


def _import(module_name: str, source: Path, root: Path) -> Any:
    if str(source) in sys.path:  # first, even when an app loaded since put its own directory before it
        sys.path.remove(str(source))
    sys.path.insert(0, str(source))
    _forget_foreign(module_name, source)
    try:
        return importlib.import_module(module_name)
    except PortableFnError as exc:
        raise AppLoadError(f"{_user_frame(exc, source) or module_name}: {exc}") from exc
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):  # the app's own
            raise AppLoadError(
                f"Module {module_name!r} (listed in tool.portable-fn.modules of {root / 'pyproject.toml'}) "
                f"was not found under {source}."
            ) from None
        raise AppLoadError(
            f"Importing {module_name} from {root} failed: {exc}. Install the app's dependencies."
        ) from exc
    except SyntaxError as exc:  # where it is: the app's file and line, not importlib's frame that compiled it
        code = f": {exc.text.strip()}" if exc.text and exc.text.strip() else ""
        raise AppLoadError(
            f"Importing {module_name} from {root} raised {type(exc).__name__}: {exc.msg} at "
            f"{exc.filename}:{exc.lineno}{code}"
        ) from exc
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = _user_frame(exc, source) or f"{last.filename}:{last.lineno}"
        raise AppLoadError(
            f"Importing {module_name} from {root} raised {type(exc).__name__}: {exc} ({where})."
        ) from exc
    except SystemExit as exc:  # sys.exit() at import: said, not a silent exit (0 looked like success)
        where = _user_frame(exc, source) or module_name
        raise AppLoadError(
            f"Importing {module_name} from {root} called sys.exit({exc.code!r}) ({where}); a module of the app "
            'must not exit when imported (put that code under `if __name__ == "__main__":`).'
        ) from None


def _user_frame(exc: BaseException, source: Path) -> str | None:
    """`file:line` of the innermost frame in the app's own code (where the declaration is)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve().is_relative_to(source):
            return f"{frame.filename}:{frame.lineno}"
    return None


def _forget_foreign(module_name: str, source: Path) -> None:
    """Drop an already-imported module of the same name that lives in another app's directory."""
    top = module_name.split(".")[0]
    existing = sys.modules.get(top)
    location = getattr(existing, "__file__", None) or next(iter(getattr(existing, "__path__", [])), None)
    if existing is None or location is None:
        return
    if not Path(location).resolve().is_relative_to(source):
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]


def _specs_in(module: Any) -> list[FunctionSpec]:
    """The functions a module declares: each `@function`, and each `@workflow`'s starter and runner."""
    found = []
    for value in list(vars(module).values()):
        specs = [spec_of(value)]
        if isinstance(value, WorkflowDef):
            specs.append(spec_of(value.runner))
        found += [spec for spec in specs if spec is not None and spec.module == module.__name__]
    return found

"""`@function`: declare a handler, its trigger and its options, checked when the module is imported.

The decorator returns the user's function unchanged (so it can still be called directly in tests) and
attaches a `FunctionSpec` under `__portable_fn__`. App loading finds functions by that attribute.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import DeclarationError
from .resources import Use, uses_of
from .retry import RetryPolicy
from .triggers import Trigger

if TYPE_CHECKING:  # loaded on first use (a handler's first call, an idempotent or tenant declaration)
    from .dispatch import Binding
    from .idempotency import Idempotency
    from .tenants import TenantSource

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T", bound=Trigger)
ARCHITECTURES = ("x86_64", "arm64")
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*\Z"  # compiled (and cached by re) on first use
_FUNCTION_NAME = r"[A-Za-z][A-Za-z0-9_-]{0,62}\Z"  # compiled (and cached by re) on first use
DEFAULT_RETRIES = 2


class FunctionOptions:
    """Resource and delivery options of one function; None means the provider's default."""

    __slots__ = (
        "memory_mb",
        "timeout_s",
        "env",
        "max_concurrency",
        "architecture",
        "retries",
        "dead_letter",
        "uses",
        "idempotent",
        "retry",
        "tenant",
        "tenant_isolation",
    )

    def __init__(
        self,
        fn_name: str,
        memory_mb: int | None = None,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        max_concurrency: int | None = None,
        architecture: str | None = None,
        retries: int | None = None,
        dead_letter: bool | str = True,
        uses: Iterable[Any] | None = None,
        idempotent: bool | Idempotency = False,
        retry: RetryPolicy | None = None,
        tenant: TenantSource | None = None,
        tenant_isolation: bool = False,
    ) -> None:
        def fail(option: str, value: Any, fix: str) -> DeclarationError:
            return DeclarationError(f"@function {fn_name!r}: {option}={value!r} is invalid; {fix}.")

        if memory_mb is not None and (not _is_int(memory_mb) or not 128 <= memory_mb <= 32768):
            raise fail("memory_mb", memory_mb, "use a whole number of MB from 128 to 32768")
        if timeout_s is not None and (
            isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 1 <= timeout_s <= 3600
        ):
            raise fail("timeout_s", timeout_s, "use seconds from 1 to 3600")
        if env is not None and (
            not isinstance(env, Mapping)
            or not all(isinstance(k, str) and re.match(_ENV_NAME, k) and isinstance(v, str) for k, v in env.items())
        ):
            raise fail("env", env, "use a dict of NAME='value' strings, names like MY_SETTING")
        if max_concurrency is not None and (not _is_int(max_concurrency) or max_concurrency < 1):
            raise fail("max_concurrency", max_concurrency, "use an integer of at least 1")
        if architecture is not None and architecture not in ARCHITECTURES:
            raise fail("architecture", architecture, f"use one of {ARCHITECTURES}")
        if retries is not None and (not _is_int(retries) or not 0 <= retries <= 100):
            raise fail("retries", retries, "use an integer from 0 (never retry) to 100")
        if not isinstance(dead_letter, (bool, str)) or dead_letter == "":
            raise fail("dead_letter", dead_letter, "use True, False, or the name of a queue or topic")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise fail("retry", retry, "use RetryPolicy(attempts=..., backoff=exponential(...))")
        if retry is not None and retries is not None and retries != retry.attempts - 1:
            raise fail("retries", retries, f"give retries= or retry=, not both (retry= says {retry.attempts} attempts)")
        if not isinstance(idempotent, bool) and not hasattr(idempotent, "key_of"):
            raise fail("idempotent", idempotent, "use True or idempotent(key=..., ttl=...)")
        if tenant is not None and not _is_tenant_source(tenant):
            raise fail("tenant", tenant, "use tenant_from(claim='org_id') or tenant_from(header='X-Tenant-Id')")
        if not isinstance(tenant_isolation, bool):
            raise fail("tenant_isolation", tenant_isolation, "use True (one execution environment per tenant) or False")
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        self.max_concurrency = max_concurrency
        self.architecture = architecture
        self.retries = retry.attempts - 1 if retry is not None else retries
        self.dead_letter = dead_letter
        self.uses = _with_outbox(uses_of(fn_name, _with_store(uses, idempotent)), idempotent)  # one Use per resource
        self.idempotent = idempotent  # False, True, or an idempotency.Idempotency
        self.retry = retry  # the declared RetryPolicy, or None (then `retry_policy` is the default's)
        self.tenant = tenant  # None, or where the tenant comes from (`tenants.tenant_from`)
        self.tenant_isolation = tenant_isolation  # AWS: Lambda's per-tenant isolation mode; elsewhere logical

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: uses as "kind:name:access", the retry policy and idempotency as their repr."""
        out = {s: getattr(self, s) for s in self.__slots__}
        out["uses"] = [f"{u.resource.kind}:{u.resource.name}:{u.access}" for u in self.uses]
        out["retry"] = None if self.retry is None else repr(self.retry)
        out["idempotent"] = self.idempotent if isinstance(self.idempotent, bool) else repr(self.idempotent)
        out["tenant"] = None if self.tenant is None else repr(self.tenant)
        return out

    @property
    def max_attempts(self) -> int:
        """Deliveries before an event is dead-lettered (first delivery plus retries)."""
        return 1 + (DEFAULT_RETRIES if self.retries is None else self.retries)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The declared policy, or one of `max_attempts` deliveries with the default backoff."""
        return self.retry if self.retry is not None else RetryPolicy(self.max_attempts)


class FunctionSpec:
    """One declared function: its name, handler, trigger and options."""

    __slots__ = ("name", "handler", "trigger", "options", "module", "_binding")

    def __init__(self, name: str, handler: Callable[..., Any], trigger: Trigger, options: FunctionOptions) -> None:
        self.name = name
        self.handler = handler
        self.trigger = trigger
        self.options = options
        self.module = getattr(handler, "__module__", "")
        self._binding: Binding | None = None

    @property
    def binding(self) -> Binding:
        """How to call the handler, worked out from its signature (once)."""
        if self._binding is None:
            from .dispatch import bind_handler

            self._binding = bind_handler(self)
        return self._binding

    def trigger_as(self, kind: type[T]) -> T:
        """The trigger as the `kind` an entry point was made for (`Http`, `Schedule`, ...); a function of
        another kind is a DeclarationError naming both."""
        trigger = self.trigger
        if not isinstance(trigger, kind):
            raise DeclarationError(
                f"Function {self.name!r} has a {trigger.kind} trigger, not {kind.__name__.lower()}; regenerate its "
                "entry point (`portable-fn package`)."
            )
        return trigger

    def __repr__(self) -> str:
        return f"FunctionSpec({self.name!r}, {self.trigger!r})"


_NO_TRIGGER: Any = object()  # `@function(...)` written without trigger=


def function(trigger: Trigger = _NO_TRIGGER, *, name: str | None = None, **options: Any) -> Callable[[F], F]:
    """Declare a portable function. See `FunctionOptions` for `memory_mb`, `timeout_s`, `env`, ..."""
    unknown = set(options) - set(FunctionOptions.__slots__)
    if unknown:  # first: a misspelt `trigger=` is one of them
        known = [*FunctionOptions.__slots__, "name", "trigger"]
        meant = [m for u in sorted(unknown) for m in difflib.get_close_matches(u, known, n=1, cutoff=0.6)]
        raise DeclarationError(
            f"@function got unknown option(s) {sorted(unknown)}; the options are "
            f"{sorted(FunctionOptions.__slots__)} and name." + (f" Did you mean {', '.join(meant)}?" if meant else "")
        )
    if trigger is _NO_TRIGGER:
        raise DeclarationError(
            "@function needs a trigger: write @function(trigger=http('GET', '/path')) (or queue(...), topic(...), "
            "schedule(...), storage(...))."
        )
    if callable(trigger) and not isinstance(trigger, Trigger):
        raise DeclarationError(
            f"@function on {getattr(trigger, '__name__', trigger)!r} needs a trigger: write "
            "@function(trigger=http('GET', '/path')) (or queue(...), topic(...), schedule(...), storage(...))."
        )
    if not isinstance(trigger, Trigger):
        raise DeclarationError(
            f"@function(trigger={trigger!r}): the trigger must come from http(), queue(), topic(), "
            "schedule(), cron() or storage()."
        )

    def decorate(handler: F) -> F:
        fn_name = str(name or getattr(handler, "__name__", ""))
        if not re.match(_FUNCTION_NAME, fn_name):
            raise DeclarationError(
                f"@function name {fn_name!r} is invalid: use up to 63 letters, digits, '_' or '-', "
                "starting with a letter (pass name='...' to choose one)."
            )
        spec = FunctionSpec(fn_name, handler, trigger, FunctionOptions(fn_name, **_with_trigger(trigger, options)))
        if spec.options.tenant is not None:
            spec.options.tenant.check(fn_name, trigger)
        _ = spec.binding  # check the signature now, so mistakes surface at import time
        handler.__portable_fn__ = spec  # type: ignore[attr-defined]
        # pytest collects functions named test*: a handler imported into a test module is not one of its tests
        handler.__test__ = False  # type: ignore[attr-defined]
        return handler

    return decorate


def spec_of(handler: Any) -> FunctionSpec | None:
    """The FunctionSpec of a decorated handler, or None."""
    spec = getattr(handler, "__portable_fn__", None)
    return spec if isinstance(spec, FunctionSpec) else None


def top_level_name(spec: FunctionSpec, generating: str, host: str) -> str:
    """The name under which the function's module holds its handler: what a generated entry module
    (`main.py`, `function_app.py`, the Lambda handler module) imports. `generating` and `host` name the
    file and what loads it in the error ("Generating main.py on gcp", "functions-framework")."""
    import sys

    module = sys.modules.get(spec.module)
    for name, value in vars(module).items() if module is not None else ():
        if getattr(value, "__portable_fn__", None) is spec:
            return name
        if getattr(getattr(value, "runner", None), "__portable_fn__", None) is spec:
            return f"{name}.runner"  # a workflow's runner (`runtime.workflow.WorkflowDef.runner`)
    qualname = getattr(spec.handler, "__qualname__", "")
    if module is None and qualname.isidentifier():  # the module was unloaded since: trust the definition
        return str(qualname)
    from .errors import DeployError

    raise DeployError(
        f"{generating} for function {spec.name!r}: its handler is not a top-level name of module {spec.module!r}, "
        f"so {host} cannot reach it. Define the @function at module level."
    )


def _with_store(uses: Iterable[Any] | None, idempotent: bool | Idempotency) -> Iterable[Any] | None:
    """`uses` and, for an idempotent function, write access to the idempotency store (so deploy grants it)."""
    if idempotent is False or isinstance(uses, (str, bytes)) or not isinstance(uses, (Iterable, type(None))):
        return uses  # nothing to add, or a mistake `uses_of` names
    from .idempotency import STORE

    return [*(uses or ()), STORE.write()]


def _with_trigger(trigger: Trigger, options: dict[str, Any]) -> dict[str, Any]:
    """`options` with what the trigger itself uses added to `uses` (an HTTP trigger's API-key secret and
    rate-limit store: `Http.internal_uses`), so deploy grants them."""
    needed = getattr(trigger, "internal_uses", ())
    uses = options.get("uses")
    if not needed or isinstance(uses, (str, bytes)) or not isinstance(uses, (Iterable, type(None))):
        return options  # nothing to add, or a mistake `uses_of` names
    return {**options, "uses": [*(uses or ()), *needed]}


def _with_outbox(uses: tuple[Use, ...], idempotent: bool | Idempotency) -> tuple[Use, ...]:
    """`uses` and, for a function that emits to a topic or queue, write access to the outbox ledger (`emit`).
    An idempotent function needs none: its duplicates are answered without running, so never emit twice."""
    if idempotent is not False:
        return uses
    if not any(use.resource.kind in ("topic", "queue") and not _internal(use) for use in uses):
        return uses  # sends nothing with emit (a workflow's own queue is sent to by the engine, not emit)
    from .emit import OUTBOX

    if any(use.resource.kind == "state" and use.resource.name == OUTBOX.name for use in uses):
        return uses  # declared already (options merged again, as `App.options` does)
    return (*uses, OUTBOX.write())


def _internal(use: Use) -> bool:
    from .resources import RESERVED_PREFIX

    return use.resource.name.startswith(RESERVED_PREFIX)


def _is_tenant_source(value: object) -> bool:
    from .tenants import TenantSource

    return isinstance(value, TenantSource)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

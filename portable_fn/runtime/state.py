"""Portable state: a declared key-value store, the same API on every cloud and locally.

    orders = state("orders")

    @function(trigger=queue("orders"), uses=[orders.write()])
    def fulfil(event: CloudEvent[Order]) -> None:
        orders.create(event.data.id, event.data)          # only if absent, else KeyExistsError
        item = orders.item(event.data.id)                  # value, version, expires_at
        orders.update(event.data.id, {...}, version=item.version)   # compare-and-set, else VersionConflictError

Every backend rests on the same few primitives (`Backend`): read a record, write it unconditionally, create
it if absent (or expired), replace it if its version is still the one read, delete it. Versions are opaque
tokens made here (like an ETag), new on every write. Expiry is checked here on every read, since no store
deletes on time. Values are stored as JSON text (pydantic models and dataclasses accepted), at most
`MAX_VALUE_BYTES` so the same value fits every cloud.

While a call serves a tenant (`runtime.tenants`), a key K is stored as `t/<tenant>/K` (`stored_key`), so a
tenant reads and writes only its own keys and the handler never says so; without a tenant K is stored as
K, as before. portable-fn's own states (`pfn-...`) are never prefixed: their owners scope their keys.

Which backend serves a state is decided on first use from the environment deploy sets:
`PORTABLE_FN_PROVIDER` picks the provider's module (`portable_fn_aws.state`, ...; SQLite in
`state_sqlite` locally) and `PORTABLE_FN_STATE_<NAME>` says where the store is (`locator_env`). Cloud SDKs
are imported by those modules only, and only when a state is first used.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .errors import PortableFnError
from .resources import READ, RESERVED_PREFIX, WRITE, Resource, check_access
from .tenants import current_tenant

if TYPE_CHECKING:
    from datetime import timedelta  # annotations only: datetime costs a cold start ~1.5 ms

MAX_VALUE_BYTES = 256 * 1024  # JSON text; DynamoDB items stop at 400 KB, Azure entities at 1 MiB
MAX_KEY_CHARS = 512
CACHE_KEYS = 1024  # values `cached` keeps per state in an instance, the least recently used dropped first


class StateError(PortableFnError):
    """A state operation failed: the store refused it or cannot be reached (the message names the store)."""


class ValueTooLargeError(StateError):
    """A value's JSON is over `MAX_VALUE_BYTES` (`size` says how many bytes it is)."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class StateConflict(StateError):
    """A conditional write lost: the key exists already, or its version changed since it was read."""


class KeyExistsError(StateConflict):
    """`create` found the key present (and not expired)."""


class VersionConflictError(StateConflict):
    """`update` / `delete` found another version than the one given (or no record)."""


class Record:
    """What a backend stores for one key: the value as JSON text, an opaque version, the expiry (epoch
    seconds, or None for never)."""

    __slots__ = ("key", "value", "version", "expires_at")

    def __init__(self, key: str, value: str, version: str, expires_at: float | None = None) -> None:
        self.key = key
        self.value = value
        self.version = version
        self.expires_at = expires_at

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __repr__(self) -> str:
        return f"Record({self.key!r}, version={self.version!r}, expires_at={self.expires_at!r})"


class Backend(Protocol):
    """One store (a table, a collection) as the five primitives every cloud offers. Keys are any non-empty
    string of up to MAX_KEY_CHARS characters ('/', '#', '?', unicode included): a backend whose store
    restricts keys encodes them and gives them back unchanged."""

    def read(self, key: str) -> Record | None:
        """The stored record, expired or not (None when absent)."""

    def write(self, record: Record) -> None:
        """Store `record`, whatever is there."""

    def create(self, record: Record, now: float) -> bool:
        """Store `record` only if the key is absent or its record expired at `now`; False when it is not."""

    def replace(self, record: Record, version: str) -> bool:
        """Store `record` only if the stored record's version is `version`; False otherwise (or absent)."""

    def delete(self, key: str, version: str | None = None) -> bool:
        """Delete the key (only at `version` when given); False when nothing matching was there."""


def create_or_read(backend: Backend, record: Record, now: float) -> tuple[bool, Record | None]:
    """Create `record` if its key is absent or expired at `now`: `(True, None)`; else `(False, the record
    found)` (None when it vanished in between). A backend that can hand back what its create lost to in the
    same request (DynamoDB) offers `create_or_read` itself; any other pays a second request, a read."""
    own = getattr(backend, "create_or_read", None)
    if own is not None:
        created, found = own(record, now)
        return bool(created), found
    if backend.create(record, now):
        return True, None
    return False, backend.read(record.key)


class Item:
    """A value read from a state, with the version to update it at and when it expires."""

    __slots__ = ("key", "value", "version", "expires_at")

    def __init__(self, key: str, value: Any, version: str, expires_at: float | None) -> None:
        self.key = key
        self.value = value
        self.version = version
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return f"Item({self.key!r}, version={self.version!r})"


class State(Resource):
    """A declared key-value store (`state("orders")`). `ttl` (seconds or a timedelta) is the default expiry
    of what is written; `model` (a pydantic model or dataclass type) rebuilds values on read."""

    kind = "state"

    def __init__(
        self, name: str, *, ttl: float | timedelta | None = None, model: Any = None, internal: bool = False
    ) -> None:
        super().__init__(name, internal=internal)
        self.ttl = _seconds(ttl, f"state({name!r}) ttl")
        self.model = model
        self._backend: Backend | None = None
        self._cache: Any = None  # key -> (value, fresh until): an OrderedDict made on the first `cached`
        self._cache_lock = threading.Lock()
        self._opened = _generation  # the `use_backends` generation `_backend` was opened in

    # -- reading -----------------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        """The value under `key`, or `default` when absent or expired."""
        item = self.item(key)
        return default if item is None else item.value

    def item(self, key: str) -> Item | None:
        """The value under `key` with its version, or None when absent or expired."""
        check_access(self, READ)
        record = self.backend.read(_key(self, key))
        if record is None or record.expired(time.time()):
            return None
        return Item(key, self._decode(record.value), record.version, record.expires_at)

    def cached(self, key: str, ttl: float | timedelta, load: Callable[[], Any]) -> Any:
        """The value under `key`, from this instance's cache while it is fresh (no store call), else from
        the store, else `load()` (stored with `ttl`); kept here for `ttl` (at most until it expires in the
        store). What this instance writes under `key` drops its cached value; other instances' writes are
        seen once it is stale."""
        check_access(self, READ)
        seconds = _seconds(ttl, f"state {self.name!r} cached ttl")
        if seconds is None:
            raise StateError(f"state {self.name!r}: cached({key!r}) needs ttl=, how long a value stays fresh here.")
        now = time.time()
        cache, stored = self._cache, _key(self, key)  # cached by the stored key: one tenant's never another's
        with self._cache_lock:
            hit = cache.get(stored) if cache is not None else None
            if hit is not None and hit[1] > now:
                cache.move_to_end(stored)
                return hit[0]
        item = self.item(key)
        if item is None:
            value = load()
            self.put(key, value, ttl=seconds)
            fresh_until = now + seconds
        else:
            value = item.value
            fresh_until = min(now + seconds, item.expires_at or now + seconds)
        self._remember(stored, value, fresh_until)
        return value

    # -- writing -----------------------------------------------------------------------------------

    def put(self, key: str, value: Any, ttl: float | timedelta | None = None) -> str:
        """Store `value` under `key` whatever is there; the new version."""
        record = self._record(key, value, ttl)
        self.backend.write(record)
        return record.version

    def create(self, key: str, value: Any, ttl: float | timedelta | None = None) -> str:
        """Store `value` only if `key` is absent (or expired); the new version, else KeyExistsError."""
        record = self._record(key, value, ttl)
        if not self.backend.create(record, time.time()):
            raise KeyExistsError(f"state {self.name!r}: key {key!r} exists already (create stores only new keys).")
        return record.version

    def update(self, key: str, value: Any, version: str, ttl: float | timedelta | None = None) -> str:
        """Store `value` only if the stored version is still `version` (from `item`); the new version, else
        VersionConflictError (read it again and retry)."""
        record = self._record(key, value, ttl)
        if not self.backend.replace(record, version):
            raise VersionConflictError(
                f"state {self.name!r}: key {key!r} is no longer at version {version!r} (changed or deleted since it "
                "was read); read it again with item() and retry."
            )
        return record.version

    def delete(self, key: str, version: str | None = None) -> bool:
        """Delete `key` (only at `version` when given); False when it was not there."""
        check_access(self, WRITE)
        stored = _key(self, key)
        self._forget(stored)
        return self.backend.delete(stored, version)

    # -- plumbing ----------------------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        """The store serving this state here, opened on first use (`open_backend`)."""
        if self._backend is None or self._opened != _generation:
            self._backend, self._opened = open_backend(self.name), _generation
            self._cache = None  # what `cached` kept came from the store used before
        return self._backend

    @backend.setter
    def backend(self, backend: Backend | None) -> None:
        self._backend, self._opened, self._cache = backend, _generation, None

    def _record(self, key: str, value: Any, ttl: float | timedelta | None) -> Record:
        check_access(self, WRITE)
        stored = _key(self, key)
        self._forget(stored)
        seconds = self.ttl if ttl is None else _seconds(ttl, f"state {self.name!r} ttl")
        expires_at = None if seconds is None else time.time() + seconds
        return Record(stored, self._encode(key, value), new_version(), expires_at)

    def _remember(self, stored: str, value: Any, fresh_until: float) -> None:
        with self._cache_lock:
            if self._cache is None:
                from collections import OrderedDict

                self._cache = OrderedDict()
            self._cache[stored] = (value, fresh_until)
            self._cache.move_to_end(stored)
            if len(self._cache) > CACHE_KEYS:
                self._cache.popitem(last=False)

    def _forget(self, stored: str) -> None:
        cache = self._cache
        if cache is not None:
            with self._cache_lock:
                cache.pop(stored, None)

    def _encode(self, key: str, value: Any) -> str:
        try:
            text = json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise StateError(
                f"state {self.name!r}: the value for key {key!r} is not JSON-serialisable ({exc}); store dicts, "
                "lists, strings, numbers, pydantic models or dataclasses."
            ) from None
        size = len(text.encode())
        if size > MAX_VALUE_BYTES:
            raise ValueTooLargeError(
                f"state {self.name!r}: the value for key {key!r} is {size} bytes of JSON; the limit "
                f"is {MAX_VALUE_BYTES} on every cloud. Store it in a bucket and keep its key here.",
                size,
            )
        return text

    def _decode(self, text: str) -> Any:
        value = json.loads(text)
        model = self.model
        if model is None:
            return value
        if hasattr(model, "model_validate"):
            return model.model_validate(value)
        return model(**value)


def state(name: str, *, ttl: float | timedelta | None = None, model: Any = None) -> State:
    """Declare a portable key-value store (see `State`)."""
    return State(name, ttl=ttl, model=model)


def new_version() -> str:
    """A fresh opaque version token (128 random bits, as a uuid4 has; without importing uuid, 10 ms cold)."""
    return os.urandom(16).hex()


def to_jsonable(value: Any) -> Any:
    """A pydantic model or dataclass as plain JSON data; anything else as it is."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def locator_env(name: str) -> str:
    """The environment variable deploy sets to say where state `name` lives (`PORTABLE_FN_STATE_ORDERS`)."""
    return "PORTABLE_FN_STATE_" + name.upper().replace("-", "_")


# -- which backend --------------------------------------------------------------------------------

BackendFactory = Callable[[str, "str | None"], Backend]
_factory: BackendFactory | None = None
_generation = 0  # bumped by `use_backends`, so a state opened before opens its store again on next use


def use_backends(factory: BackendFactory | None) -> BackendFactory | None:
    """Open every state with `factory(name, locator)` from its next use on, those opened already included
    (tests; None restores the default). Returns the factory used until now, to restore it after."""
    global _factory, _generation
    previous, _factory = _factory, factory
    _generation += 1
    return previous


def open_backend(name: str) -> Backend:
    """The backend for state `name` here: the provider deploy named in `PORTABLE_FN_PROVIDER` (SQLite
    locally), at the place `PORTABLE_FN_STATE_<NAME>` names."""
    locator = os.environ.get(locator_env(name)) or None
    if _factory is not None:
        return _factory(name, locator)
    provider = os.environ.get("PORTABLE_FN_PROVIDER", "local")
    if provider == "local":
        from .state_sqlite import open_backend as open_sqlite

        return open_sqlite(name, locator)
    if locator is None:
        raise StateError(
            f"state {name!r} is not provisioned for this function on {provider}: {locator_env(name)} is unset. "
            "Declare it in the function's uses= and deploy again."
        )
    import importlib

    try:
        module = importlib.import_module(f"portable_fn_{provider}.state")
    except ImportError as exc:
        raise StateError(f"state {name!r}: the {provider} state backend cannot be loaded ({exc}).") from exc
    backend: Backend = module.open_backend(name, locator)
    return backend


def _key(state: State, key: str) -> str:
    """The key `key` of `state` is stored under here: checked, then scoped to the running call's tenant."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        raise StateError(
            f"state {state.name!r}: key {key!r} must be a non-empty string of at most {MAX_KEY_CHARS} characters."
        )
    if state.name.startswith(RESERVED_PREFIX):
        return key
    tenant = current_tenant()
    return key if tenant is None else stored_key(tenant, key)


def stored_key(tenant: str, key: str) -> str:
    """Where tenant `tenant`'s key `key` is stored: `t/<tenant>/<key>`, or `t/<tenant>/sha256:<hex of key>`
    when that would pass MAX_KEY_CHARS (every backend takes keys up to that long)."""
    scoped = f"t/{tenant}/{key}"
    if len(scoped) <= MAX_KEY_CHARS:
        return scoped
    import hashlib

    return f"t/{tenant}/sha256:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _seconds(ttl: float | timedelta | None, what: str) -> float | None:
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if hasattr(ttl, "total_seconds") else ttl
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise StateError(f"{what}={ttl!r} must be a positive number of seconds or a timedelta.")
    return float(seconds)

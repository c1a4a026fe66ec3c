"""Declared buckets: objects a function reads or writes, the same API on every cloud and locally.

    uploads = bucket("uploads")

    @function(trigger=storage(uploads, on="created", prefix="in/"), uses=[uploads.read()])
    def scan(event: CloudEvent[StorageObject]) -> None:
        body = uploads.get(event.data.key)                 # bytes, or None when there is no such object

    @function(trigger=http("POST", "/reports"), uses=[uploads.write()])
    def report(request: Request) -> Response:
        uploads.put("out/report.csv", text, content_type="text/csv")
        ...

A bucket is a `Resource`: deploy provisions it (the same bucket a `storage(uploads)` trigger watches) and grants
each function exactly what its `uses=` says: `.read()` is get and list, `.write()` adds put and delete. At run
time, touching a bucket the running function did not declare fails here before any call is made, in `dev` as
on every cloud.

Keys follow one rule everywhere (`check_key`): at most 1,024 UTF-8 bytes (S3's, Cloud Storage's and Blob
Storage's limit), no control characters (C0, DEL, C1: Cloud Storage refuses CR and LF), and '/'-separated parts that are
not empty and do not start with '.', so a local bucket folder can hold every key a cloud is given. Keys are not
scoped per tenant: a bucket holds objects that people and other systems name, unlike a state's keys.

Which store serves a bucket is decided on first use, as for state: `PORTABLE_FN_PROVIDER` picks the provider's
module (`portable_fn_aws.buckets`, ...) and `PORTABLE_FN_BUCKET_<NAME>` (`locator_env`) names the physical
bucket deploy made. Locally the bucket is the folder `<PORTABLE_FN_STATE_DIR>/buckets/<name>`, the one the dev
host watches for storage triggers, so a `put` in `dev` fires them as an upload on a cloud would.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .errors import PortableFnError
from .resources import READ, WRITE, Resource, check_access

MAX_KEY_BYTES = 1024
MAX_PART_BYTES = 255  # a file name on the local file systems a bucket folder lives on
LIST_LIMIT = 1000  # keys `keys()` returns unless told otherwise (one page on S3, GCS and Blob Storage)
DEFAULT_DIR = ".portable-fn/state"  # as `state_sqlite`: the dev host points PORTABLE_FN_STATE_DIR elsewhere
PROVIDER_ENV = "PORTABLE_FN_PROVIDER"
STATE_DIR_ENV = "PORTABLE_FN_STATE_DIR"


class BucketError(PortableFnError):
    """A bucket operation failed: a key no cloud keeps, or the store refused the call or cannot be reached."""


class ObjectStore(Protocol):
    """What a provider's module gives for one physical bucket. Keys reach it checked (`check_key`)."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write the object whole, replacing any object of that key."""

    def delete(self, key: str) -> bool:
        """Delete the object; False when there was none."""

    def keys(self, prefix: str, limit: int) -> list[str]:
        """The first `limit` keys starting with `prefix`, in the store's (lexicographic) order."""


class Bucket(Resource):
    """A declared bucket with a logical `name`: the same bucket a `storage(name)` trigger watches."""

    kind = "bucket"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._store: ObjectStore | None = None
        self._opened_for: tuple[object, ...] = ()

    def get(self, key: str) -> bytes | None:
        """The object `key` as bytes, or None when the bucket holds no such object (needs `.read()`)."""
        return self._open(key, READ).get(key)

    def put(self, key: str, data: bytes | str, content_type: str | None = None) -> None:
        """Write object `key` whole (needs `.write()`). Text is stored as UTF-8 and, unless `content_type` says
        otherwise, as `text/plain; charset=utf-8`; bytes as `application/octet-stream`."""
        if isinstance(data, str):
            data, default = data.encode("utf-8"), "text/plain; charset=utf-8"
        elif isinstance(data, (bytes, bytearray, memoryview)):
            data, default = bytes(data), "application/octet-stream"
        else:
            raise BucketError(
                f"bucket {self.name!r}: put({key!r}, ...) takes bytes or str, got {type(data).__name__}; "
                "serialise the value first (json.dumps(value), say)."
            )
        self._open(key, WRITE).put(key, data, content_type or default)

    def delete(self, key: str) -> bool:
        """Delete object `key`; False when there was none (needs `.write()`)."""
        return self._open(key, WRITE).delete(key)

    def keys(self, prefix: str = "", limit: int = LIST_LIMIT) -> list[str]:
        """The keys starting with `prefix`, at most `limit` of them, in lexicographic order (needs `.read()`)."""
        if not isinstance(prefix, str):
            raise BucketError(f"bucket {self.name!r}: keys(prefix={prefix!r}) takes a string prefix.")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise BucketError(f"bucket {self.name!r}: keys(limit={limit!r}) takes a positive integer.")
        check_access(self, READ)
        return self._backend().keys(prefix, limit)

    def _open(self, key: str, access: str) -> ObjectStore:
        check_key(self.name, key)
        check_access(self, access)
        return self._backend()

    def _backend(self) -> ObjectStore:
        """The store, opened again whenever what chooses it changed (a test's `use_stores`, another dev host's
        state directory in the same process)."""
        chosen_by = (_generation, *(os.environ.get(n) for n in (PROVIDER_ENV, STATE_DIR_ENV, locator_env(self.name))))
        if self._store is None or self._opened_for != chosen_by:
            self._store, self._opened_for = open_store(self.name), chosen_by
        return self._store


def bucket(name: str) -> Bucket:
    """Declare a bucket: `uploads = bucket("uploads")`, then `uses=[uploads.read()]` or `uploads.write()`."""
    return Bucket(name)


def check_key(bucket_name: str, key: object) -> None:
    """Refuse a key some cloud or a local bucket folder cannot keep, naming the rule it breaks."""
    if not isinstance(key, str) or not key:
        raise BucketError(f"bucket {bucket_name!r}: an object key is a non-empty string, got {key!r}.")
    shown = repr(key if len(key) <= 60 else key[:60] + "...")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise BucketError(f"bucket {bucket_name!r}: key {shown} is {size:,} bytes; keys are at most {MAX_KEY_BYTES}.")
    problem = key_problem(key)
    if problem is not None:
        raise BucketError(f"bucket {bucket_name!r}: key {shown} {problem}.")


def key_problem(key: str) -> str | None:
    """Why some cloud or a local bucket folder cannot keep `key` (its length aside), or None; the one rule
    `check_key` and the dev host's bucket API (`portable_fn.local.host`) hold keys to."""
    control = next((c for c in key if c < " " or "\x7f" <= c <= "\x9f"), None)  # C0, DEL and C1
    if control is not None:
        return (
            f"holds the control character {control!r}; keys hold printable characters only (Cloud Storage "
            "refuses CR and LF, Blob Storage the C1 controls, and no cloud keeps NUL)"
        )
    parts = key.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") or "\\" in p for p in parts):
        return "is not allowed: use '/'-separated names that are not empty, hold no '\\' and do not start with '.'"
    if any(len(p.encode("utf-8", "surrogatepass")) > MAX_PART_BYTES for p in parts):
        return (
            f"has a '/'-separated part over {MAX_PART_BYTES} bytes, which a local bucket folder cannot hold as a "
            "file name; use shorter parts"
        )
    return None


def locator_env(name: str) -> str:
    """The environment variable deploy sets to the physical bucket of `name` (`PORTABLE_FN_BUCKET_UPLOADS`)."""
    return "PORTABLE_FN_BUCKET_" + name.upper().replace("-", "_")


# -- which store ----------------------------------------------------------------------------------

StoreFactory = Callable[[str, "str | None"], ObjectStore]
_factory: StoreFactory | None = None
_generation = 0  # bumped by `use_stores`, so a bucket opened before opens its store again on next use


def use_stores(factory: StoreFactory | None) -> StoreFactory | None:
    """Open every bucket with `factory(name, locator)` from its next use on (tests; None restores the
    default). Returns the factory used until now, to restore it after."""
    global _factory, _generation
    previous, _factory = _factory, factory
    _generation += 1
    return previous


def open_store(name: str) -> ObjectStore:
    """The store of bucket `name` here: the provider deploy named in `PORTABLE_FN_PROVIDER` (a folder
    locally), the physical bucket `PORTABLE_FN_BUCKET_<NAME>` names."""
    locator = os.environ.get(locator_env(name)) or None
    if _factory is not None:
        return _factory(name, locator)
    provider = os.environ.get(PROVIDER_ENV, "local")
    if provider == "local":
        return FolderStore(Path(locator) if locator else local_folder(name))
    if locator is None:
        raise BucketError(
            f"bucket {name!r} is not provisioned for this function on {provider}: {locator_env(name)} is unset. "
            "Declare it in the function's uses= and deploy again."
        )
    import importlib

    try:
        module = importlib.import_module(f"portable_fn_{provider}.buckets")
    except ImportError as exc:
        raise BucketError(f"bucket {name!r}: the {provider} bucket store cannot be loaded ({exc}).") from exc
    store: ObjectStore = module.open_store(name, locator)
    return store


def local_folder(name: str) -> Path:
    """The folder of bucket `name` locally: where the dev host watches it for storage triggers."""
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_DIR) / "buckets" / name


class FolderStore:
    """A bucket as a folder: one file per object, `/` in a key a sub-folder. Writes go to a hidden temporary
    file first and replace the object in one rename, so a reader (or the dev host's watcher, which ignores
    names starting with '.') never sees half an object. Content types are not kept: no local reader asks."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            write_file(self._path(key), data)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise BucketError(
                f"Object key {key!r} cannot be kept in a local bucket folder: the key is also the "
                "folder of another key (clouds allow that, folders do not)."
            ) from None

    def delete(self, key: str) -> bool:
        path = self._path(key)
        if not path.is_file():
            return False
        path.unlink()
        return True

    def keys(self, prefix: str, limit: int) -> list[str]:
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.rglob("*"):
            relative = path.relative_to(self.root)
            if not path.is_file() or any(part.startswith(".") for part in relative.parts):
                continue
            key = "/".join(relative.parts)
            if key.startswith(prefix):
                found.append(key)
        return sorted(found, key=lambda k: k.encode("utf-8", "surrogatepass"))[:limit]


def write_file(path: Path, data: bytes) -> None:
    """Write a bucket folder's file whole or not at all: into a hidden temporary file, then renamed. The
    temporary name is not the key's: a key's own name may already take all 255 bytes a file name has."""
    import uuid  # here: only the local store needs it, and it costs every function's cold start ~4 ms

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{uuid.uuid4().hex}.part")
    try:
        temp.write_bytes(data)
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)  # after a rename there is nothing left; after a failure, the bytes written

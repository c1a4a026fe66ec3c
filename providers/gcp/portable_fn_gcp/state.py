"""The Firestore state backend: what `state("orders")` reads and writes on Cloud Functions.

Ships in the source zip only when the app uses a state (with `google-cloud-firestore` in its
requirements), and is imported only when a function first uses one (`portable_fn.runtime.state.open_backend`
finds it by `PORTABLE_FN_PROVIDER=gcp`); the Firestore client is imported then too, so a function that
uses no state never pays for it.

Deploy makes one Firestore database per state (`<app>-<stage>-<state>`, so IAM can scope a grant to it)
and names its collection in `PORTABLE_FN_STATE_<NAME>`, the locator, as Firestore names a collection:
`projects/<project>/databases/<database>/documents/<collection>`. One document per key:

| field        | type      | holds                                                                     |
|--------------|-----------|---------------------------------------------------------------------------|
| `key`        | string    | the key, as given                                                         |
| `value`      | string    | the value as JSON text                                                    |
| `version`    | string    | the opaque version of this write                                          |
| `expires_s`  | double    | when the value expires, epoch seconds as given (null: never); checked in  |
|              |           | code                                                                      |
| `expires_at` | timestamp | the same as a timestamp (microseconds): the field of the collection's TTL |
|              |           | policy, Firestore's own cleanup (it runs a day or so late)                |

Document ids cannot hold '/', be '.' or '..', match `__.*__` or pass 1500 bytes, so a key's id is
`k` + the unpadded base64url of its UTF-8 bytes (no '/', no '.', never starting with `__`), or `h` + the
SHA-256 of those bytes when that would be too long; the key itself is read from its field.

Conditional writes use Firestore's own preconditions, so they hold across every instance without a
transaction's retries: `create` is a document create (it fails when the document exists; an expired one is
then updated only if it is still the one read, by its update time), `replace` and a versioned `delete`
act only at the update time of the document whose version was read. The client honours
`FIRESTORE_EMULATOR_HOST` (the emulator) as the library does.

Every call retries what the library retries (an unavailable or overloaded store) for `RETRY_S` seconds at
most. The library's own deadlines (60 s for a write, 300 s for a read) outlast a function's timeout, so a
store that cannot be reached would hang the function instead of failing the call: a circuit breaker could
not fail open, a function could not answer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timezone
from typing import Any

from portable_fn.runtime.state import Record, StateError

KEY, VALUE, VERSION, EXPIRES_S, EXPIRES_AT = "key", "value", "version", "expires_s", "expires_at"
MAX_ID_BYTES = 1500
LOCATOR = re.compile(r"projects/(?P<project>[^/]+)/databases/(?P<database>[^/]+)/documents/(?P<collection>[^/]+)\Z")
MAX_CODE_POINT, SURROGATES_START, SURROGATES_END = 0x10FFFF, 0xD800, 0xE000
ATTEMPTS = 20  # a conditional write that raced a change reads again; this many rounds at most
RETRY_S = 5.0  # how long one call retries a store that does not answer


def open_backend(name: str, locator: str) -> FirestoreBackend:
    """The backend of state `name` at `locator` (`projects/P/databases/D/documents/C`, as deploy sets it)."""
    found = LOCATOR.match(locator)
    if found is None:
        raise StateError(
            f"state {name!r} on gcp: the locator {locator!r} is not a Firestore collection "
            "(projects/<project>/databases/<database>/documents/<collection>). Deploy again with `portable-fn "
            "deploy`, which sets it."
        )
    from google.cloud import firestore

    client = firestore.Client(project=found["project"], database=found["database"])
    return FirestoreBackend(client, found["collection"], name)


def document_id(key: str) -> str:
    """The document id of `key`: one Firestore accepts, distinct per key."""
    raw = key.encode("utf-8")
    encoded = "k" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return encoded if len(encoded) <= MAX_ID_BYTES else "h" + hashlib.sha256(raw).hexdigest()


class FirestoreBackend:
    """One state in one Firestore collection, through one client (thread-safe, shared by the threads)."""

    def __init__(self, client: Any, collection: str, name: str = "") -> None:
        from google.api_core import exceptions

        self.client = client
        self.collection = client.collection(collection)
        self.name = name or collection
        self._lost = (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Conflict)
        self._exists = exceptions.Conflict  # AlreadyExists, 409
        busy = (exceptions.ServiceUnavailable, exceptions.ResourceExhausted)
        # What the library itself retries: a read on all four; a write only when the store refused it, as a
        # write that timed out or failed inside may have been applied.
        self._reading = bounded(*busy, exceptions.DeadlineExceeded, exceptions.InternalServerError)
        self._writing = bounded(*busy)

    def read(self, key: str) -> Record | None:
        found = self._ref(key).get(**self._reading)
        return record_of(found.to_dict()) if found.exists else None

    def write(self, record: Record) -> None:
        self._ref(record.key).set(fields(record), **self._writing)

    def create(self, record: Record, now: float) -> bool:
        ref = self._ref(record.key)
        for _ in range(ATTEMPTS):
            try:
                ref.create(fields(record), **self._writing)
                return True
            except self._exists:
                pass
            found = ref.get(**self._reading)
            if found.exists and not record_of(found.to_dict()).expired(now):
                return False
            if found.exists and self._update_at(ref, record, found.update_time):
                return True  # took over the expired record it read
        raise self._busy("create", record.key)

    def replace(self, record: Record, version: str) -> bool:
        ref = self._ref(record.key)
        found = ref.get(**self._reading)
        if not found.exists or found.get(VERSION) != version:
            return False
        return self._update_at(ref, record, found.update_time)

    def delete(self, key: str, version: str | None = None) -> bool:
        ref = self._ref(key)
        for _ in range(ATTEMPTS):
            found = ref.get(**self._reading)
            if not found.exists or (version is not None and found.get(VERSION) != version):
                return False
            try:
                ref.delete(option=self.client.write_option(last_update_time=found.update_time), **self._writing)
                return True
            except self._lost:
                if version is not None:
                    return False  # changed since read: no longer that version
        raise self._busy("delete", key)

    def scan(self, prefix: str, limit: int = 100) -> list[Record]:
        """Up to `limit` records whose key starts with `prefix`, by key (listing, not a hot path): a range query
        on the `key` field, from `prefix` to the first string past every key that starts with it."""
        from google.cloud.firestore import FieldFilter

        query = self.collection.where(filter=FieldFilter(KEY, ">=", prefix))
        if (end := past(prefix)) is not None:
            query = query.where(filter=FieldFilter(KEY, "<", end))
        return [record_of(document.to_dict()) for document in query.order_by(KEY).limit(limit).stream(**self._reading)]

    def _update_at(self, ref: Any, record: Record, update_time: Any) -> bool:
        """Write `record` over the document only if it is still at `update_time`; False when it changed."""
        try:
            ref.update(fields(record), option=self.client.write_option(last_update_time=update_time), **self._writing)
            return True
        except self._lost:
            return False

    def _ref(self, key: str) -> Any:
        return self.collection.document(document_id(key))

    def _busy(self, what: str, key: str) -> StateError:
        return StateError(
            f"state {self.name!r} on gcp: {what} of key {key!r} kept racing other writers ({ATTEMPTS} rounds); "
            "retry the invocation."
        )


def bounded(*transient: type[Exception]) -> dict[str, Any]:
    """The `retry=` of a call: on the `transient` errors, backing off from 0.1 s to 1 s, for RETRY_S in all."""
    from google.api_core import retry

    return {"retry": retry.Retry(retry.if_exception_type(*transient), initial=0.1, maximum=1.0, timeout=RETRY_S)}


def past(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (None: there is none, as for ''):
    its last code point that can grow, grown by one. Firestore orders strings by their UTF-8 bytes, which is
    code point order; the surrogates, which UTF-8 cannot hold, are stepped over."""
    for cut in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[cut])
        if code < MAX_CODE_POINT:
            return prefix[:cut] + chr(SURROGATES_END if code + 1 == SURROGATES_START else code + 1)
    return None


def fields(record: Record) -> dict[str, Any]:
    expires = record.expires_at
    return {
        KEY: record.key,
        VALUE: record.value,
        VERSION: record.version,
        EXPIRES_S: expires,
        EXPIRES_AT: None if expires is None else datetime.fromtimestamp(expires, timezone.utc),
    }


def record_of(found: dict[str, Any] | None) -> Record:
    found = found or {}
    expires = found.get(EXPIRES_S)
    return Record(found[KEY], found[VALUE], found[VERSION], None if expires is None else float(expires))

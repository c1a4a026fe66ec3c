"""The Cloud Storage object store: what a declared bucket (`uploads = bucket("uploads")`) reads and writes on
Cloud Functions.

Imported only when a function first touches a bucket (`portable_fn.runtime.buckets.open_store` finds it by
`PORTABLE_FN_PROVIDER=gcp`), and `google-cloud-storage` only then too, so a function that touches no bucket
never pays for it. Deploy names the physical bucket in `PORTABLE_FN_BUCKET_<NAME>` (the locator: the bucket's
name, nothing more) on the functions that declare it, and grants their service account a role on that bucket
alone.

Keys reach the store checked (`check_key`), and Cloud Storage keeps every such key as an object name as is.
It lists object names in lexicographic order of their UTF-8 bytes, the order `keys()` promises. The client
honours `STORAGE_EMULATOR_HOST` (an emulator, called without credentials) as the library does.

Every call is bounded: each HTTP request waits `TIMEOUT_S` at most, and what the library retries (a store
that is overloaded or cannot be reached) is retried for `RETRY_S` in all. The library's own defaults (60 s a
request, 120 s of retries) outlast a function's timeout, so a store that cannot be reached would hang the
function instead of failing the call. A put is retried too: it writes the object whole, so writing it again
gives the same object.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from portable_fn.runtime.buckets import BucketError

TIMEOUT_S = 10.0  # one HTTP request, connect and read
RETRY_S = 5.0  # how long one call retries a store that does not answer
# What Cloud Storage takes as a bucket name (https://cloud.google.com/storage/docs/buckets#naming): 3 to 63
# characters of [a-z0-9-_.], starting and ending with a letter or digit (222 with dots; deploy makes none).
BUCKET_NAME = re.compile(r"[a-z0-9][-_.a-z0-9]{1,220}[a-z0-9]\Z")


def open_store(name: str, locator: str) -> CloudStorageStore:
    """The store of declared bucket `name` in the Cloud Storage bucket `locator` (as deploy sets it)."""
    if BUCKET_NAME.match(locator) is None:
        raise BucketError(
            f"bucket {name!r} on gcp: {locator!r} is not a Cloud Storage bucket name. Deploy again with "
            "`portable-fn deploy`, which sets it."
        )
    from google.cloud import storage

    return CloudStorageStore(storage.Client(), locator, name)


class CloudStorageStore:
    """One Cloud Storage bucket, through one client (thread-safe, shared by the function's threads)."""

    def __init__(self, client: Any, bucket: str, name: str = "") -> None:
        from google.api_core import exceptions
        from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]

        self.client = client
        self.bucket = client.bucket(bucket)
        self.name = name or bucket
        self._missing = exceptions.NotFound
        self._bounded = {"timeout": TIMEOUT_S, "retry": DEFAULT_RETRY.with_delay(0.1, 1.0).with_timeout(RETRY_S)}

    def get(self, key: str) -> bytes | None:
        try:
            data: bytes = self._call("read", key, lambda: self.bucket.blob(key).download_as_bytes(**self._bounded))
        except _Missing:
            return None
        return data

    def put(self, key: str, data: bytes, content_type: str) -> None:
        blob = self.bucket.blob(key)
        self._call("write", key, lambda: blob.upload_from_string(data, content_type=content_type, **self._bounded))

    def delete(self, key: str) -> bool:
        try:
            self._call("delete", key, lambda: self.bucket.blob(key).delete(**self._bounded))
        except _Missing:
            return False
        return True

    def keys(self, prefix: str, limit: int) -> list[str]:
        def listed() -> list[str]:
            found = self.client.list_blobs(self.bucket, prefix=prefix, max_results=limit, **self._bounded)
            return [blob.name for blob in itertools.islice(found, limit)]  # a page may hold more than asked

        try:
            keys: list[str] = self._call("list", prefix, listed)
        except _Missing:
            raise BucketError(
                f"bucket {self.name!r} on gcp: the Cloud Storage bucket {self.bucket.name!r} does not exist. "
                "Deploy again with `portable-fn deploy`, which makes it."
            ) from None
        return keys

    def _call(self, what: str, key: str, call: Callable[[], Any]) -> Any:
        """`call()`; no such object raises `_Missing`, any other failure a BucketError naming the bucket, the key
        and the cause."""
        import requests
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError

        try:
            return call()
        except self._missing:
            raise _Missing from None
        except (GoogleAPIError, GoogleAuthError, requests.RequestException) as exc:
            raise BucketError(
                f"bucket {self.name!r} on gcp: {what} of {key!r} in Cloud Storage bucket {self.bucket.name!r} "
                f"failed ({type(exc).__name__}: {exc})."
            ) from exc


class _Missing(Exception):
    """No such object (Cloud Storage's 404): `get` gives None, `delete` False."""

"""The Azure bucket store: a declared bucket is a Blob Storage container, read and written through
azure-storage-blob.

Deploy makes the container in the app's storage account (the one a `storage(name)` trigger of the same name
watches: `names.container_name`) and sets `PORTABLE_FN_BUCKET_<NAME>` to its URL,
`https://<account>.blob.core.windows.net/<container>`. A function reaches it with its own managed identity (the
custom bucket reader or writer role on that container: see `identity`), or, when `PORTABLE_FN_BLOBS_CONNECTION`
holds a storage connection string (deploy with `storage_auth = "connection_string"`, or Azurite), with that;
the locator then names only the container.

An object is a block blob of the same name, its content type the blob's Content-Type. A missing blob reads as
None (get) or False (delete); a missing container is an error, since deploy made it: the message says so.

Every client is bounded as the state tables' are (`state.CLIENT_BOUNDS`: 1 s to connect, 10 s between the
bytes of an answer, one connection and one read retry, three retries in all). The storage SDK brings its own
retry policy, whose default waits 15 s before the first retry and 15 + 3^n s before the next (with 3 s of
jitter, up to ten retries): here a `LinearRetry` of 1 s, since its exponential one cannot retry at once (it
counts the first retry as the first power). So a refused connection fails the call after one retry, about
1 s; a 503 Server Busy is retried three times over 3 s, as the tables' backoff (0, 1.6, 3.2 s) about does.

The SDK is imported on first use only: a function that uses no bucket never loads it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

from portable_fn.runtime.buckets import BucketError

from .identity import ClientPerIdentity, managed_identity

CONNECTION_ENV = "PORTABLE_FN_BLOBS_CONNECTION"
PAGE = 5000  # the most names one List Blobs call answers
CLIENT_BOUNDS: dict[str, Any] = {"connection_timeout": 1.0, "read_timeout": 10.0}
# the storage SDK's own retry policy's keywords: 1 s before each retry (see the module docstring)
RETRY_BOUNDS: dict[str, Any] = {
    "backoff": 1,
    "random_jitter_range": 0,
    "retry_total": 3,
    "retry_connect": 1,
    "retry_read": 1,
}


class BlobStore:
    """One bucket in one container: `client`, an `azure.storage.blob.ContainerClient`, or, made by
    `identity_client` on first use, one per identity (the running function's own, `identity.client_id`), so a
    function never calls with a client another function's identity signed."""

    def __init__(
        self,
        bucket: str,
        container: str,
        client: Any = None,
        identity_client: Callable[[str | None], Any] | None = None,
    ) -> None:
        self.bucket = bucket
        self.container = container
        self._clients = ClientPerIdentity(client, identity_client)

    @property
    def client(self) -> Any:
        return self._clients.current

    def get(self, key: str) -> bytes | None:
        from azure.core.exceptions import AzureError

        try:
            data: bytes = self.client.download_blob(key).readall()
        except AzureError as exc:
            if blob_missing(exc):
                return None
            raise self.failed("get", key, exc) from exc
        return data

    def put(self, key: str, data: bytes, content_type: str) -> None:
        from azure.core.exceptions import AzureError
        from azure.storage.blob import ContentSettings

        try:
            self.client.upload_blob(
                key, data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
            )
        except AzureError as exc:
            raise self.failed("put", key, exc) from exc

    def delete(self, key: str) -> bool:
        from azure.core.exceptions import AzureError

        try:
            self.client.delete_blob(key, delete_snapshots="include")
        except AzureError as exc:
            if blob_missing(exc):
                return False
            raise self.failed("delete", key, exc) from exc
        return True

    def keys(self, prefix: str, limit: int) -> list[str]:
        """The first `limit` names from List Blobs, which answers them in lexicographic order."""
        from azure.core.exceptions import AzureError

        try:
            names = self.client.list_blob_names(name_starts_with=prefix or None, results_per_page=min(limit, PAGE))
            return list(itertools.islice(names, limit))
        except AzureError as exc:
            raise self.failed("keys", prefix, exc) from exc

    def failed(self, operation: str, key: str, exc: Exception) -> BucketError:
        """The SDK's error as a `BucketError` naming the bucket, the call and the cause."""
        cause = getattr(exc, "error_code", None) or type(exc).__name__
        message = str(getattr(exc, "message", None) or exc).splitlines()[0]
        hint = (
            f" Its container {self.container!r} is missing: run `portable-fn deploy` to make it."
            if cause == "ContainerNotFound"
            else ""
        )
        return BucketError(f"bucket {self.bucket!r}: {operation}({key!r}) failed: {cause}: {message}.{hint}")


def blob_missing(exc: Exception) -> bool:
    """Whether `exc` says the blob is not there (not its container: that one deploy made, and is an error)."""
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError) and getattr(exc, "error_code", None) != "ContainerNotFound"


def split_locator(name: str, locator: str) -> tuple[str, str]:
    """`https://<account>.blob.core.windows.net/<container>` -> (account URL, container)."""
    account_url, _, container = locator.rstrip("/").rpartition("/")
    if not account_url or not container:
        raise BucketError(
            f"bucket {name!r}: the locator {locator!r} is not <blob endpoint>/<container>; deploy sets it: run "
            "`portable-fn deploy` again."
        )
    return account_url, container


def open_store(name: str, locator: str) -> BlobStore:
    """The container of bucket `name` at `locator`, reached with `PORTABLE_FN_BLOBS_CONNECTION` when set, else
    with the running function's managed identity (the app's system-assigned one when it has none)."""
    from azure.storage.blob import ContainerClient, LinearRetry

    account_url, container = split_locator(name, locator)
    connection = os.environ.get(CONNECTION_ENV)
    if connection:
        client = ContainerClient.from_connection_string(
            connection, container, retry_policy=LinearRetry(**RETRY_BOUNDS), **CLIENT_BOUNDS
        )
        return BlobStore(name, container, client)

    def identity_client(who: str | None) -> Any:
        return ContainerClient(
            account_url,
            container,
            credential=managed_identity(who),
            retry_policy=LinearRetry(**RETRY_BOUNDS),
            **CLIENT_BOUNDS,
        )

    return BlobStore(name, container, identity_client=identity_client)

"""The Azure bucket store (`portable_fn_azure.buckets`) on Azurite's blob service (a real server on 127.0.0.1),
opened as a function opens it: `PORTABLE_FN_PROVIDER=azure`, deploy's locator in `PORTABLE_FN_BUCKET_<NAME>`,
the connection string in `PORTABLE_FN_BLOBS_CONNECTION`; and its bounds when the service does not answer."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from portable_fn_azure.buckets import CONNECTION_ENV, open_store, split_locator

from portable_fn.runtime.buckets import Bucket, BucketError, locator_env

from ...breaker_contract import closed_port
from ...bucket_contract import BucketContract
from .conftest import AZURITE_KEY


def blob_endpoint(connection: str) -> str:
    return connection.split("BlobEndpoint=")[1].split(";")[0]


@pytest.fixture(scope="module")
def service(azurite: str) -> Any:
    return BlobServiceClient.from_connection_string(azurite)


@pytest.fixture
def container(service: Any) -> Any:
    """A fresh container of its own on Azurite (its client, for the checks made beside the store)."""
    return service.create_container(f"b{uuid.uuid4().hex}")


@pytest.fixture
def uploads(azurite: str, container: Any, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A declared bucket on that container, reached as a deployed function reaches it."""
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "azure")
    monkeypatch.setenv(CONNECTION_ENV, azurite)
    monkeypatch.setenv(locator_env("uploads"), f"{blob_endpoint(azurite)}/{container.container_name}")
    return Bucket("uploads")


def test_an_object_put_is_got_back_whole_and_a_missing_one_is_none(uploads: Bucket) -> None:
    assert uploads.get("in/a.bin") is None
    body = bytes(range(256)) * 1000
    uploads.put("in/a.bin", body)
    assert uploads.get("in/a.bin") == body
    uploads.put("in/a.bin", "replaced")  # an overwrite, not a refusal
    assert uploads.get("in/a.bin") == b"replaced"


def test_the_content_type_is_kept_on_the_blob(uploads: Bucket, container: Any) -> None:
    uploads.put("report.csv", "a,b\n1,2\n", content_type="text/csv")
    uploads.put("raw", b"\x00\x01")
    uploads.put("note.txt", "hé")
    listed = uploads.keys()
    types = {key: container.get_blob_client(key).get_blob_properties().content_settings.content_type for key in listed}
    assert types == {
        "note.txt": "text/plain; charset=utf-8",
        "raw": "application/octet-stream",
        "report.csv": "text/csv",
    }
    assert uploads.get("note.txt") == "hé".encode()


def test_delete_says_whether_there_was_an_object(uploads: Bucket) -> None:
    uploads.put("k", b"1")
    assert uploads.delete("k") is True
    assert uploads.get("k") is None
    assert uploads.delete("k") is False


def test_keys_are_listed_in_order_from_the_prefix_at_most_limit(uploads: Bucket) -> None:
    for key in ("in/b", "in/a", "out/x", "in/c/deep", "inbox"):
        uploads.put(key, b"")
    assert uploads.keys() == ["in/a", "in/b", "in/c/deep", "inbox", "out/x"]
    assert uploads.keys("in/") == ["in/a", "in/b", "in/c/deep"]
    assert uploads.keys("in/", limit=2) == ["in/a", "in/b"]
    assert uploads.keys("nothing/") == []


def test_keys_stop_at_the_limit_and_a_limit_past_the_end_gives_all(uploads: Bucket, container: Any) -> None:
    for i in range(12):
        container.upload_blob(f"p/{i:02d}", b"")
    assert uploads.keys("p/", limit=1) == ["p/00"]
    assert uploads.keys("p/", limit=11) == [f"p/{i:02d}" for i in range(11)]
    assert uploads.keys("p/", limit=100) == [f"p/{i:02d}" for i in range(12)]


def test_a_missing_container_is_an_error_that_says_to_deploy(azurite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONNECTION_ENV, azurite)
    store = open_store("uploads", f"{blob_endpoint(azurite)}/never-made")
    with pytest.raises(BucketError, match=r"bucket 'uploads': get\('k'\) failed: ContainerNotFound.*deploy"):
        store.get("k")
    with pytest.raises(BucketError, match="ContainerNotFound"):
        store.put("k", b"", "application/octet-stream")
    with pytest.raises(BucketError, match="ContainerNotFound"):
        store.keys("", 10)


def test_a_store_that_does_not_answer_fails_the_call_at_once_naming_the_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bounds: a refused connection is retried once, a second later, then fails: no backoff of 15 s and more.
    (The elapsed time is reported, not asserted: a loaded machine may take its time to refuse.)"""
    port = closed_port()
    account = f"AccountName=devstoreaccount1;AccountKey={AZURITE_KEY}"
    monkeypatch.setenv(
        CONNECTION_ENV, f"DefaultEndpointsProtocol=http;{account};BlobEndpoint=http://127.0.0.1:{port}/x;"
    )
    store = open_store("uploads", "http://127.0.0.1/x/c")
    started = time.monotonic()
    with pytest.raises(BucketError, match=r"bucket 'uploads': get\('k'\) failed: ServiceRequestError"):
        store.get("k")
    print(f"refused: failed after {time.monotonic() - started:.2f} s")
    policy = store.client._config.retry_policy
    assert (policy.total_retries, policy.connect_retries, policy.read_retries) == (3, 1, 1)
    assert [policy.get_backoff_time({"count": n}) for n in (1, 2, 3)] == [1, 1, 1]


def test_the_locator_names_the_account_url_and_the_container() -> None:
    assert split_locator("u", "https://acct.blob.core.windows.net/uploads") == (
        "https://acct.blob.core.windows.net",
        "uploads",
    )
    with pytest.raises(BucketError, match="not <blob endpoint>/<container>.*deploy"):
        split_locator("u", "uploads")


def test_with_no_connection_string_each_function_gets_a_client_of_its_own_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CONNECTION_ENV, raising=False)
    store = open_store("uploads", "https://acct.blob.core.windows.net/uploads")
    client = store.client  # outside an invocation: the app's system-assigned identity
    assert (client.url, client.container_name) == ("https://acct.blob.core.windows.net/uploads", "uploads")
    assert client.credential.__class__.__name__ == "ManagedIdentityCredential"
    assert store.client is client


class TestBlobStorageBucket(BucketContract):
    """The contract every store keeps, on a fresh Azurite container reached as a function reaches it."""

    @pytest.fixture
    def bucket(self, uploads: Bucket) -> Bucket:
        return uploads

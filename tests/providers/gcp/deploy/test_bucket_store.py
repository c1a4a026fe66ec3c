"""The Cloud Storage object store of declared buckets (`portable_fn_gcp.buckets`), with google-cloud-storage
against gcp-storage-emulator: objects kept whole and replaced whole, their content type kept, a missing object
read as None and deleted as False, keys listed in order under a prefix and cut at the limit; a bucket that is
not there, or a store that cannot be reached, fails as a BucketError naming the bucket; and through
`Bucket.get/put/keys`, a function reads and writes the bucket deploy named in `PORTABLE_FN_BUCKET_<NAME>`: called
directly, and as deployed, through the generated main.py behind functions-framework."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.buckets import CloudStorageStore, open_store
from portable_fn_gcp.shim import generate_main

from portable_fn.app import load_app
from portable_fn.emulators import free_port
from portable_fn.runtime import CloudEvent, to_structured
from portable_fn.runtime.buckets import Bucket, BucketError, bucket, locator_env

from ....bucket_contract import BucketContract


@pytest.fixture
def emulated(storage_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator)
    return storage_emulator


FILES = Path(__file__).with_name("apps") / "files"


def made(name: str) -> CloudStorageStore:
    """A store on a bucket of its own, made for the test (deploy makes it on a cloud)."""
    found = open_store(name, f"{name}-{uuid.uuid4().hex[:12]}")
    found.client.create_bucket(found.bucket.name)
    return found


@pytest.fixture
def store(emulated: str) -> Iterator[CloudStorageStore]:
    found = made("files")
    yield found
    found.client.close()


class TestCloudStorageBucket(BucketContract):
    """The contract every store keeps, on a fresh Cloud Storage bucket reached as a function on Cloud Functions
    reaches it."""

    @pytest.fixture
    def bucket(self, store: CloudStorageStore, monkeypatch: pytest.MonkeyPatch) -> Bucket:
        monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
        monkeypatch.setenv(locator_env("uploads"), store.bucket.name)
        return Bucket("uploads")


def test_an_object_is_kept_whole_with_its_content_type_and_replaced_whole(store: CloudStorageStore) -> None:
    store.put("in/report.csv", b"a,b\n1,2\n", "text/csv")
    store.put("in/blob", bytes(range(256)), "application/octet-stream")
    assert store.get("in/report.csv") == b"a,b\n1,2\n"
    assert store.get("in/blob") == bytes(range(256))
    assert store.bucket.get_blob("in/report.csv").content_type == "text/csv"
    store.put("in/report.csv", b"{}", "application/json")
    assert store.get("in/report.csv") == b"{}"
    assert store.bucket.get_blob("in/report.csv").content_type == "application/json"


def test_a_missing_object_reads_as_none_and_deletes_as_false(store: CloudStorageStore) -> None:
    assert store.get("nothing/here") is None
    assert store.delete("nothing/here") is False
    store.put("gone", b"x", "text/plain")
    assert store.delete("gone") is True
    assert store.get("gone") is None and store.delete("gone") is False


def test_keys_are_listed_in_order_under_a_prefix_and_cut_at_the_limit(store: CloudStorageStore) -> None:
    for key in ("in/b", "in/a", "in/c/d", "out/x", "inbox", "ünï/1"):
        store.put(key, b"", "text/plain")
    assert store.keys("", 100) == ["in/a", "in/b", "in/c/d", "inbox", "out/x", "ünï/1"]
    assert store.keys("in/", 100) == ["in/a", "in/b", "in/c/d"]
    assert store.keys("in/", 2) == ["in/a", "in/b"]
    assert store.keys("nope/", 5) == []


def test_a_bucket_that_is_not_there_fails_naming_it(emulated: str) -> None:
    missing = open_store("files", f"missing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(BucketError, match=r"bucket 'files' on gcp: the Cloud Storage bucket 'missing-\w+' does not"):
        missing.keys("", 10)


def test_a_store_that_cannot_be_reached_fails_as_a_bucket_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    unreachable = open_store("files", "files-unreachable")
    with pytest.raises(BucketError, match=r"bucket 'files' on gcp: read of 'a' in Cloud Storage bucket"):
        unreachable.get("a")


def test_a_locator_that_is_no_bucket_name_is_refused() -> None:
    with pytest.raises(BucketError, match="is not a Cloud Storage bucket name"):
        open_store("files", "gs://files/")


def test_a_function_reads_and_writes_the_bucket_deploy_names(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the runtime does on Cloud Functions: `PORTABLE_FN_PROVIDER=gcp` picks this module and
    `PORTABLE_FN_BUCKET_FILES` the bucket (outside an invocation, so no declaration is checked)."""
    files = bucket("files")
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
    monkeypatch.setenv(locator_env("files"), store.bucket.name)
    files.put("out/hello.txt", "hello")
    assert files.get("out/hello.txt") == b"hello"
    assert files.keys("out/") == ["out/hello.txt"]
    assert files.delete("out/hello.txt") is True
    assert store.get("out/hello.txt") is None


def test_the_deployed_functions_read_and_write_their_buckets_through_the_shim(
    emulated: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The files app's main.py behind functions-framework, as Cloud Functions runs it, with the variables deploy
    sets: an upload over HTTP lands in the bucket with its content type, its storage event makes the summary and
    the archive copy, and the listing reads both buckets it declares."""
    import functions_framework

    app = load_app(FILES)
    main = tmp_path / "main.py"
    main.write_text(generate_main(app), encoding="utf-8")
    uploads, reports, archive = made("uploads"), made("reports"), made("archive")
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
    for store in (uploads, reports, archive):
        monkeypatch.setenv(locator_env(store.name), store.bucket.name)
    for name in ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE"):  # create_app sets them; restored after the test
        monkeypatch.setenv(name, "")

    def client(target: str) -> Any:
        return functions_framework.create_app(target, str(main)).test_client()

    assert client("upload").put("/files/a.txt", data=b"three small words").status_code == 201
    assert uploads.get("in/a.txt") == b"three small words"
    assert uploads.bucket.get_blob("in/a.txt").content_type == "text/plain"
    event = CloudEvent(
        id="s-1",
        source=f"//storage.googleapis.com/projects/_/buckets/{uploads.bucket.name}",
        type="google.cloud.storage.object.v1.finalized",
        subject="objects/in/a.txt",
        datacontenttype="application/json",
        data={"bucket": uploads.bucket.name, "name": "in/a.txt", "size": "17", "contentType": "text/plain"},
    )
    headers, body = to_structured(event)
    assert client("summarise").post("/", data=body, headers=headers).status_code == 200
    assert uploads.get("out/a.txt") == b"3 words" and archive.get("in/a.txt") == b"three small words"
    reports.put("2026/12.csv", b"a,b", "text/csv")
    listed = client("listing").get("/files").get_json()
    assert listed == {"uploads": ["in/a.txt", "out/a.txt"], "reports": ["2026/12.csv"]}

"""Declared buckets (`portable_fn.bucket`): the key rule every cloud shares, the local folder store, and the
access a function's `uses=` grants, checked before any store is opened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from portable_fn import (
    Bucket,
    BucketError,
    CloudEvent,
    DeclarationError,
    Request,
    Response,
    UndeclaredResourceError,
    bucket,
    function,
    http,
    queue,
    storage,
)
from portable_fn.app import load_app
from portable_fn.runtime.buckets import FolderStore, locator_env, open_store, use_stores
from portable_fn.testing import invoke, local_buckets, make_event, make_request

from ..bucket_contract import BucketContract

FILES_APP = Path(__file__).resolve().parent.parent / "local" / "apps" / "files"

uploads = bucket("uploads")
reports = bucket("reports")


@function(trigger=http("PUT", "/u/{key}"), uses=[uploads.write()])
def put_upload(request: Request) -> Response:
    uploads.put(request.path_params["key"], request.body)
    return Response.json({"keys": uploads.keys()})


@function(trigger=http("GET", "/u/{key}"), uses=[uploads.read()])
def read_upload(request: Request) -> Response:
    return Response(body=uploads.get(request.path_params["key"]) or b"")


@function(trigger=queue("deletes"), uses=[uploads.read()])
def delete_read_only(event: CloudEvent) -> None:
    uploads.delete(event.data["key"])


@function(trigger=queue("reads"), uses=[uploads.read()])
def read_other(event: CloudEvent) -> None:
    reports.get(event.data["key"])


@function(trigger=storage(uploads, prefix="in/"), uses=[uploads.read()])
def on_upload(event: CloudEvent) -> None:
    assert uploads.get(event.data["key"]) is not None


def test_a_storage_trigger_takes_a_declared_bucket_as_its_bucket() -> None:
    assert storage(uploads, prefix="in/") == storage("uploads", prefix="in/")


def test_the_app_lists_its_declared_buckets_once() -> None:
    app = load_app(FILES_APP)
    assert [(b.kind, b.name) for b in app.buckets] == [("bucket", "uploads")]
    assert app.buckets == app.resources  # a bucket is a resource like a state: deploy provisions and grants it


@pytest.mark.parametrize("name", ["Uploads", "a", "x" * 41, "ends-", "pfn-mine", "up_loads"])
def test_a_bucket_name_no_cloud_can_build_on_is_refused(name: str) -> None:
    with pytest.raises(DeclarationError, match=repr(name)):
        bucket(name)


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("", "non-empty string"),
        ("a" * 1025, "1,025 bytes"),
        ("é" * 513, "1,026 bytes"),
        ("in/a\nb", "control character"),
        ("in/\x00", "control character"),
        ("in/a\x85b", "control character"),  # a C1 control: the dev host's bucket API refused it, put kept it
        ("/abs", "not allowed"),
        ("in//x", "not allowed"),
        ("in/../etc/passwd", "not allowed"),
        ("in/.hidden", "not allowed"),
        ("in\\x", "not allowed"),
        ("p" * 256, "over 255 bytes"),
    ],
)
def test_a_key_some_cloud_or_folder_cannot_keep_is_refused_naming_the_rule(key: str, says: str, tmp_path: Path) -> None:
    with local_buckets(tmp_path), pytest.raises(BucketError, match=says):
        uploads.put(key, b"x")
    assert list(tmp_path.rglob("*")) == []  # nothing written, nowhere


def test_the_folder_store_keeps_objects_whole_lists_them_in_key_order_and_deletes_them(tmp_path: Path) -> None:
    with local_buckets(tmp_path):
        uploads.put("in/b.txt", "bee")
        uploads.put("in/a.txt", b"\x00\xff")
        uploads.put("in/a.txt", b"replaced")
        uploads.put("out/z", bytearray(b"z"))
        uploads.put("in/ä", "umlaut")
        assert uploads.get("in/a.txt") == b"replaced"
        assert uploads.get("in/b.txt") == b"bee"
        assert uploads.get("in/missing") is None
        assert uploads.get("in") is None  # a folder is no object
        assert uploads.keys() == ["in/a.txt", "in/b.txt", "in/ä", "out/z"]  # UTF-8 byte order, as S3 lists
        assert uploads.keys("in/", limit=2) == ["in/a.txt", "in/b.txt"]
        assert uploads.delete("in/b.txt") is True
        assert uploads.delete("in/b.txt") is False
        assert uploads.keys("in/") == ["in/a.txt", "in/ä"]
    assert (tmp_path / "uploads" / "in" / "a.txt").read_bytes() == b"replaced"
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary file left behind


def test_a_key_that_is_also_another_keys_folder_is_refused_locally(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    store.put("a/b", b"1", "text/plain")
    with pytest.raises(BucketError, match="also the folder of another key") as refused:
        store.put("a/b/c", b"2", "text/plain")
    assert str(tmp_path) not in str(refused.value)  # no path of the machine in the message


def test_only_bytes_or_text_are_stored(tmp_path: Path) -> None:
    with local_buckets(tmp_path), pytest.raises(BucketError, match=r"bytes or str, got dict.*json.dumps"):
        uploads.put("k", {"a": 1})  # type: ignore[arg-type]


def test_keys_takes_a_string_prefix_and_a_positive_limit(tmp_path: Path) -> None:
    with local_buckets(tmp_path):
        with pytest.raises(BucketError, match="string prefix"):
            uploads.keys(3)  # type: ignore[arg-type]
        with pytest.raises(BucketError, match="positive integer"):
            uploads.keys(limit=0)


def test_a_function_reads_and_writes_what_it_declares(tmp_path: Path) -> None:
    with local_buckets(tmp_path):
        reply = invoke(put_upload, make_request("PUT", "/u/k1", body=b"hello"))
        assert reply.status == 200 and json.loads(reply.body) == {"keys": ["k1"]}
        assert invoke(read_upload, make_request("GET", "/u/k1")).body == b"hello"
        invoke(on_upload, make_event({"key": "k1"}))


def test_writing_a_bucket_declared_read_only_fails_before_any_store_is_opened(tmp_path: Path) -> None:
    opened: list[str] = []

    def store(name: str, locator: str | None) -> FolderStore:
        opened.append(name)
        return FolderStore(tmp_path / name)

    previous = use_stores(store)
    try:
        wrote = invoke(delete_read_only, make_event({"key": "k1"}))
        read = invoke(read_other, make_event({"key": "x"}))
    finally:
        use_stores(previous)
    assert isinstance(wrote.error, UndeclaredResourceError)
    assert "declares bucket('uploads') read-only" in str(wrote.error) and "uploads.write()" in str(wrote.error)
    assert isinstance(read.error, UndeclaredResourceError)
    assert "uses bucket('reports') without declaring" in str(read.error) and "reports.read()" in str(read.error)
    assert opened == []


def test_locally_a_bucket_is_its_folder_in_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("PORTABLE_FN_PROVIDER", raising=False)
    store = open_store("uploads")
    assert isinstance(store, FolderStore) and store.root == tmp_path / "buckets" / "uploads"


def test_on_a_cloud_an_unprovisioned_bucket_says_to_declare_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "aws")
    monkeypatch.delenv(locator_env("uploads"), raising=False)
    assert locator_env("my-files") == "PORTABLE_FN_BUCKET_MY_FILES"
    with pytest.raises(BucketError, match="PORTABLE_FN_BUCKET_UPLOADS is unset.*uses="):
        Bucket("uploads").get("k")


class TestFolderBucket(BucketContract):
    """The contract on the local folder store (`dev`, `invoke --provider local`, `testing.local_buckets`)."""

    @pytest.fixture
    def bucket(self, tmp_path: Path) -> Iterator[Bucket]:
        with local_buckets(tmp_path):
            yield Bucket("uploads")

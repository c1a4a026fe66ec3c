"""The S3 object store (`portable_fn_aws.buckets`) on moto's S3 (a real server on 127.0.0.1) with the real
boto3: the bucket contract every store keeps; objects kept with their content type, missing ones None or False,
keys in byte order by prefix and limit across pages; a declared bucket used by a function through the store
deploy points it at; and S3's failures as `BucketError`s naming the bucket."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from portable_fn_aws.buckets import S3Store, open_store

from portable_fn import Bucket, BucketError, CloudEvent, Request, Response, bucket, function, http, queue
from portable_fn.runtime.buckets import locator_env
from portable_fn.testing import invoke, make_event, make_request

from ...breaker_contract import closed_port
from ...bucket_contract import BucketContract

REGION = "eu-west-1"

uploads = bucket("uploads")


@function(trigger=http("PUT", "/files/{name}"), uses=[uploads.write()])
def upload(request: Request) -> Response:
    uploads.put("in/" + request.path_params["name"], request.body.decode())
    return Response.json({"keys": uploads.keys("in/")})


@function(trigger=queue("reads"), uses=[uploads.read()])
def read_only(event: CloudEvent) -> None:
    assert uploads.get(event.data["key"]) is not None
    uploads.delete(event.data["key"])  # refused: declared .read()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An S3 client on the moto server; AWS_ENDPOINT_URL set, as an emulator would be in Lambda."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)


@pytest.fixture
def physical(s3: Any) -> str:
    name = f"shop-dev-uploads-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture
def store(physical: str) -> S3Store:
    return open_store("uploads", physical)  # the client boto3 makes from the environment, as in Lambda


def test_an_object_is_kept_whole_with_its_content_type_and_replaced_by_a_put(
    store: S3Store, s3: Any, physical: str
) -> None:
    body = bytes(range(256)) * 40
    store.put("in/photo.bin", body, "image/png")
    assert store.get("in/photo.bin") == body
    assert s3.head_object(Bucket=physical, Key="in/photo.bin")["ContentType"] == "image/png"
    store.put("in/photo.bin", b"smaller", "text/plain; charset=utf-8")
    assert store.get("in/photo.bin") == b"smaller"
    assert s3.head_object(Bucket=physical, Key="in/photo.bin")["ContentType"] == "text/plain; charset=utf-8"


def test_a_missing_object_reads_as_none_and_deletes_as_false(store: S3Store) -> None:
    assert store.get("in/nothing.txt") is None
    assert store.delete("in/nothing.txt") is False
    store.put("in/here.txt", b"x", "text/plain")
    assert store.delete("in/here.txt") is True
    assert store.get("in/here.txt") is None
    assert store.delete("in/here.txt") is False


def test_keys_come_by_prefix_in_byte_order_at_most_limit_across_pages(physical: str) -> None:
    store = S3Store("uploads", physical, page_size=2)  # pages of two, so five keys take three pages
    names = ["in/b", "in/Z", "in/a/1", "in/é", "in/a/2", "out/a", "in"]
    for name in names:
        store.put(name, name.encode(), "text/plain")
    under_in = sorted((n for n in names if n.startswith("in/")), key=lambda n: n.encode())
    assert under_in == ["in/Z", "in/a/1", "in/a/2", "in/b", "in/é"]
    assert store.keys("in/", 1000) == under_in
    assert store.keys("in/", 3) == under_in[:3]
    assert store.keys("in/a/", 1000) == ["in/a/1", "in/a/2"]
    assert store.keys("", 1000) == sorted(names, key=lambda n: n.encode())
    assert store.keys("nothing/", 10) == []


def test_a_function_uses_the_bucket_deploy_named_and_only_as_declared(
    physical: str, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "aws")
    monkeypatch.setenv(locator_env("uploads"), physical)
    reply = invoke(upload, make_request("PUT", "/files/notes.txt", body=b"three short words"))
    assert reply.status == 200, reply.error
    assert json.loads(reply.body) == {"keys": ["in/notes.txt"]}
    stored = s3.get_object(Bucket=physical, Key="in/notes.txt")
    assert stored["Body"].read() == b"three short words"
    assert stored["ContentType"] == "text/plain; charset=utf-8"  # what `put` gives text by default
    refused = invoke(read_only, make_event({"key": "in/notes.txt"}))
    assert "declares bucket('uploads') read-only" in str(refused.error)
    assert s3.get_object(Bucket=physical, Key="in/notes.txt")["Body"].read() == b"three short words"


def test_a_bucket_that_is_not_there_is_a_bucket_error_naming_it(s3: Any) -> None:
    store = open_store("uploads", "shop-dev-never-made")
    for call in (lambda: store.get("k"), lambda: store.put("k", b"v", "text/plain"), lambda: store.keys("", 5)):
        with pytest.raises(BucketError, match=r"bucket 'uploads': S3 \w+ on 'shop-dev-never-made' failed.*uses="):
            call()


def test_an_unreachable_s3_is_a_bucket_error_after_bounded_attempts(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    store = open_store("uploads", "shop-dev-uploads")
    assert store.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    with pytest.raises(BucketError, match="bucket 'uploads': S3 GetObject on 'shop-dev-uploads' failed"):
        store.get("k")


class TestS3Bucket(BucketContract):
    """The contract every store keeps, on a fresh S3 bucket reached as a function on Lambda reaches it."""

    @pytest.fixture
    def bucket(self, physical: str, monkeypatch: pytest.MonkeyPatch) -> Bucket:
        monkeypatch.setenv("PORTABLE_FN_PROVIDER", "aws")
        monkeypatch.setenv(locator_env("uploads"), physical)
        return Bucket("uploads")

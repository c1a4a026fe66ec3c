"""What a declared bucket does on every store (`portable_fn.runtime.buckets`), written once and run against each:
the local folder, S3 on moto, Cloud Storage on its emulator, Blob Storage on Azurite.

A test module subclasses `BucketContract` and gives it a `bucket` fixture: a `Bucket` named "uploads" reached as
a function reaches it (provider, locator and credentials in the environment), over a fresh, empty store.
"""

from __future__ import annotations

import pytest

from portable_fn.runtime.buckets import MAX_KEY_BYTES, Bucket

# Keys every store must keep and give back as they are (each passes `check_key`).
AWKWARD_KEYS = [
    "plain",
    "with space",
    "in/deep/er/key.txt",
    "per%cent+plus",
    "hash#and?query&amp=1",
    "quote'and\"double",
    "colon:semi;comma,",
    "ends-with-dot.",
    "tilde~star*bang!",
    "brackets[]{}()<>",
    "üñíçødé/ключ/鍵",
    "emoji-🙂",
    "UPPER/lower",
]


class BucketContract:
    """The same answers from every store. Subclasses provide the `bucket` fixture."""

    def test_an_empty_bucket_has_no_keys_and_no_objects(self, bucket: Bucket) -> None:
        assert bucket.keys() == []
        assert bucket.get("anything") is None
        assert bucket.delete("anything") is False

    def test_bytes_come_back_whole(self, bucket: Bucket) -> None:
        body = bytes(range(256)) * 4096  # 1 MiB, every byte value
        bucket.put("blob.bin", body)
        assert bucket.get("blob.bin") == body

    def test_text_is_stored_as_utf_8_and_an_empty_object_is_not_missing(self, bucket: Bucket) -> None:
        bucket.put("note.txt", "naïve café ☕")
        bucket.put("empty", b"")
        assert bucket.get("note.txt") == "naïve café ☕".encode()
        assert bucket.get("empty") == b""
        assert bucket.keys() == ["empty", "note.txt"]

    def test_a_put_replaces_the_object_whole(self, bucket: Bucket) -> None:
        bucket.put("k", b"a much longer first version")
        bucket.put("k", b"short")
        assert bucket.get("k") == b"short"
        assert bucket.keys() == ["k"]

    def test_delete_removes_one_object_and_says_whether_it_was_there(self, bucket: Bucket) -> None:
        bucket.put("in/a", b"1")
        bucket.put("in/b", b"2")
        assert bucket.delete("in/a") is True
        assert bucket.delete("in/a") is False
        assert (bucket.get("in/a"), bucket.get("in/b")) == (None, b"2")
        assert bucket.keys() == ["in/b"]

    @pytest.mark.parametrize("key", AWKWARD_KEYS)
    def test_awkward_keys_are_kept_as_they_are(self, bucket: Bucket, key: str) -> None:
        bucket.put(key, key.encode())
        assert bucket.get(key) == key.encode()
        assert bucket.keys() == [key]
        assert bucket.delete(key) is True
        assert bucket.keys() == []

    def test_the_longest_key_is_kept(self, bucket: Bucket) -> None:
        key = "/".join(["d" * 200] * 6)[: MAX_KEY_BYTES - 4] + "/end"  # 200-byte parts: a file name holds 255
        assert len(key.encode()) == MAX_KEY_BYTES
        bucket.put(key, b"x")
        assert bucket.keys() == [key] and bucket.get(key) == b"x"

    def test_keys_are_listed_in_utf_8_byte_order_from_the_prefix_and_at_most_limit(self, bucket: Bucket) -> None:
        keys = ["in/b", "in/a", "in/B", "in/é", "in/z", "in/c/deep", "inbox", "out/x", "in-between"]
        for key in keys:
            bucket.put(key, b"")
        in_order = sorted(keys, key=lambda k: k.encode())  # B < a < b < c/deep < z < é, and - < / < b
        assert bucket.keys() == in_order
        assert bucket.keys("in/") == ["in/B", "in/a", "in/b", "in/c/deep", "in/z", "in/é"]
        assert bucket.keys("in/", limit=2) == ["in/B", "in/a"]
        assert bucket.keys("in", limit=100) == [
            "in-between",
            "in/B",
            "in/a",
            "in/b",
            "in/c/deep",
            "in/z",
            "in/é",
            "inbox",
        ]
        assert bucket.keys("nothing/") == []

    def test_a_limit_below_at_and_above_the_count(self, bucket: Bucket) -> None:
        for n in range(12):
            bucket.put(f"p/{n:02}", b"")
        assert bucket.keys("p/", limit=5) == [f"p/{n:02}" for n in range(5)]
        assert bucket.keys("p/", limit=12) == [f"p/{n:02}" for n in range(12)]
        assert bucket.keys("p/", limit=1000) == [f"p/{n:02}" for n in range(12)]

"""A declared bucket under the dev host: it is the folder the host watches for the bucket's storage trigger,
so an object one function writes fires the trigger as an upload on a cloud would; a function that declared
the bucket read-only is refused its write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conftest import LOCAL_APPS, Running

FILES = LOCAL_APPS / "files"


def test_an_object_written_by_a_function_fires_the_buckets_storage_trigger(
    start_host: Callable[..., Running], tmp_path: Path, wait_for: Callable[..., Any]
) -> None:
    running = start_host(FILES)
    stored = running.client.request("PUT", "/files/notes.txt", body=b"three short words")
    assert (stored.status, stored.json()) == (201, {"stored": "in/notes.txt"})
    assert (tmp_path / "state" / "buckets" / "uploads" / "in" / "notes.txt").read_bytes() == b"three short words"

    def summary_written() -> Any:
        reply = running.client.request("GET", "/files/out/notes.txt")
        return reply if reply.status == 200 else None

    summary = wait_for(summary_written, what="the summary")
    assert (summary.status, summary.body) == (200, b"3 words")
    assert running.client.request("GET", "/files?prefix=").json() == {"keys": ["in/notes.txt", "out/notes.txt"]}
    assert running.client.request("GET", "/files/in/missing.txt").status == 404
    assert "  buckets: uploads (buckets/uploads)" in running.host.banner().splitlines()


def test_a_function_that_declared_the_bucket_read_only_cannot_delete_from_it(
    start_host: Callable[..., Running], tmp_path: Path
) -> None:
    running = start_host(FILES)
    running.client.request("PUT", "/files/keep.txt", body=b"kept")
    refused = running.client.request("DELETE", "/files/in/keep.txt")
    assert refused.status == 500
    assert (tmp_path / "state" / "buckets" / "uploads" / "in" / "keep.txt").is_file()

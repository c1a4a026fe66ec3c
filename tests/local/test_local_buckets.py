"""The bucket folder watcher, polled by hand: settled files only, dot-files ignored, deletes reported."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from portable_fn.local.buckets import BucketWatcher, ObjectInfo

STRICT = Path(__file__).resolve().parent / "apps" / "strict"


def watcher(tmp_path: Path) -> tuple[BucketWatcher, list[tuple[str, ObjectInfo]]]:
    changes: list[tuple[str, ObjectInfo]] = []
    w = BucketWatcher(tmp_path, ["photos", "docs"], lambda change, info: changes.append((change, info)))
    return w, changes


def test_files_there_at_the_start_are_not_changes(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "old.jpg").write_bytes(b"old")
    w, changes = watcher(tmp_path)
    w.prepare()
    w.poll()
    w.poll()
    assert changes == []
    assert (tmp_path / "docs").is_dir()


def test_a_new_file_is_reported_once_it_has_settled(tmp_path: Path) -> None:
    w, changes = watcher(tmp_path)
    w.prepare()
    (tmp_path / "photos" / "in").mkdir()
    (tmp_path / "photos" / "in" / "cat.jpg").write_bytes(b"hello")
    w.poll()
    assert changes == []  # seen once: it may still be being written
    w.poll()
    w.poll()
    assert changes == [("created", ObjectInfo("photos", "in/cat.jpg", 5, "5d41402abc4b2a76b9719d911017c592"))]


def test_a_changed_file_is_created_again_and_a_removed_one_deleted(tmp_path: Path) -> None:
    w, changes = watcher(tmp_path)
    w.prepare()
    path = tmp_path / "docs" / "a.txt"
    path.write_bytes(b"v1")
    w.poll(), w.poll()
    path.write_bytes(b"version 2")
    os.utime(path, ns=(1, 1))  # a different stamp even on coarse clocks
    w.poll(), w.poll()
    path.unlink()
    w.poll()
    assert [(c, i.key, i.size) for c, i in changes] == [
        ("created", "a.txt", 2),
        ("created", "a.txt", 9),
        ("deleted", "a.txt", 9),
    ]


def test_hidden_files_and_folders_are_ignored(tmp_path: Path) -> None:
    w, changes = watcher(tmp_path)
    w.prepare()
    (tmp_path / "docs" / ".partial.tmp").write_bytes(b"x")
    (tmp_path / "docs" / ".git").mkdir()
    (tmp_path / "docs" / ".git" / "HEAD").write_bytes(b"x")
    w.poll(), w.poll()
    assert changes == []


def test_a_file_gone_before_it_settled_is_no_change(tmp_path: Path) -> None:
    w, changes = watcher(tmp_path)
    w.prepare()
    (tmp_path / "docs" / "blip.txt").write_bytes(b"x")
    w.poll()
    (tmp_path / "docs" / "blip.txt").unlink()
    w.poll(), w.poll()
    assert changes == []


def test_a_reported_file_is_a_change_at_once_and_no_poll_reports_it_again(tmp_path: Path) -> None:
    """What the dev host writes itself (`PUT /_local/buckets/...`) is reported before it answers."""
    w, changes = watcher(tmp_path)
    w.prepare()
    (tmp_path / "docs" / "now.txt").write_bytes(b"now")
    w.report("docs", "now.txt")
    assert changes == [("created", ObjectInfo("docs", "now.txt", 3, "97bc592b27a9ada2d9a4bb418ed0ebed"))]
    w.poll(), w.poll(), w.report("docs", "now.txt")
    assert len(changes) == 1
    (tmp_path / "docs" / "now.txt").unlink()
    w.report("docs", "now.txt")
    w.poll(), w.poll()
    assert [(c, i.key) for c, i in changes] == [("created", "now.txt"), ("deleted", "now.txt")]


def test_an_object_put_through_the_host_is_delivered_with_no_poll(start_host: Any, wait_for: Any) -> None:
    """A 201 means the storage event is in the journal: with a poller that never runs, it is still delivered
    (before, only the poller raised it, so a host stopped right after the 201 never delivered it)."""
    running = start_host(STRICT, poll_interval_s=3600)
    reply = running.client.request("PUT", "/_local/buckets/uploads/now.txt", body=b"now")
    assert reply.status == 201
    received = sys.modules["local_strict"].RECEIVED
    assert wait_for(lambda: [s for s in received.get("uploads", []) if s.endswith("now.txt")])

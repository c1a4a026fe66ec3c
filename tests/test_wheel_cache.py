"""The wheel cache (`portable_fn.wheels.resolve`) when two builds download the same requirements at once, as
two `portable-fn package` runs (or two test workers sharing a cache) do: the first complete entry stays, and
nothing a reader may be reading is removed under it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from portable_fn.wheels import Target, cache_key, resolve

TARGET = Target("3.11", "x86_64", 28, "Lambda's", "", "")
WHEEL = "tinydep-1.0-py3-none-any.whl"


def quiet(message: str) -> None:
    pass


def test_a_download_finished_second_keeps_the_entry_finished_first(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first_entry_wheel: list[Path] = []

    def other_build_finishes_first(arguments: Sequence[str], target: Target, dest: Path) -> None:
        def download(arguments: Sequence[str], target: Target, dest: Path) -> None:
            (dest / WHEEL).write_bytes(b"the other build's wheel")

        first_entry_wheel.extend(resolve(arguments, target, cache, download, quiet))
        (dest / WHEEL).write_bytes(b"this build's wheel")

    wheels = resolve(["tinydep"], TARGET, cache, other_build_finishes_first, quiet)
    assert wheels == first_entry_wheel == [cache / cache_key(["tinydep"], TARGET) / WHEEL]
    assert wheels[0].read_bytes() == b"the other build's wheel"  # kept, not replaced under its reader
    assert sorted(p.name for p in cache.iterdir()) == [cache_key(["tinydep"], TARGET)]  # no staging left


def test_an_entry_that_never_completed_is_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    broken = cache / cache_key(["tinydep"], TARGET)
    broken.mkdir(parents=True)
    (broken / "half-a-wheel.whl").write_bytes(b"")

    def download(arguments: Sequence[str], target: Target, dest: Path) -> None:
        (dest / WHEEL).write_bytes(b"wheel")

    assert resolve(["tinydep"], TARGET, cache, download, quiet) == [broken / WHEEL]
    assert (broken / WHEEL).read_bytes() == b"wheel"

"""`portable-fn logs`, the provider-neutral half (`portable_fn.logread`): `--since`, our JSON lines read
back, merging, the trace filter, `--follow`'s polling with a fake clock, the two outputs, and the
command's errors. Each cloud's reader is tested in tests/providers/<cloud>/test_logs.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portable_fn.cli import main
from portable_fn.logread import (
    LogEntry,
    LogsError,
    entry_from_line,
    follow,
    format_time,
    merged,
    parse_since,
    with_trace,
)

from .app_copy import copy_app

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 31, 12, 0, 0, tzinfo=timezone.utc)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def line(seconds: float, message: str, function: str = "fulfil", trace: str | None = None) -> LogEntry:
    return LogEntry(at(seconds), function, "INFO", message, trace_id=trace, entry_id=f"{function}-{seconds}")


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("30s", timedelta(seconds=30)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        (" 1w ", timedelta(weeks=1)),
    ],
)
def test_since_as_a_duration_counts_back_from_now(text: str, back: timedelta) -> None:
    assert parse_since(text, NOW) == NOW - back


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-01-31T10:00:00Z", datetime(2026, 1, 31, 10, tzinfo=timezone.utc)),
        ("2026-01-31T11:00:00+01:00", datetime(2026, 1, 31, 10, tzinfo=timezone.utc)),
        ("2026-01-31T10:00:00.123456789Z", datetime(2026, 1, 31, 10, 0, 0, 123456, tzinfo=timezone.utc)),
        ("2026-01-31T10:00:00", datetime(2026, 1, 31, 10, tzinfo=timezone.utc)),  # no offset: UTC
    ],
)
def test_since_as_an_rfc3339_time(text: str, moment: datetime) -> None:
    assert parse_since(text, NOW) == moment


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "10x", "-5m", "yesterday"])
def test_a_since_that_is_neither_says_what_to_give(text: str) -> None:
    with pytest.raises(LogsError, match="neither a duration nor a time; give one like 10m, 2h"):
        parse_since(text, NOW)


def test_our_json_line_is_read_into_its_fields_and_a_plain_line_keeps_the_clouds() -> None:
    ours = json.dumps(
        {
            "time": "2026-01-31T12:00:00Z",
            "level": "warning",
            "message": "low stock",
            "function": "fulfil",
            "invocation_id": "inv-1",
            "trace_id": TRACE,
            "span_id": "00f067aa0ba902b7",
        }
    )
    read = entry_from_line(ours + "\n", time=NOW, function="fulfil", level="INFO", trace_id="other")
    plain = entry_from_line("print output\n", time=NOW, function="fulfil", level="ERROR", invocation_id="inv-2")
    assert (read.level, read.message, read.trace_id, read.invocation_id) == ("WARNING", "low stock", TRACE, "inv-1")
    assert (plain.level, plain.message, plain.trace_id, plain.invocation_id) == ("ERROR", "print output", None, "inv-2")
    assert entry_from_line("{not json", time=NOW, function="f").message == "{not json"
    gcp = entry_from_line(
        json.dumps({"severity": "ERROR", "message": "m", "logging.googleapis.com/trace": f"projects/p/traces/{TRACE}"}),
        time=NOW,
        function="f",
    )
    assert (gcp.trace_id, gcp.level) == (TRACE, "ERROR")
    failed = entry_from_line(
        json.dumps(
            {
                "level": "ERROR",
                "message": {"order": "o-1"},
                "exception": "Traceback (most recent call last):\nKeyError: 'sku'\n",
            }
        ),
        time=NOW,
        function="f",
    )
    assert failed.message == '{"order": "o-1"}\nTraceback (most recent call last):\nKeyError: \'sku\''


def test_text_and_json_outputs() -> None:
    entry = LogEntry(
        at(0.5), "fulfil", "ERROR", "failed\nTraceback ...", trace_id=TRACE, invocation_id="inv-1", raw={"eventId": "1"}
    )
    assert entry.text() == "2026-01-31T12:00:00.500Z ERROR fulfil failed\n    Traceback ..."
    assert json.loads(entry.json_line()) == {
        "time": "2026-01-31T12:00:00.500Z",
        "function": "fulfil",
        "level": "ERROR",
        "message": "failed\nTraceback ...",
        "trace_id": TRACE,
        "invocation_id": "inv-1",
        "raw": {"eventId": "1"},
    }
    assert format_time(datetime(2026, 1, 31, 13, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-31T12:00:00.000Z"


def test_merged_interleaves_functions_in_time_order() -> None:
    fulfil = [line(3, "c"), line(0, "a")]  # a stream need not come sorted
    create = [line(1, "b", "create_order"), line(4, "d", "create_order")]
    assert [e.message for e in merged(fulfil, create)] == ["a", "b", "c", "d"]


@given(st.lists(st.lists(st.integers(min_value=0, max_value=10_000), max_size=20), max_size=4))
def test_merged_is_every_entry_once_in_time_order(streams: list[list[int]]) -> None:
    entries = [[line(ms / 1000, f"{i}-{j}", f"f{i}") for j, ms in enumerate(s)] for i, s in enumerate(streams)]
    out = merged(*entries)
    assert [e.time for e in out] == sorted(e.time for s in entries for e in s)
    assert sorted(e.message for e in out) == sorted(e.message for s in entries for e in s)


def test_the_trace_filter_takes_the_w3c_cloud_logging_and_xray_forms() -> None:
    entries = [
        line(0, "w3c", trace=TRACE),
        line(1, "cloud logging", trace=f"projects/p/traces/{TRACE}"),
        line(2, "xray", trace="1-4bf92f35-77b34da6a3ce929d0e0e4736"),
        line(3, "other", trace="0" * 32),
        line(4, "none"),
    ]
    assert [e.message for e in with_trace(entries, TRACE.upper())] == ["w3c", "cloud logging", "xray"]
    assert [e.message for e in with_trace(entries, "1-4bf92f35-77b34da6a3ce929d0e0e4736")] == [
        "w3c",
        "cloud logging",
        "xray",
    ]
    assert len(with_trace(entries, None)) == 5


class Cloud:
    """A log store that grows between reads, and a clock that moves only when slept on."""

    def __init__(self, arrivals: list[list[LogEntry]]) -> None:
        self.arrivals = arrivals
        self.stored: list[LogEntry] = []
        self.reads: list[datetime] = []
        self.slept: list[float] = []

    def read(self, since: datetime) -> list[LogEntry]:
        self.reads.append(since)
        if self.arrivals:
            self.stored.extend(self.arrivals.pop(0))
        return merged([e for e in self.stored if e.time >= since])

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_follow_prints_each_line_once_and_reads_on_from_the_newest() -> None:
    cloud = Cloud([[line(0, "a"), line(1, "b")], [line(1, "b2 same millisecond as b")], [], [line(5, "c")]])
    shown = list(follow(cloud.read, at(0), sleep=cloud.sleep, every_s=2.0, max_polls=4))
    assert [e.message for e in shown] == ["a", "b", "b2 same millisecond as b", "c"]
    assert cloud.reads == [at(0), at(1), at(1), at(1)]
    assert cloud.slept == [2.0, 2.0, 2.0]  # between reads only; never after the last


def test_without_follow_there_is_one_read_and_no_sleep() -> None:
    cloud = Cloud([[line(0, "a")], [line(1, "never read")]])
    assert [e.message for e in follow(cloud.read, at(0), sleep=cloud.sleep, max_polls=1)] == ["a"]
    assert cloud.slept == []


def test_follow_ends_with_ctrl_c_after_showing_what_it_read() -> None:
    cloud = Cloud([[line(0, "a")]])

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    shown = []
    with pytest.raises(KeyboardInterrupt):
        for entry in follow(cloud.read, at(0), sleep=interrupted):
            shown.append(entry.message)
    assert shown == ["a"]


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = copy_app(REPO / "samples" / "shop", tmp_path)
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    return target


def test_an_undeclared_function_is_a_usage_error_naming_the_declared_ones(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "fulfil,refund", str(shop), "--provider", "aws"]) == 2
    err = capsys.readouterr().err
    declared = "place_order-run, create_order, get_order, confirm_payment, fulfil"
    assert f"App 'shop' has no function 'refund'; its functions are {declared}" in err


def test_a_bad_since_is_a_usage_error(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "fulfil", str(shop), "--provider", "aws", "--since", "last week"]) == 2
    assert "--since 'last week' is neither a duration nor a time" in capsys.readouterr().err


def test_the_local_provider_points_at_dev(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "fulfil", str(shop)]) == 1
    assert "`portable-fn dev` has kept no logs in " in capsys.readouterr().err

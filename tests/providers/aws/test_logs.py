"""`portable-fn logs --provider aws`: CloudWatch Logs read with FilterLogEvents from a real moto server.

The log groups and events are written with plain boto3 the way Lambda writes them (one stream per
execution environment; our JSON log lines, the Python runtime's text lines and the platform's
START/END/REPORT lines), then read back through the provider and through the CLI.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from portable_fn_aws.deploy.client import AwsClient
from portable_fn_aws.deploy.naming import Names
from portable_fn_aws.logs import CloudWatchLogs, to_entry

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.logread import LogsError, format_time
from portable_fn.provider import load_provider

from ...app_copy import copy_app

REGION = "eu-west-1"
REPO = Path(__file__).resolve().parents[3]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REQUEST = "c6af9ac6-7b61-11e6-9a41-93e812345678"


@pytest.fixture
def logs(endpoint: str) -> Any:
    """A boto3 CloudWatch Logs client on the emptied moto server (`endpoint`, tests/providers/aws/conftest.py)."""
    return boto3.client("logs", region_name=REGION, endpoint_url=endpoint)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = copy_app(REPO / "samples" / "shop", tmp_path)
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    return target


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def write(logs: Any, group: str, stream: str, events: list[tuple[datetime, str]]) -> None:
    """Events into a stream, as Lambda's log agent puts them (created on first use)."""
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": ms(t), "message": m} for t, m in events]
    )


def our_line(message: str, level: str = "INFO", trace: str = TRACE) -> str:
    return json.dumps(
        {
            "time": "x",
            "level": level,
            "message": message,
            "function": "fulfil",
            "invocation_id": REQUEST,
            "trace_id": trace,
            "provider": "aws",
        }
    )


@pytest.fixture
def base() -> datetime:
    return (datetime.now(timezone.utc) - timedelta(minutes=5)).replace(microsecond=0)


@pytest.fixture
def shop_logs(logs: Any, base: datetime) -> datetime:
    """Two execution environments of `fulfil` and one of `create_order`, their lines interleaved in time."""
    at = [base + timedelta(seconds=s) for s in range(8)]
    write(
        logs,
        "/aws/lambda/shop-dev-fulfil",
        "2026/01/01/[$LATEST]aaa",
        [
            (at[0], f"START RequestId: {REQUEST} Version: $LATEST\n"),
            (at[2], our_line("order o-1 fulfilled") + "\n"),
            (at[5], f"REPORT RequestId: {REQUEST}\tDuration: 2.00 ms\tBilled Duration: 3 ms\n"),
        ],
    )
    write(
        logs,
        "/aws/lambda/shop-dev-fulfil",
        "2026/01/01/[$LATEST]bbb",
        [
            (at[1], f"[WARNING]\t{format_time(at[1])}\t{REQUEST}\tstock is low\n"),
            (at[4], our_line("order o-2 failed", level="ERROR", trace="0af7651916cd43dd8448eb211c80319c") + "\n"),
        ],
    )
    write(
        logs,
        "/aws/lambda/shop-dev-create_order",
        "2026/01/01/[$LATEST]ccc",
        [
            (at[3], our_line("order o-2 accepted", trace="0af7651916cd43dd8448eb211c80319c")),
        ],
    )
    return base


def test_the_three_shapes_of_a_lambda_line_are_read_into_their_fields(base: datetime) -> None:
    text = to_entry(
        "fulfil",
        {"timestamp": ms(base), "eventId": "1", "message": f"[ERROR]\t2026-01-01T00:00:00.000Z\t{REQUEST}\tboom\n"},
    )
    ours = to_entry("fulfil", {"timestamp": ms(base), "eventId": "2", "message": our_line("done", "WARNING")})
    platform = to_entry("fulfil", {"timestamp": ms(base), "eventId": "3", "message": f"END RequestId: {REQUEST}\n"})
    assert (text.level, text.message, text.invocation_id, text.time) == ("ERROR", "boom", REQUEST, base)
    assert (ours.level, ours.message, ours.trace_id, ours.invocation_id) == ("WARNING", "done", TRACE, REQUEST)
    assert (platform.level, platform.message, platform.invocation_id) == (
        "DEFAULT",
        f"END RequestId: {REQUEST}",
        REQUEST,
    )
    lambda_json = to_entry(
        "fulfil",
        {
            "timestamp": ms(base),
            "eventId": "4",
            "message": json.dumps(
                {
                    "timestamp": "2026-01-01T00:00:00Z",
                    "level": "WARN",
                    "message": "slow",
                    "logger": "root",
                    "requestId": REQUEST,
                }
            ),
        },
    )  # Lambda's own JSON log format
    assert (lambda_json.level, lambda_json.message, lambda_json.invocation_id) == ("WARNING", "slow", REQUEST)


def test_every_page_of_every_function_is_read_and_merged_in_time_order(
    logs: Any, moto_endpoint: str, shop_logs: datetime
) -> None:
    client = AwsClient(REGION, moto_endpoint)
    reader = CloudWatchLogs(client, Names("shop", "dev"), page_size=2)
    entries = reader.read(["fulfil", "create_order"], shop_logs)
    assert [(e.function, e.message.split("\t")[0]) for e in entries] == [
        ("fulfil", f"START RequestId: {REQUEST} Version: $LATEST"),
        ("fulfil", "stock is low"),
        ("fulfil", "order o-1 fulfilled"),
        ("create_order", "order o-2 accepted"),
        ("fulfil", "order o-2 failed"),
        ("fulfil", f"REPORT RequestId: {REQUEST}"),
    ]
    assert [t for t in entries[1:] if t.time < entries[0].time] == []
    filters = [c for c in client.calls if c == ("logs", "FilterLogEvents")]
    assert len(filters) >= 4  # 5 fulfil events in pages of 2 (3 pages) and create_order's one


def test_since_leaves_out_older_lines(logs: Any, moto_endpoint: str, shop_logs: datetime) -> None:
    reader = CloudWatchLogs(AwsClient(REGION, moto_endpoint), Names("shop", "dev"))
    later = reader.read(["fulfil"], shop_logs + timedelta(seconds=3))
    assert [e.message for e in later][:1] == ["order o-2 failed"]


def test_a_function_without_a_log_group_says_it_is_not_deployed(logs: Any, moto_endpoint: str, base: datetime) -> None:
    reader = CloudWatchLogs(AwsClient(REGION, moto_endpoint), Names("shop", "qa"))
    with pytest.raises(LogsError, match=r"/aws/lambda/shop-qa-sweep does not exist in eu-west-1.*portable-fn deploy"):
        reader.read(["sweep"], base)


def test_the_provider_reads_the_deployed_names_of_the_stage(
    logs: Any, moto_endpoint: str, shop_logs: datetime, shop: Path
) -> None:
    app = load_app(shop)
    provider = load_provider("aws", app.config.provider_settings("aws", "dev"), moto_endpoint)
    entries = provider.read_logs(app, "dev", [app.function("create_order")], shop_logs)
    assert [(e.function, e.message, e.trace_id) for e in entries] == [
        ("create_order", "order o-2 accepted", "0af7651916cd43dd8448eb211c80319c")
    ]


def test_cli_prints_time_level_function_message(
    logs: Any, moto_endpoint: str, shop_logs: datetime, shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "logs",
            "fulfil,create_order",
            str(shop),
            "--provider",
            "aws",
            "--endpoint-url",
            moto_endpoint,
            "--since",
            format_time(shop_logs),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1] == f"{format_time(shop_logs + timedelta(seconds=1))} WARNING fulfil stock is low"
    assert lines[3] == f"{format_time(shop_logs + timedelta(seconds=3))} INFO create_order order o-2 accepted"
    assert len(lines) == 6 and "testing" not in out + err  # the dummy credentials are never printed


def test_cli_json_and_trace_filter(
    logs: Any, moto_endpoint: str, shop_logs: datetime, shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "logs",
            "fulfil,create_order",
            str(shop),
            "--provider",
            "aws",
            "--endpoint-url",
            moto_endpoint,
            "--since",
            "1h",
            "--json",
            "--trace",
            "0AF7651916CD43DD8448EB211C80319C",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["function"], r["level"], r["message"]) for r in rows] == [
        ("create_order", "INFO", "order o-2 accepted"),
        ("fulfil", "ERROR", "order o-2 failed"),
    ]
    assert rows[0]["invocation_id"] == REQUEST and rows[0]["raw"]["message"].startswith("{")


def test_cli_missing_log_group_is_an_error_saying_what_to_do(
    logs: Any, moto_endpoint: str, shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["logs", "sweep", str(shop), "--provider", "aws", "--endpoint-url", moto_endpoint])
    assert code == 1
    assert "/aws/lambda/shop-dev-sweep does not exist" in capsys.readouterr().err

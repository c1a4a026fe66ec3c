"""`portable-fn logs FUNCTION --usage` on AWS: the usage lines the JSON logger writes, put into CloudWatch
Logs on a real moto server as Lambda puts them (beside Lambda's platform lines and a plain print), summed
per tenant by the CLI, as a table and as JSON."""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from portable_fn.cli import main
from portable_fn.runtime.log_format import JsonFormatter
from portable_fn.runtime.tenants import USAGE_LOGGER

from ..providers.aws.conftest import moto_endpoint  # noqa: F401  (the session's moto server, for this module)

REGION = "eu-west-1"


@pytest.fixture
def shop(shop_copy: Path) -> Path:
    return shop_copy


def usage_line(tenant: str, duration_ms: float, outcome: str = "ack") -> str:
    """The line Lambda's log stream holds for one call's usage (JSON log format)."""
    usage = {"tenant": tenant, "function": "fulfil", "invocations": 1, "duration_ms": duration_ms, "outcome": outcome}
    record = logging.LogRecord(USAGE_LOGGER, logging.INFO, __file__, 1, {"usage": usage}, None, None)
    return JsonFormatter("aws", {"AWS_LAMBDA_LOG_FORMAT": "JSON"}, end="\n").format(record)


@pytest.fixture
def usage_logs(moto_endpoint: str) -> None:  # noqa: F811
    urllib_reset(moto_endpoint)
    logs = boto3.client("logs", region_name=REGION, endpoint_url=moto_endpoint)
    group, base = "/aws/lambda/shop-dev-fulfil", datetime.now(timezone.utc) - timedelta(minutes=5)
    logs.create_log_group(logGroupName=group)
    for stream, lines in (
        ("2026/12/06/[$LATEST]aaa", [usage_line("acme", 12.5), "START RequestId: 1 Version: $LATEST\n"]),
        ("2026/12/06/[$LATEST]bbb", [usage_line("globex", 3.0), "a print\n", usage_line("acme", 7.5, "refused")]),
    ):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        at = [int((base + timedelta(seconds=i)).timestamp() * 1000) for i in range(len(lines))]
        events = [{"timestamp": t, "message": m} for t, m in zip(at, lines)]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def urllib_reset(endpoint: str) -> None:
    """Empty the moto server: the test starts from an account with nothing in it."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


def run(capsys: pytest.CaptureFixture[str], shop: Path, endpoint: str, *extra: str) -> tuple[int, str, str]:
    args = ["logs", "fulfil", str(shop), "--provider", "aws", "--endpoint-url", endpoint, "--since", "1h", "--usage"]
    code = main([*args, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_logs_usage_prints_a_table_per_tenant(
    usage_logs: None,
    moto_endpoint: str,  # noqa: F811
    shop: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, shop, moto_endpoint)
    assert code == 0, err
    assert out.splitlines() == [
        "TENANT  INVOCATIONS  REFUSED  FAILED  TOTAL_MS  MEAN_MS",
        "acme    2            1        0       20.0      10.0",
        "globex  1            0        0       3.0       3.0",
    ]


def test_logs_usage_as_json(
    usage_logs: None,
    moto_endpoint: str,  # noqa: F811
    shop: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, shop, moto_endpoint, "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "usage": [
            {
                "tenant": "acme",
                "invocations": 2,
                "total_ms": 20.0,
                "mean_ms": 10.0,
                "outcomes": {"ack": 1, "refused": 1},
            },
            {"tenant": "globex", "invocations": 1, "total_ms": 3.0, "mean_ms": 3.0, "outcomes": {"ack": 1}},
        ]
    }

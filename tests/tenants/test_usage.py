"""Usage per tenant: one line per call that served a tenant, written through the JSON logger, read back by
each cloud's log reader (entries shaped as each reader gets them from its cloud) and summed per tenant."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from portable_fn_aws.logs import to_entry as aws_entry
from portable_fn_azure.logs import to_entry as azure_entry
from portable_fn_gcp.logs import to_entry as gcp_entry

from portable_fn.logread import LogEntry, TenantUsage, format_time, usage_by_tenant, usage_of
from portable_fn.runtime import CloudEvent, FunctionSpec, Request, call_event, call_http, spec_of
from portable_fn.runtime.log_format import JsonFormatter
from portable_fn.runtime.tenants import USAGE_LOGGER, usage_log

from .conftest import Recording
from .handlers import tenanted

NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=timezone.utc)


def spec(handler: Any) -> FunctionSpec:
    found = spec_of(handler)
    assert found is not None
    return found


def put(tenant: str | None) -> Request:
    headers = {"X-Tenant-Id": tenant} if tenant else {}
    return Request("PUT", "/notes/k", headers=headers, body="x", path_params={"key": "k"})


def usages(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    """The usage of each record, its duration checked and left out (it depends on the machine)."""
    found = []
    for record in records:
        assert isinstance(record.msg, dict) and list(record.msg) == ["usage"] and record.levelno == logging.INFO
        usage = dict(record.msg["usage"])
        assert isinstance(usage.pop("duration_ms"), float)
        found.append(usage)
    return found


def test_each_call_serving_a_tenant_logs_one_usage_line(
    usage_lines: list[logging.LogRecord], published: Recording
) -> None:
    call_http(spec(tenanted.put_note), put("acme"))
    call_http(spec(tenanted.put_note), put(None))  # refused: no tenant, no usage
    call_http(spec(tenanted.untenanted), Request("GET", "/open"))  # no tenant declared
    call_event(spec(tenanted.job), CloudEvent(id="e-1", source="/s", type="t", extensions={"tenantid": "globex"}))
    call_event(spec(tenanted.job), CloudEvent(id="e-2", source="/s", type="t"))  # no tenantid
    assert usages(usage_lines) == [
        {"tenant": "acme", "function": "put_note", "invocations": 1, "outcome": "ack", "status": 201},
        {"tenant": "globex", "function": "job", "invocations": 1, "outcome": "ack"},
    ]


def test_a_failed_call_is_counted_with_its_outcome(usage_lines: list[logging.LogRecord]) -> None:
    """`job` emits, and no publisher is installed here: its events cannot be sent, so it is retried."""
    call_event(spec(tenanted.job), CloudEvent(id="e-3", source="/s", type="t", extensions={"tenantid": "acme"}))
    assert usages(usage_lines) == [{"tenant": "acme", "function": "job", "invocations": 1, "outcome": "retry"}]


def test_usage_is_written_whatever_the_level_the_app_logs_at() -> None:
    logger = usage_log()
    assert logger is logging.getLogger(USAGE_LOGGER)
    assert logger.getEffectiveLevel() == logging.INFO
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # LOG_LEVEL=ERROR, as `logs.configure` sets it on a cloud
    try:
        assert logger.isEnabledFor(logging.INFO)
    finally:
        root.setLevel(level)


# -- read back from each cloud ---------------------------------------------------------------------------


@pytest.fixture
def lines(usage_lines: list[logging.LogRecord], published: Recording) -> list[logging.LogRecord]:
    """The usage records of five calls: acme three, globex two."""
    for tenant in ("acme", "globex", "acme", "acme", "globex"):
        call_http(spec(tenanted.put_note), put(tenant))
    assert len(usage_lines) == 5
    return usage_lines


def durations(records: list[logging.LogRecord]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for record in records:
        usage = record.msg["usage"]  # type: ignore[index]
        totals[usage["tenant"]] = totals.get(usage["tenant"], 0.0) + usage["duration_ms"]
    return totals


def aws(records: list[logging.LogRecord]) -> list[LogEntry]:
    """CloudWatch Logs events (FilterLogEvents) holding the lines the JSON logger wrote on Lambda."""
    formatter = JsonFormatter("aws", {"AWS_LAMBDA_LOG_FORMAT": "JSON"}, end="\n")
    return [
        aws_entry("put_note", {"timestamp": int(NOW.timestamp() * 1000) + i, "eventId": str(i), "message": line})
        for i, line in enumerate(formatter.format(r) for r in records)
    ] + [aws_entry("put_note", {"timestamp": 0, "eventId": "x", "message": "REPORT RequestId: 1\tDuration: 2 ms\n"})]


def gcp(records: list[logging.LogRecord]) -> list[LogEntry]:
    """Cloud Logging entries: each JSON line on stdout lifted into jsonPayload."""
    formatter = JsonFormatter("gcp", {"GOOGLE_CLOUD_PROJECT": "proj"})
    found = []
    for i, record in enumerate(records):
        payload = json.loads(formatter.format(record))
        severity = payload.pop("severity")
        found.append(
            {
                "insertId": f"i{i}",
                "timestamp": format_time(NOW + timedelta(seconds=i)),
                "severity": severity,
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "notes-dev-put-note"}},
                "jsonPayload": payload,
            }
        )
    found.append({"insertId": "t", "timestamp": format_time(NOW), "textPayload": "a print", "resource": {"labels": {}}})
    return [gcp_entry(f, {"notes-dev-put-note": "put_note"}) for f in found]


def azure(records: list[logging.LogRecord]) -> list[LogEntry]:
    """AppTraces rows: the Functions host keeps the line the worker sent as Message."""
    formatter = JsonFormatter("azure", {})
    return [
        azure_entry(
            {
                "TimeGenerated": format_time(NOW + timedelta(seconds=i)),
                "Message": formatter.format(record),
                "SeverityLevel": "1",
                "OperationName": "put_note",
                "OperationId": "abc",
                "Properties": json.dumps({"InvocationId": f"inv-{i}"}),
                "_ItemId": str(i),
            }
        )
        for i, record in enumerate(records)
    ]


@pytest.mark.parametrize("read_back", [aws, gcp, azure], ids=["aws", "gcp", "azure"])
def test_every_clouds_reader_gives_the_usage_back_and_it_sums_per_tenant(
    read_back: Any, lines: list[logging.LogRecord]
) -> None:
    entries = read_back(lines)
    first = usage_of(entries[0])
    assert first is not None and first["tenant"] == "acme" and first["function"] == "put_note"
    totals = durations(lines)
    assert usage_by_tenant(entries) == [
        TenantUsage("acme", 3, pytest.approx(totals["acme"], abs=0.01), {"ack": 3}),  # type: ignore[arg-type]
        TenantUsage("globex", 2, pytest.approx(totals["globex"], abs=0.01), {"ack": 2}),  # type: ignore[arg-type]
    ]


def entry(message: str) -> LogEntry:
    return LogEntry(NOW, "f", "INFO", message, entry_id=uuid.uuid4().hex)


def test_summing_adds_invocations_and_durations_and_skips_every_other_line() -> None:
    def usage(tenant: str, ms: float, invocations: int = 1) -> LogEntry:
        return entry(json.dumps({"usage": {"tenant": tenant, "invocations": invocations, "duration_ms": ms}}))

    entries = [
        usage("b", 10.0),
        usage("a", 1.5),
        entry("plain text"),
        entry(json.dumps({"usage": {"tenant": "a"}, "other": 1})),  # not a usage line: something else too
        entry(json.dumps({"usage": {"function": "f"}})),  # no tenant
        entry(json.dumps({"usage": "lots"})),
        usage("a", 2.5, invocations=3),
    ]
    summed = usage_by_tenant(entries)
    assert summed == [TenantUsage("a", 4, 4.0), TenantUsage("b", 1, 10.0)]
    assert [t.to_dict() for t in summed] == [
        {"tenant": "a", "invocations": 4, "total_ms": 4.0, "mean_ms": 1.0, "outcomes": {}},
        {"tenant": "b", "invocations": 1, "total_ms": 10.0, "mean_ms": 10.0, "outcomes": {}},
    ]
    assert summed[0].row() == ("a", "4", "0", "0", "4.0", "1.0")
    assert usage_by_tenant([]) == []

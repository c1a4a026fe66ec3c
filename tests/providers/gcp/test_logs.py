"""`portable-fn logs --provider gcp`: Cloud Logging's entries.list, against a fake that holds to the
method's published Discovery document (logging_api.py), through the provider and through the CLI."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.logs import CloudLogging, log_filter

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.logread import LogsError, format_time
from portable_fn.provider import load_provider

from ...app_copy import copy_app

REPO = Path(__file__).resolve().parents[3]
PROJECT, REGION = "shop-project", "europe-west1"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def _load(name: str) -> Any:
    """A helper module beside this file (tests run with --import-mode=importlib, no sys.path entry)."""
    spec = importlib.util.spec_from_file_location(f"portable_fn_tests_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


logging_api = _load("logging_api")


@pytest.fixture
def api() -> Iterator[Any]:
    with logging_api.LoggingApi(page_limit=2) as server:
        yield server


@pytest.fixture
def base() -> datetime:
    return (datetime.now(timezone.utc) - timedelta(minutes=5)).replace(microsecond=0)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = copy_app(REPO / "samples" / "shop", tmp_path)
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return target


def entry(service: str, at: datetime, insert_id: str, *, region: str = REGION, **payload: Any) -> dict[str, Any]:
    """A log entry as Cloud Run writes one for a 2nd gen function's service."""
    return {
        "insertId": insert_id,
        "timestamp": logging_api.when(at),
        "receiveTimestamp": logging_api.when(at),
        "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2Fstdout",
        "resource": {
            "type": "cloud_run_revision",
            "labels": {
                "service_name": service,
                "location": region,
                "project_id": PROJECT,
                "revision_name": f"{service}-00001-abc",
                "configuration_name": service,
            },
        },
        "labels": {"instanceId": "0069c7a988"},
        **payload,
    }


def ours(message: str, trace: str = TRACE, severity: str = "INFO") -> dict[str, Any]:
    """One of our JSON lines as Cloud Logging stores it: severity and trace lifted into the entry."""
    return {
        "severity": severity,
        "trace": f"projects/{PROJECT}/traces/{trace}",
        "spanId": "00f067aa0ba902b7",
        "jsonPayload": {
            "message": message,
            "function": "fulfil",
            "invocation_id": "exec-1",
            "trace_id": trace,
            "provider": "gcp",
            "cold_start": False,
        },
    }


@pytest.fixture
def shop_entries(api: Any, base: datetime) -> datetime:
    at = [base + timedelta(seconds=s) for s in range(8)]
    api.add(
        entry("shop-dev-fulfil", at[4], "e4", **ours("order o-2 failed", OTHER_TRACE, "ERROR")),
        entry("shop-dev-fulfil", at[0], "e0", textPayload="plain print from fulfil\n"),
        entry(
            "shop-dev-create-order",
            at[1],
            "e1",
            severity="INFO",
            httpRequest={
                "requestMethod": "POST",
                "status": 201,
                "requestUrl": "https://shop-dev-create-order-x.a.run.app/orders",
            },
            trace=f"projects/{PROJECT}/traces/{OTHER_TRACE}",
        ),
        entry("shop-dev-fulfil", at[2], "e2", **ours("order o-1 fulfilled")),
        entry("shop-dev-create-order", at[3], "e3", **ours("order o-2 accepted", OTHER_TRACE)),
        entry("shop-dev-fulfil", at[5], "e5", region="us-central1", **ours("another region")),
        entry("shop-dev-sweep", at[6], "e6", **ours("another function")),
        entry("shop-dev-fulfil", base - timedelta(seconds=1), "old", **ours("before --since")),
    )
    return base


def test_the_fake_holds_to_the_discovery_document(api: Any) -> None:
    with pytest.raises(logging_api.BadRequest, match='Unknown name "projectId"'):
        api.answer("POST", "/v2/entries:list", {"projectId": PROJECT})
    with pytest.raises(logging_api.BadRequest, match="resource name is required"):
        api.answer("POST", "/v2/entries:list", {"filter": ""})
    with pytest.raises(logging_api.BadRequest, match="orderBy"):
        api.answer("POST", "/v2/entries:list", {"resourceNames": [f"projects/{PROJECT}"], "orderBy": "time"})
    with pytest.raises(AssertionError, match="no field"):
        api.add({"timestamp": "2026-01-01T00:00:00Z", "message": "not a LogEntry field"})


def test_every_page_is_read_and_only_the_services_in_the_region_since_then(api: Any, shop_entries: datetime) -> None:
    reader = CloudLogging.connect(api.url)
    entries = reader.read(
        PROJECT, REGION, {"shop-dev-fulfil": "fulfil", "shop-dev-create-order": "create_order"}, shop_entries
    )
    assert [(e.function, e.level, e.message) for e in entries] == [
        ("fulfil", "DEFAULT", "plain print from fulfil"),
        ("create_order", "INFO", "POST 201 https://shop-dev-create-order-x.a.run.app/orders"),
        ("fulfil", "INFO", "order o-1 fulfilled"),
        ("create_order", "INFO", "order o-2 accepted"),
        ("fulfil", "ERROR", "order o-2 failed"),
    ]
    assert entries[1].trace_id == OTHER_TRACE and entries[2].invocation_id == "exec-1"
    assert entries[0].time == shop_entries  # nanoseconds read, to the microsecond
    assert len(api.requests) == 3 and [r.get("pageToken") for r in api.requests] == [None, "t0", "t1"]
    assert api.requests[0]["orderBy"] == "timestamp asc" and api.requests[0]["resourceNames"] == [f"projects/{PROJECT}"]
    assert "authorization" not in {k.lower() for k in api.headers[0]}  # a plain-http fake gets no credentials


def test_the_filter_names_the_resource_type_the_services_and_the_start() -> None:
    since = datetime(2026, 1, 31, 12, 0, tzinfo=timezone.utc)
    assert log_filter(REGION, {"b-svc": "b", "a-svc": "a"}, since) == (
        'resource.type="cloud_run_revision" AND resource.labels.location="europe-west1" AND '
        '(resource.labels.service_name="a-svc" OR resource.labels.service_name="b-svc") AND '
        'timestamp>="2026-01-31T12:00:00.000Z"'
    )


def test_an_error_answer_says_what_google_said(api: Any) -> None:
    with pytest.raises(LogsError, match=r"Cloud Logging in project '': 400 INVALID_ARGUMENT Invalid resource name"):
        CloudLogging.connect(api.url).read("", REGION, {"s": "f"}, datetime.now(timezone.utc))


def test_the_provider_reads_the_deployed_service_names(api: Any, shop_entries: datetime, shop: Path) -> None:
    app = load_app(shop)
    settings = {**app.config.provider_settings("gcp", "dev"), "endpoints": {"logging": api.url}}
    provider = load_provider("gcp", settings)
    entries = provider.read_logs(app, "dev", [app.function("create_order")], shop_entries)
    assert [e.message for e in entries] == [
        "POST 201 https://shop-dev-create-order-x.a.run.app/orders",
        "order o-2 accepted",
    ]


def test_cli_trace_filter_matches_cloud_loggings_trace_field(
    api: Any, shop_entries: datetime, shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "logs",
            "create_order,fulfil",
            str(shop),
            "--provider",
            "gcp",
            "--endpoint-url",
            api.url,
            "--since",
            format_time(shop_entries),
            "--trace",
            OTHER_TRACE,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    at = [format_time(shop_entries + timedelta(seconds=s)) for s in range(8)]
    assert out.splitlines() == [
        f"{at[1]} INFO create_order POST 201 https://shop-dev-create-order-x.a.run.app/orders",
        f"{at[3]} INFO create_order order o-2 accepted",
        f"{at[4]} ERROR fulfil order o-2 failed",
    ]


def test_cli_follow_prints_new_lines_once_each(
    api: Any, shop_entries: datetime, shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = shop_entries + timedelta(seconds=7)
    api.arrive_after(2, entry("shop-dev-fulfil", late, "late", **ours("written while following")))
    code = main(
        [
            "logs",
            "fulfil",
            str(shop),
            "--provider",
            "gcp",
            "--endpoint-url",
            api.url,
            "--since",
            format_time(shop_entries),
            "--follow",
            "--json",
            "--poll-s",
            "0",
            "--max-polls",
            "3",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["message"] for r in rows] == [
        "plain print from fulfil",
        "order o-1 fulfilled",
        "order o-2 failed",
        "written while following",
    ]
    assert rows[-1]["time"] == format_time(late) and rows[-1]["raw"]["insertId"] == "late"
    later_starts = [r["filter"].rsplit(">=", 1)[1] for r in api.requests if "pageToken" not in r]
    assert later_starts[1:] == [f'"{format_time(shop_entries + timedelta(seconds=4))}"', f'"{format_time(late)}"']

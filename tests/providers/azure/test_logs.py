"""`portable-fn logs --provider azure`: Application Insights' AppTraces through the Log Analytics query API,
against a fake that holds to the API's published OpenAPI description (loganalytics_api.py), through the
provider and through the CLI."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.deploy.naming import Names
from portable_fn_azure.logs import LogAnalytics, to_entry, traces_query

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.logread import LogsError, format_time
from portable_fn.provider import load_provider
from portable_fn.runtime.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
WORKSPACE = "63613592-b6f7-4c3d-a390-22ba13102111"
SITE = Names("shop", "dev", SUBSCRIPTION).function_app
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


loganalytics_api = _load("loganalytics_api")


@pytest.fixture
def api() -> Iterator[Any]:
    with loganalytics_api.LogAnalyticsApi() as server:
        yield server


@pytest.fixture
def base() -> datetime:
    return (datetime.now(timezone.utc) - timedelta(minutes=5)).replace(microsecond=0)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: Any) -> Path:
    """samples/shop with the fake's workspace and endpoint in its Azure settings."""
    target = tmp_path / "shop"
    shutil.copytree(REPO / "samples" / "shop", target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    pyproject = target / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'location = "westeurope"\n',
            f'location = "westeurope"\nlogs_workspace_id = "{WORKSPACE}"\nlogs_endpoint = "{api.url}"\n',
        )
    )
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    return target


def trace_row(
    function: str, at: datetime, item: str, message: str, *, level: int = 1, trace: str = TRACE, site: str = SITE
) -> dict[str, Any]:
    """A row of AppTraces as the Functions host writes a function's log line into it."""
    return {
        "TimeGenerated": at.isoformat().replace("+00:00", "Z"),
        "Message": message,
        "SeverityLevel": level,
        "AppRoleName": site,
        "OperationName": function,
        "OperationId": trace,
        "_ItemId": item,
        "Properties": {
            "InvocationId": f"inv-{item}",
            "Category": f"Function.{function}.User",
            "LogLevel": "Information",
            "HostInstanceId": "a5b7e6f2",
        },
    }


def ours(message: str, trace: str = TRACE, level: str = "INFO") -> str:
    return json.dumps(
        {"message": message, "level": level, "trace_id": trace, "invocation_id": "ours-1", "provider": "azure"}
    )


@pytest.fixture
def shop_rows(api: Any, base: datetime) -> datetime:
    at = [base + timedelta(seconds=s) for s in range(8)]
    api.add(
        trace_row("fulfil", at[4], "i4", ours("order o-2 failed", OTHER_TRACE, "ERROR"), level=3, trace=OTHER_TRACE),
        trace_row("fulfil", at[0], "i0", "Executing 'Functions.fulfil' (Reason='New queue message detected')"),
        trace_row("create_order", at[1], "i1", "stock is low", level=2, trace=OTHER_TRACE),
        trace_row("fulfil", at[2], "i2", ours("order o-1 fulfilled")),
        trace_row("sweep", at[3], "i3", ours("another function")),
        trace_row("fulfil", at[5], "i5", ours("another app"), site="other-app"),
        trace_row("fulfil", base - timedelta(seconds=1), "old", ours("before --since")),
    )
    return base


def test_the_fake_holds_to_the_description(api: Any) -> None:
    path = f"/v1/workspaces/{WORKSPACE}/query"
    with pytest.raises(loganalytics_api.BadQuery, match="required property 'query'"):
        api.answer(path, {"timespan": "PT1H"})
    with pytest.raises(loganalytics_api.BadQuery, match="does not have: 'kql'"):
        api.answer(path, {"query": "AppTraces", "kql": "x"})
    with pytest.raises(LookupError, match="No operation"):
        api.answer(f"/v2/workspaces/{WORKSPACE}/query", {"query": "AppTraces"})
    answer = api.answer(path, {"query": "AppTraces | project TimeGenerated, Message"})
    assert answer["tables"][0]["columns"] == [
        {"name": "TimeGenerated", "type": "datetime"},
        {"name": "Message", "type": "string"},
    ]


def test_the_functions_lines_of_the_app_since_then_oldest_first(api: Any, shop_rows: datetime) -> None:
    entries = LogAnalytics(WORKSPACE, api.url).read(SITE, ["fulfil", "create_order"], shop_rows)
    assert [(e.function, e.level, e.message, e.trace_id) for e in entries] == [
        ("fulfil", "INFO", "Executing 'Functions.fulfil' (Reason='New queue message detected')", TRACE),
        ("create_order", "WARNING", "stock is low", OTHER_TRACE),
        ("fulfil", "INFO", "order o-1 fulfilled", TRACE),
        ("fulfil", "ERROR", "order o-2 failed", OTHER_TRACE),
    ]
    assert [e.invocation_id for e in entries] == ["inv-i0", "inv-i1", "ours-1", "ours-1"]
    path, body, headers = api.requests[0]
    assert path == f"/v1/workspaces/{WORKSPACE}/query" and set(body) == {"query"}
    assert "authorization" not in {k.lower() for k in headers}  # a plain-http fake gets no token


def test_a_row_with_typed_values_reads_the_same(base: datetime) -> None:
    row = {
        "TimeGenerated": "2026-01-31T12:00:00.1234567Z",
        "OperationName": "fulfil",
        "SeverityLevel": 4,
        "Message": "boom",
        "OperationId": TRACE,
        "Properties": {"InvocationId": "inv-1"},
        "_ItemId": "x",
    }
    entry = to_entry(row)
    assert (entry.level, entry.invocation_id, entry.time.microsecond) == ("CRITICAL", "inv-1", 123456)


def test_the_query_quotes_names_as_kql_strings() -> None:
    since = datetime(2026, 1, 31, 12, 0, tzinfo=timezone.utc)
    assert traces_query("shop-dev-abc123", ["b", "a"], since).splitlines() == [
        "AppTraces",
        "| where TimeGenerated >= datetime(2026-01-31T12:00:00.000Z)",
        '| where AppRoleName =~ "shop-dev-abc123" and OperationName in ("a", "b")',
        "| project TimeGenerated, OperationName, SeverityLevel, Message, OperationId, Properties, _ItemId",
        "| order by TimeGenerated asc",
    ]


def test_an_unknown_workspace_says_which_setting_names_it(api: Any) -> None:
    with pytest.raises(LogsError, match=r"404 WorkspaceNotFoundError .*logs_workspace_id"):
        LogAnalytics("not-a-workspace", api.url).read(SITE, ["fulfil"], datetime.now(timezone.utc))


def test_the_provider_needs_a_workspace(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_LOG_ANALYTICS_WORKSPACE_ID", raising=False)
    app = load_app(shop)
    settings = {k: v for k, v in app.config.provider_settings("azure", "dev").items() if k != "logs_workspace_id"}
    with pytest.raises(ConfigError, match="logs_workspace_id = .* AZURE_LOG_ANALYTICS_WORKSPACE_ID"):
        load_provider("azure", settings).read_logs(app, "dev", [app.function("fulfil")], datetime.now(timezone.utc))


def test_cli_reads_the_deployed_site_and_prints_json_lines(
    api: Any, shop_rows: datetime, shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "logs",
            "fulfil",
            str(shop),
            "--provider",
            "azure",
            "--since",
            format_time(shop_rows),
            "--json",
            "--trace",
            TRACE,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["function"], r["message"]) for r in rows] == [
        ("fulfil", "Executing 'Functions.fulfil' (Reason='New queue message detected')"),
        ("fulfil", "order o-1 fulfilled"),
    ]
    assert rows[1]["raw"]["_ItemId"] == "i2" and rows[1]["time"] == format_time(shop_rows + timedelta(seconds=2))

"""The dev host keeps each call's log records (the clouds' JSON lines, with the stage) in its state directory,
and `portable-fn logs --provider local` reads them back as it reads a cloud's: `--usage` sums the tenants'."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.local.function_logs import KEPT, KEPT_BEFORE, FunctionLogs, read_kept
from portable_fn.local.host import LocalHost

from ..app_copy import copy_app
from .test_function_logs import bare_root, running, ship  # noqa: F401 - `running` is a fixture

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
SAAS = Path(__file__).resolve().parents[2] / "samples" / "saas"


def kept_run(state_dir: Path, *orders: int, max_bytes: int = 1 << 20) -> None:
    logs = FunctionLogs(lambda line: None, keep_in=state_dir, stage="dev", max_bytes=max_bytes)
    with bare_root():
        logs.attach()
        try:
            for order in orders:
                ship({"order": order})
            logging.getLogger("shop.startup").warning("outside any call")
        finally:
            logs.detach()


def test_a_calls_records_are_kept_and_read_back_per_function_stage_and_time(
    running: None,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    kept_run(tmp_path, 7)
    entries = read_kept(tmp_path, "dev", {"ship"}, EPOCH)
    assert [(e.function, e.level, e.message) for e in entries] == [
        ("ship", "INFO", "shipping 7"),
        ("ship", "WARNING", "stock low for 7"),
        ("ship", "INFO", "from a thread"),
    ]
    assert {e.trace_id for e in entries} == {"4bf92f3577b34da6a3ce929d0e0e4736"}
    assert {e.invocation_id for e in entries} == {"inv-1"}
    assert read_kept(tmp_path, "prod", {"ship"}, EPOCH) == []
    assert read_kept(tmp_path, "dev", {"other"}, EPOCH) == []
    assert read_kept(tmp_path, "dev", {"ship"}, entries[-1].time + timedelta(seconds=1)) == []


def test_the_kept_lines_roll_over_keeping_the_previous_file(
    running: None,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    kept_run(tmp_path, 1, 2, max_bytes=1)  # every line starts a new file: the last two lines are kept
    assert (tmp_path / KEPT).exists() and (tmp_path / KEPT_BEFORE).exists()
    assert [e.message for e in read_kept(tmp_path, "dev", {"ship"}, EPOCH)] == ["stock low for 2", "from a thread"]


def test_a_line_cut_short_is_passed_over(tmp_path: Path) -> None:
    line = {"time": "2026-12-01T10:00:00.000Z", "function": "ship", "stage": "dev", "level": "INFO", "message": "m"}
    (tmp_path / KEPT).write_text(json.dumps(line) + "\n" + json.dumps(line)[:20], encoding="utf-8")
    assert [e.message for e in read_kept(tmp_path, "dev", {"ship"}, EPOCH)] == ["m"]


def test_logs_usage_on_the_local_provider_sums_what_dev_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = copy_app(SAAS, tmp_path)
    state = app / ".portable-fn" / "local"
    state.mkdir(parents=True)
    now = datetime.now(timezone.utc)

    def usage(tenant: str, function: str, ms: float, outcome: str, stage: str = "dev") -> str:
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        message = {"usage": {"tenant": tenant, "function": function, "invocations": 1, "duration_ms": ms,
                             "outcome": outcome}}  # fmt: skip
        return json.dumps({"time": stamp, "level": "INFO", "message": message, "function": function, "stage": stage})

    lines = [
        usage("acme", "create_project", 10.0, "ack"),
        usage("acme", "create_project", 30.0, "refused"),
        usage("globex", "create_project", 5.0, "ack"),
        usage("globex", "list_projects", 7.0, "ack"),  # another function: not asked for
        usage("acme", "create_project", 99.0, "ack", stage="prod"),  # another stage
    ]
    (state / KEPT).write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["logs", "create_project", str(app), "--usage", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["usage"] == [
        {"tenant": "acme", "invocations": 2, "total_ms": 40.0, "mean_ms": 20.0, "outcomes": {"ack": 1, "refused": 1}},
        {"tenant": "globex", "invocations": 1, "total_ms": 5.0, "mean_ms": 5.0, "outcomes": {"ack": 1}},
    ]


def test_with_nothing_kept_logs_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = copy_app(SAAS, tmp_path)
    assert main(["logs", "create_project", str(app)]) == 1
    err = capsys.readouterr().err
    assert f"`portable-fn dev` has kept no logs in {app / '.portable-fn' / 'local'}: " in err
    assert "Traceback" not in err


def test_after_a_dev_session_whose_functions_logged_nothing_logs_finds_nothing_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, state = copy_app(SAAS, tmp_path), tmp_path / "state"
    with LocalHost(load_app(app), port=0, state_dir=state, log=lambda line: None):
        pass  # served, never called
    capsys.readouterr()
    assert main(["logs", "create_project", str(app), "--state-dir", str(state), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "kept no logs" not in captured.err

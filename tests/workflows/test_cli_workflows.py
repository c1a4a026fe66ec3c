"""`portable-fn workflows list|show|cancel|retry --provider local`: the instances a dev host keeps in the
app's state directory, read and operated on directly when no host runs (what a cancel sends waits in the
journal for the next `portable-fn dev`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.local.host import LocalHost, dev_state_dir
from portable_fn.local.journal import Journal
from portable_fn.workflows import WorkflowDriver

from ..local.conftest import Client
from .conftest import FLOW_DIR


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FLOW_DIR, tmp_path / "flow", ignore=shutil.ignore_patterns(".portable-fn")))


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def waiting_instance(app_dir: Path, state_dir: Path | None = None) -> str:
    """An instance of the contract workflow waiting for its approval, kept where `dev` keeps states (or
    where `dev --state-dir` would)."""
    app = load_app(app_dir)
    flow: Any = __import__("flow")
    with WorkflowDriver(state_dir=state_dir or dev_state_dir(app)) as driver:
        instance_id = driver.start(flow.order_flow, {"id": "o-7", "qty": 2})
        driver.run(for_s=60)
    return instance_id


def test_list_and_show_read_the_state_directory(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    instance_id = waiting_instance(app_dir)
    code, out, _ = cli(capsys, "workflows", "list", str(app_dir), "--json")
    assert code == 0
    [listed] = json.loads(out)["instances"]
    assert listed["id"] == instance_id and listed["status"] == "waiting" and listed["steps"] == 5
    code, out, _ = cli(capsys, "workflows", "list", str(app_dir))
    assert code == 0 and instance_id in out and "waiting" in out
    code, out, _ = cli(capsys, "workflows", "show", instance_id, str(app_dir))
    assert code == 0
    assert "order_flow" in out and "flow.approved#o-7" in out and "authorize" in out
    code, out, _ = cli(capsys, "workflows", "show", instance_id, str(app_dir), "--json")
    assert json.loads(out)["waiting"]["for"] == "event"


def test_cancel_without_a_host_leaves_the_message_in_the_journal(
    app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = waiting_instance(app_dir)
    code, out, _ = cli(capsys, "workflows", "cancel", instance_id, str(app_dir), "--reason", "test", "--json")
    assert code == 0 and json.loads(out)["status"] == "cancelling"
    with Journal(dev_state_dir(load_app(app_dir)) / "journal.sqlite3") as journal:
        [pending] = journal.pending("order_flow-run")
    assert pending.event.data == {"instance": instance_id, "kind": "cancel"}
    code, out, _ = cli(capsys, "workflows", "retry", instance_id, str(app_dir))  # unfinished: nudged on
    assert code == 0 and "Retrying" in out
    with Journal(dev_state_dir(load_app(app_dir)) / "journal.sqlite3") as journal:
        kinds = [p.event.data["kind"] for p in journal.pending("order_flow-run")]
    assert kinds == ["cancel", "retry"]


def test_a_misspelt_status_is_a_usage_error_listing_the_statuses(
    app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "workflows", "list", str(app_dir), "--status", "complete")
    assert (code, out) == (2, "")
    assert "'complete' is not a status; choose one of running, waiting, cancelling, completed, failed, " in err


def test_an_unknown_instance_is_named(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "workflows", "show", "nope", str(app_dir))
    assert code != 0 and "No workflow instance 'nope'" in err


def test_with_a_dev_host_running_the_commands_go_through_its_api(
    app_dir: Path, capsys: pytest.CaptureFixture[str], wait_for: Any
) -> None:
    app = load_app(app_dir)
    host = LocalHost(app, port=0, state_dir=dev_state_dir(app), log=lambda line: None)
    host.start()
    try:
        assert f"runs the workflow's steps; its instances: {host.url}/_local/workflows" in host.banner()
        client = Client(host.url)
        started = client.request("POST", "/flows", json_body={"id": "o-3", "qty": 1}).json()["id"]

        def waiting() -> bool:
            code, out, _ = cli(capsys, "workflows", "show", started, str(app_dir), "--json")
            return code == 0 and json.loads(out).get("status") == "waiting"

        wait_for(waiting, timeout=60, what="the instance to wait for its approval")
        code, out, _ = cli(capsys, "workflows", "list", str(app_dir), "--status", "waiting", "--json")
        assert [i["id"] for i in json.loads(out)["instances"]] == [started]
        code, out, _ = cli(capsys, "workflows", "cancel", started, str(app_dir), "--json")
        assert code == 0 and json.loads(out)["status"] == "cancelling"

        def cancelled() -> bool:
            _, out, _ = cli(capsys, "workflows", "show", started, str(app_dir), "--json")
            return json.loads(out)["status"] == "cancelled"

        wait_for(cancelled, timeout=60, what="the host's runner to compensate and cancel it")
        code, _, err = cli(capsys, "workflows", "cancel", started, str(app_dir))
        assert code != 0 and "cancelled already" in err
    finally:
        host.stop()


EMITTING = Path(__file__).resolve().parents[1] / "local" / "apps" / "emitting"


def test_local_invoke_of_a_function_that_emits_leaves_the_events_for_dev(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`portable-fn invoke` runs outside a host: what a function emits waits in the journal for every
    subscriber of the topic (as `dev` delivers it), and what nobody receives from is dropped, saying so."""
    app_dir = Path(shutil.copytree(EMITTING, tmp_path / "emitting", ignore=shutil.ignore_patterns(".portable-fn")))
    order = json.dumps({"method": "POST", "path": "/orders", "body": {"id": "o-1"}})
    (tmp_path / "order.json").write_text(order)
    code, out, _ = cli(capsys, "invoke", "place", str(app_dir), "--event", str(tmp_path / "order.json"))
    assert code == 0 and json.loads(out)["status"] == 201, out
    with Journal(dev_state_dir(load_app(app_dir)) / "journal.sqlite3") as journal:
        for subscriber in ("ship", "bill"):
            [pending] = journal.pending(subscriber)
            assert (pending.event.type, pending.event.subject) == ("shop.order.placed", "o-1")
    (tmp_path / "shout.json").write_text(json.dumps({"method": "POST", "path": "/shout"}))
    code, out, err = cli(capsys, "invoke", "shout", str(app_dir), "--event", str(tmp_path / "shout.json"))
    assert code == 0 and json.loads(out)["status"] == 200
    assert "topic('nobody-listens')" in err and "dropped" in err


def test_the_commands_read_the_state_dir_dev_was_given(
    app_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    instance_id = waiting_instance(app_dir, elsewhere)
    code, out, _ = cli(capsys, "workflows", "list", str(app_dir), "--json")
    assert (code, json.loads(out)["instances"]) == (0, [])  # the app's own state directory holds none
    code, out, _ = cli(capsys, "workflows", "list", str(app_dir), "--state-dir", str(elsewhere), "--json")
    assert code == 0 and [i["id"] for i in json.loads(out)["instances"]] == [instance_id]
    code, out, _ = cli(capsys, "workflows", "show", instance_id, str(app_dir), "--state-dir", str(elsewhere), "--json")
    assert code == 0 and json.loads(out)["waiting"]["for"] == "event"
    code, _, err = cli(capsys, "logs", "approve", str(app_dir), "--state-dir", str(elsewhere))
    assert code == 1 and str(elsewhere) in err  # no dev ran there: it says where it looked
    assert main(["workflows", "list", str(app_dir), "--provider", "aws", "--state-dir", str(elsewhere)]) == 2
    assert "--state-dir names a dev host's state directory" in capsys.readouterr().err

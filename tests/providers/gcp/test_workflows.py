"""The contract workflow (tests/apps/flow) on Google Cloud's own delivery, offline: started by its HTTP request,
continued by Eventarc's pushes of its queue's Pub/Sub messages, its sleeps and its approval's timeout Cloud Tasks
tasks, its approval an HTTP request to `approve`; the state in gcloud's Firestore emulator, the queue in its
Pub/Sub emulator, Cloud Tasks the Discovery-checked fake (see google_cloud.py for what plays which service).

Every function runs under the env deploy gives it (`desired`, from the provider's own deploy side), so what a
deployed function needs to find its store, its queue and its delays is what deploy sets. The instance ends as on
every provider (`workflow_contract`), also when the runner dies in the middle of a step, and `portable-fn
workflows list|show --provider gcp` reads it back from the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy.resources import Function
from portable_fn_gcp.provider import GcpProvider
from portable_fn_gcp.publish import GcpPublisher
from portable_fn_gcp.state import FirestoreBackend
from portable_fn_gcp.state import open_backend as open_firestore

from portable_fn.app import App, load_app
from portable_fn.cli import main
from portable_fn.runtime.channels import use_publisher
from portable_fn.runtime.state import Record, locator_env, new_version, use_backends

from ...workflow_contract import (
    FLOW_DIR,
    REFUSED_AT,
    KillAfterEffect,
    check_cli_shows,
    check_compensated,
    check_completed,
    check_refused_at_price,
    check_retried,
    order,
    retry_with_cli,
)
from .google_cloud import UNBUILT, Crash, GoogleCloud, deploy
from .tasks_api import CloudTasksApi
from .test_publish import tasks_client

STAGE = "dev"
ACCOUNT = "flow-runtime@flow-test.iam.gserviceaccount.com"  # so deploy names the delay account to the senders
CAPTURE = 5  # the capture step's position in the history (its step key is `<id>#5`)


@pytest.fixture(scope="module")
def tasks_server() -> Iterator[CloudTasksApi]:
    with CloudTasksApi() as server:
        yield server


@pytest.fixture
def cloud(
    pubsub_emulator: str,
    firestore_emulator: str,
    tasks_server: CloudTasksApi,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[GoogleCloud]:
    """The flow app deployed (as deploy would) on the emulators and the Cloud Tasks fake, its functions sending
    through the GcpPublisher whose Cloud Tasks client is pointed at the fake, and the ledger's backend killing
    the runner once, after the capture step's effect."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    tasks_server.reset()
    app = load_app(FLOW_DIR)
    settings = {**app.config.provider_settings("gcp", STAGE), "service_account": ACCOUNT}
    provider = GcpProvider({**settings, "endpoints": {"tasks": tasks_server.url}})
    google = GoogleCloud(deploy(app, provider, STAGE, tmp_path), tasks_server)

    kill = KillAfterEffect("capture", Crash)

    def backends(name: str, locator: str | None) -> Any:
        backend = open_firestore(name, locator or "")
        return kill.ledger(backend) if name == "ledger" else backend

    previous_backends = use_backends(backends)
    previous_publisher = use_publisher(GcpPublisher(tasks=tasks_client(tasks_server)))
    try:
        yield google
    finally:
        use_backends(previous_backends)
        use_publisher(previous_publisher)
        google.close()


def store(google: GoogleCloud, name: str) -> FirestoreBackend:
    """The state `name` on the emulator, where deploy told the runner it is."""
    return open_firestore(name, google.deployed.env("order_flow-run")[locator_env(name)])


def instance(google: GoogleCloud, instance_id: str) -> dict[str, Any]:
    record = store(google, "pfn-workflows").read(f"wf#{instance_id}")
    assert record is not None, f"no instance {instance_id} in the emulator"
    return json.loads(record.value)  # type: ignore[no-any-return]


def ledger(google: GoogleCloud, instance_id: str) -> dict[str, str]:
    """The effects of the instance's steps (keys `<id>#<n>`), as stored."""
    return {r.key: r.value for r in store(google, "ledger").scan(f"{instance_id}#")}


def start(google: GoogleCloud, order_id: str, **extra: Any) -> str:
    answer = google.request("order_flow", "POST", "/flows", order(order_id, **extra))
    assert answer.status_code == 202, answer.data
    return str(answer.get_json()["id"])


def finish(google: GoogleCloud, instance_id: str, order_id: str) -> dict[str, Any]:
    """Run the cloud until the instance ends; approve it (`approve`'s webhook) once it waits for that."""
    approved: list[int] = []

    def ended() -> dict[str, Any] | None:
        found = instance(google, instance_id)
        if found["status"] == "waiting" and found["waiting"].get("for") == "event" and not approved:
            answer = google.request("approve", "POST", f"/approvals/{order_id}")
            assert answer.status_code == 200, answer.data
            approved.append(answer.get_json()["woken"])
        return found if found["status"] in ("completed", "failed") else None

    done: dict[str, Any] = google.run_until(ended, timeout=180, what=f"instance {instance_id} to end")
    assert approved in ([], [1])  # the approval woke the one instance waiting for it
    return done


def test_the_contract_workflow_completes_through_eventarc_and_cloud_tasks(cloud: GoogleCloud) -> None:
    instance_id = start(cloud, "o-1")
    done = finish(cloud, instance_id, "o-1")
    check_completed(done, ledger(cloud, instance_id), "o-1")
    assert cloud.crashes == 1  # the runner died after capture's effect, before its checkpoint
    runs = store(cloud, "ledger").read(f"runs#{instance_id}#{CAPTURE}")
    assert runs is not None and json.loads(runs.value) == 2  # capture ran again; its effect is there once
    history = done["history"]
    for before, after in ((4, CAPTURE), (8, 9)):  # each sleep's task was delivered when due, not before
        assert history[before]["kind"] == "sleep" and history[after]["started"] >= history[before]["until"]
    # the two sleeps and the approval's 600 s timeout were Cloud Tasks tasks; the timeout's is still waiting
    made = [method for method, _ in cloud.tasks.requests if method.endswith(".tasks.create")]
    assert len(made) == 3
    assert cloud.tasks.answer_problems == []
    [timeout] = cloud.tasks.tasks
    due = datetime.fromisoformat(timeout["scheduleTime"].replace("Z", "+00:00"))
    assert 500 < (due - datetime.now(timezone.utc)).total_seconds() <= 600


def test_an_order_refused_at_ship_is_compensated_in_reverse(cloud: GoogleCloud) -> None:
    instance_id = start(cloud, "o-2", fail_at="ship")
    done = finish(cloud, instance_id, "o-2")
    check_compensated(done)
    steps = {json.loads(v)["step"] for v in ledger(cloud, instance_id).values()}
    assert {"release", "void"} <= steps and "ship" not in steps


def test_portable_fn_workflows_lists_and_shows_the_instance_from_firestore(
    cloud: GoogleCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = start(cloud, "o-3")
    done = finish(cloud, instance_id, "o-3")
    common = [str(FLOW_DIR), "--provider", "gcp", "--stage", STAGE]
    check_cli_shows(capsys, common, instance_id, done, "o-3")


def test_portable_fn_workflows_cancels_a_waiting_instance_through_its_queue(
    cloud: GoogleCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI marks the instance and publishes to the workflow's topic itself (its own GcpPublisher, opened from
    workflow_env); the runner, pushed that message, compensates and ends it."""
    instance_id = start(cloud, "o-4")

    def waiting() -> bool:
        found = instance(cloud, instance_id)
        return found["status"] == "waiting" and found["waiting"].get("for") == "event"

    cloud.run_until(waiting, timeout=180, what="the instance to wait for its approval")
    common = [str(FLOW_DIR), "--provider", "gcp", "--stage", STAGE]
    assert main(["workflows", "cancel", instance_id, *common, "--reason", "customer cancelled", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelling"

    def cancelled() -> dict[str, Any] | None:
        found = instance(cloud, instance_id)
        return found if found["status"] == "cancelled" else None

    done = cloud.run_until(cancelled, timeout=180, what="the instance to be cancelled")
    assert [e["name"] for e in done["history"] if e["kind"] == "compensation"] == [
        "void (undoing authorize)",
        "release (undoing reserve)",
    ]


def runs(google: GoogleCloud, instance_id: str, position: int) -> int:
    """How many times the instance's step at `position` ran (the ledger's `runs#<id>#<n>` counter)."""
    found = store(google, "ledger").read(f"runs#{instance_id}#{position}")
    return 0 if found is None else int(json.loads(found.value))


def test_portable_fn_workflows_retries_a_failed_instance_from_its_failed_step(
    cloud: GoogleCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    """An order refused at price fails with nothing to compensate; once what refused it is fixed, the CLI
    rewinds the instance to price and publishes to the workflow's topic itself; the runner, pushed that
    message, runs it on from price to the end, and `workflows show` shows it completed."""
    instance_id = start(cloud, "o-5", fail_at=REFUSED_AT)

    def failed() -> dict[str, Any] | None:
        found = instance(cloud, instance_id)
        return found if found["status"] == "failed" else None

    check_refused_at_price(cloud.run_until(failed, timeout=180, what="the instance to fail at price"))
    store(cloud, "ledger").write(Record("fixed#o-5", "true", new_version()))
    common = [str(FLOW_DIR), "--provider", "gcp", "--stage", STAGE]
    retry_with_cli(capsys, common, instance_id)
    done = finish(cloud, instance_id, "o-5")
    check_retried(done, ledger(cloud, instance_id), {n: runs(cloud, instance_id, n) for n in (0, 1)}, "o-5")
    check_cli_shows(capsys, common, instance_id, done, "o-5")


def test_workflow_env_is_what_deploy_sets_on_the_workflow_functions(cloud: GoogleCloud) -> None:
    """The CLI's env: the store's and the queue's locators, the delay queue, as the runner has them; nothing
    that names one function."""
    deployed = cloud.deployed
    env = deployed.provider.workflow_env(deployed.app, STAGE)
    runner = deployed.env("order_flow-run")
    for name in ("PORTABLE_FN_PROVIDER", "PORTABLE_FN_STATE_PFN_WORKFLOWS", "PORTABLE_FN_QUEUE_PFN_WF_ORDER_FLOW"):
        assert env[name] == runner[name]
    assert env["PORTABLE_FN_DELAY_QUEUE"] == runner["PORTABLE_FN_DELAY_QUEUE"]
    assert "PORTABLE_FN_FUNCTION" not in env and "PORTABLE_FN_DEAD_LETTER_TOPIC" not in env


def test_every_function_and_the_cli_carry_the_apps_max_hops() -> None:
    """A hop count set for the app reaches each deployed function (and `portable-fn workflows`); unset, none."""
    app = load_app(FLOW_DIR)
    provider = GcpProvider({**app.config.provider_settings("gcp", STAGE), "service_account": ACCOUNT})
    hopping = App(app.root, app.config.model_copy(update={"max_hops": 5}), app.functions)
    for made, wanted in ((hopping, {"5"}), (app, {None})):
        functions = [r for r in provider.deployer.desired(made, STAGE, UNBUILT) if isinstance(r, Function)]
        assert len(functions) == 3
        assert {dict(f.env).get("PORTABLE_FN_MAX_HOPS") for f in functions} == wanted
        assert {provider.workflow_env(made, STAGE).get("PORTABLE_FN_MAX_HOPS")} == wanted

"""The contract workflow (tests/apps/flow) on Azure's own delivery, offline: the generated function_app.py indexed
by the azure-functions library, each function called as the Functions host calls it (a real `func.HttpRequest`,
a real `func.QueueMessage` made from the message Azurite hands out), the state in Azurite's table service and the
workflow's queue in its queue service, every function under the app settings deploy writes (`desired`, the
storage account's connection string in them, as with `storage_auth = "connection_string"`).

`FunctionsHost` does what the host's queue listener does with the runner's queue, reading its `host.json`: it
receives only what Azurite shows as visible (a sleep's or a timeout's message stays hidden for its visibility
timeout), takes each message for a lease, hands it over decoded from base64, deletes it once the function
returned (writing what the function set on its poison binding to `<queue>-poison`), and after a failure makes it
visible again after host.json's `visibilityTimeout`, moving it to the poison queue at `maxDequeueCount`. A runner
that dies (a `Crash`) settles nothing: the message comes back when its lease ends.

The instance ends as on every provider (`workflow_contract`), also when the runner dies in the middle of a step,
and `portable-fn workflows list|show --provider azure` reads it back from Azurite.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, QueueServiceClient
from portable_fn_azure.codegen import host_json_source, physical_queue, poison_suffix
from portable_fn_azure.deploy.naming import table_name
from portable_fn_azure.provider import AzureProvider
from portable_fn_azure.state import TablesBackend
from portable_fn_azure.state import open_backend as open_table

from portable_fn.app import App, load_app
from portable_fn.cli import main
from portable_fn.runtime.channels import use_publisher
from portable_fn.runtime.state import Record, locator_env, new_version, use_backends
from portable_fn.runtime.workflow import EARLY_S

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
from .host_objects import Captured, HostContext
from .test_shop_workflow import as_host_delivers, deployed_settings, http

STAGE = "dev"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
RUNNER, WORKFLOW_QUEUE = "order_flow-run", "pfn-wf-order-flow"
LEASE_S = 5  # how long a received message stays hidden while its function runs (the host renews its own)
CAPTURE = 5  # the capture step's position in the history (its step key is `<id>#5`)
SITE = "https://flow-dev.azurewebsites.net"


class Crash(BaseException):
    """The function's worker died in the middle of a delivery: nothing settles the message."""


def hhmmss_s(value: str) -> int:
    hours, minutes, seconds = (int(part) for part in value.split(":"))
    return hours * 3600 + minutes * 60 + seconds


class FunctionsHost:
    """The Functions host of the flow app on Azurite: its HTTP functions called with `func.HttpRequest`s, its
    runner's Storage Queue listened to as host.json says (see the module's docstring)."""

    def __init__(self, app: App, functions: dict[str, Any], connection: str) -> None:
        queues = json.loads(host_json_source(app))["extensions"]["queues"]
        self.max_dequeue = int(queues["maxDequeueCount"])
        self.batch = int(queues["batchSize"])
        self.retry_visibility_s = hhmmss_s(queues.get("visibilityTimeout", "00:00:00"))
        self.functions = functions
        service = QueueServiceClient.from_connection_string(connection)
        self.queue: QueueClient = service.get_queue_client(physical_queue(WORKFLOW_QUEUE))
        self.poison: QueueClient = service.get_queue_client(physical_queue(WORKFLOW_QUEUE) + poison_suffix())
        self.crashes = 0  # deliveries nobody settled
        self.failures: list[str] = []  # deliveries the function failed (redelivered after visibilityTimeout)
        self.delayed: list[tuple[float, float]] = []  # (when handed over, when due) of each delayed message

    def call(self, name: str, *args: Any) -> Any:
        return self.functions[name].get_user_function()(*args, HostContext(name))

    def request(self, name: str, method: str, path: str, body: Any = None, **route: str) -> func.HttpResponse:
        return self.call(name, http(method, SITE + path, body, route))  # type: ignore[no-any-return]

    def deliver(self) -> int:
        """One receive from the runner's queue, each message run and settled; how many were received."""
        batch = list(self.queue.receive_messages(messages_per_page=self.batch, visibility_timeout=LEASE_S))
        for message in batch:
            poison, delivered = Captured(), as_host_delivers(message)
            due = json.loads(delivered.get_body())["data"].get("due")
            if due is not None:
                self.delayed.append((time.time(), float(due)))
            try:
                self.call(RUNNER, delivered, poison)
            except Crash:
                self.crashes += 1  # no answer: visible again once the lease runs out
                continue
            except Exception as exc:  # the host's retry: visible again after visibilityTimeout, else poison
                self.failures.append(f"{type(exc).__name__}: {exc}")
                if (message.dequeue_count or 0) >= self.max_dequeue:
                    self.poison.send_message(message.content)
                    self.queue.delete_message(message)
                else:
                    self.queue.update_message(message, visibility_timeout=self.retry_visibility_s)
                continue
            if poison.value is not None:  # the output binding, written once the function returned
                self.poison.send_message(base64.b64encode(str(poison.value).encode()).decode("ascii"))
            self.queue.delete_message(message)
        return len(batch)

    def run_until(self, done: Callable[[], Any], timeout: float = 180.0, what: str = "") -> Any:
        """Listen and deliver until `done()` answers something truthy; that answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.deliver():
                time.sleep(0.1)  # nothing visible now: poll again, as the listener does
            if found := done():
                return found
        raise AssertionError(f"gave up after {timeout} s waiting for {what or done}")


@pytest.fixture
def flow_app() -> Iterator[App]:
    """The flow app loaded afresh, its module put back as it was after the test (other tests load it too)."""
    before = sys.modules.get("flow")
    try:
        yield load_app(FLOW_DIR)
    finally:
        sys.modules.pop("flow", None)
        if before is not None:
            sys.modules["flow"] = before


@pytest.fixture
def host(
    flow_app: App, indexed: Callable[[App], dict[str, Any]], azurite: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FunctionsHost]:
    """The flow app's settings as deploy writes them in the environment, its tables and queues fresh on Azurite,
    the runtime's publisher opened anew from those settings and the ledger's backend killing the runner once,
    after the capture step's effect."""
    settings = deployed_settings(flow_app, azurite, "http://127.0.0.1:9/unused")
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    tables = TableServiceClient.from_connection_string(azurite)
    for state in flow_app.states:
        tables.delete_table(table_name(state.name))
        tables.create_table(table_name(state.name))
    found = FunctionsHost(flow_app, indexed(flow_app), azurite)
    for queue in (found.queue, found.poison):
        try:
            queue.create_queue()
        except Exception:  # left by an earlier test of this session: emptied instead
            queue.clear_messages()

    kill = KillAfterEffect("capture", Crash)

    def backends(name: str, locator: str | None) -> Any:
        backend = open_table(name, locator or "")
        return kill.ledger(backend) if name == "ledger" else backend

    previous_backends, previous_publisher = use_backends(backends), use_publisher(None)
    try:
        yield found
    finally:
        use_backends(previous_backends)
        use_publisher(previous_publisher)
        for queue in (found.queue, found.poison):
            queue.delete_queue()
        for state in flow_app.states:
            tables.delete_table(table_name(state.name))


def store(name: str) -> TablesBackend:
    """The state `name` on Azurite, where deploy's settings (in the environment) locate it."""
    return open_table(name, os.environ[locator_env(name)])


def instance(instance_id: str) -> dict[str, Any]:
    record = store("pfn-workflows").read(f"wf#{instance_id}")
    assert record is not None, f"no instance {instance_id} in Azurite's table"
    return json.loads(record.value)  # type: ignore[no-any-return]


def ledger(instance_id: str) -> dict[str, str]:
    """The effects of the instance's steps (keys `<id>#<n>`), as stored."""
    return {r.key: r.value for r in store("ledger").scan(f"{instance_id}#", 1000)}


def start(host: FunctionsHost, order_id: str, **extra: Any) -> str:
    answer = host.request("order_flow", "POST", "/flows", order(order_id, **extra))
    assert answer.status_code == 202, answer.get_body()
    return str(json.loads(answer.get_body())["id"])


def finish(host: FunctionsHost, instance_id: str, order_id: str) -> dict[str, Any]:
    """Run the host until the instance ends; approve it (`approve`'s webhook) once it waits for that."""
    approved: list[int] = []

    def ended() -> dict[str, Any] | None:
        found = instance(instance_id)
        if found["status"] == "waiting" and found["waiting"].get("for") == "event" and not approved:
            answer = host.request("approve", "POST", f"/approvals/{order_id}", order_id=order_id)
            assert answer.status_code == 200, answer.get_body()
            approved.append(json.loads(answer.get_body())["woken"])
        return found if found["status"] in ("completed", "failed") else None

    done: dict[str, Any] = host.run_until(ended, what=f"instance {instance_id} to end")
    assert approved in ([], [1])  # the approval woke the one instance waiting for it
    return done


def test_the_contract_workflow_completes_through_storage_queues_and_tables(host: FunctionsHost) -> None:
    instance_id = start(host, "o-1")
    done = finish(host, instance_id, "o-1")
    check_completed(done, ledger(instance_id), "o-1")
    assert host.crashes == 1  # the runner died after capture's effect, before its checkpoint
    runs = store("ledger").read(f"runs#{instance_id}#{CAPTURE}")
    assert runs is not None and json.loads(runs.value) == 2  # capture ran again; its effect is there once
    history = done["history"]
    for before, after in ((4, CAPTURE), (8, 9)):  # each sleep's message was delivered when visible, not before
        assert history[before]["kind"] == "sleep" and history[after]["started"] >= history[before]["until"]
    assert host.failures == [] and list(host.poison.peek_messages()) == []
    # the sleeps' messages were hidden until due (else the runner would have sent them again for the rest)
    assert len(host.delayed) >= 2 and all(at >= due - EARLY_S for at, due in host.delayed), host.delayed
    # the approval's 600 s timeout is the one message left, hidden for most of its visibility timeout
    assert host.queue.get_queue_properties().approximate_message_count == 1
    assert list(host.queue.peek_messages()) == []


def test_an_order_refused_at_ship_is_compensated_in_reverse(host: FunctionsHost) -> None:
    instance_id = start(host, "o-2", fail_at="ship")
    done = finish(host, instance_id, "o-2")
    check_compensated(done)
    steps = {json.loads(v)["step"] for v in ledger(instance_id).values()}
    assert {"release", "void"} <= steps and "ship" not in steps
    assert host.failures == [] and list(host.poison.peek_messages()) == []  # the step failed, not the runner


def as_a_user(monkeypatch: pytest.MonkeyPatch, azurite: str) -> list[str]:
    """The CLI's machine: none of the functions' settings, the subscription in AZURE_SUBSCRIPTION_ID and Azurite
    as the app's storage account (AZURE_STORAGE_CONNECTION_STRING, the suite's emulator option); the arguments
    after the command (the flow app's own settings: storage_auth left at identity)."""
    for name in [n for n in os.environ if n.startswith("PORTABLE_FN_") or n == "AzureWebJobsStorage"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    return [str(FLOW_DIR), "--provider", "azure", "--stage", STAGE]


def test_portable_fn_workflows_lists_and_shows_the_instance_from_azurite(
    host: FunctionsHost, azurite: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = start(host, "o-3")
    done = finish(host, instance_id, "o-3")
    common = as_a_user(monkeypatch, azurite)
    check_cli_shows(capsys, common, instance_id, done, "o-3")


def test_portable_fn_workflows_cancels_a_waiting_instance_through_its_storage_queue(
    host: FunctionsHost, azurite: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI marks the instance and puts a message on the workflow's queue itself (its own AzurePublisher,
    opened from workflow_env); the runner, handed that message, compensates and ends it."""
    instance_id = start(host, "o-4")

    def waiting() -> bool:
        found = instance(instance_id)
        return bool(found["status"] == "waiting" and found["waiting"].get("for") == "event")

    host.run_until(waiting, what="the instance to wait for its approval")
    settings = {name: os.environ[name] for name in os.environ if name.startswith("PORTABLE_FN_")}
    common = as_a_user(monkeypatch, azurite)
    assert main(["workflows", "cancel", instance_id, *common, "--reason", "customer cancelled", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelling"
    assert main(["workflows", "show", instance_id, *common, "--json"]) == 0  # the CLI put its environment back
    assert not any(name.startswith("PORTABLE_FN_") for name in os.environ)

    for name, value in settings.items():  # the function app's settings again, for the runner
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AzureWebJobsStorage", azurite)

    def cancelled() -> dict[str, Any] | None:
        found = instance(instance_id)
        return found if found["status"] == "cancelled" else None

    done = host.run_until(cancelled, what="the instance to be cancelled")
    assert [e["name"] for e in done["history"] if e["kind"] == "compensation"] == [
        "void (undoing authorize)",
        "release (undoing reserve)",
    ]


def runs(instance_id: str, position: int) -> int:
    """How many times the instance's step at `position` ran (the ledger's `runs#<id>#<n>` counter)."""
    found = store("ledger").read(f"runs#{instance_id}#{position}")
    return 0 if found is None else int(json.loads(found.value))


def test_portable_fn_workflows_retries_a_failed_instance_from_its_failed_step(
    host: FunctionsHost, azurite: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An order refused at price fails with nothing to compensate; once what refused it is fixed, the CLI
    rewinds the instance to price and puts a message on the workflow's queue itself; the runner, handed that
    message, runs it on from price to the end, and `workflows show` shows it completed."""
    instance_id = start(host, "o-5", fail_at=REFUSED_AT)

    def failed() -> dict[str, Any] | None:
        found = instance(instance_id)
        return found if found["status"] == "failed" else None

    check_refused_at_price(host.run_until(failed, what="the instance to fail at price"))
    store("ledger").write(Record("fixed#o-5", "true", new_version()))
    settings = {name: os.environ[name] for name in os.environ if name.startswith("PORTABLE_FN_")}
    retry_with_cli(capsys, as_a_user(monkeypatch, azurite), instance_id)

    for name, value in settings.items():  # the function app's settings again, for the runner
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    done = finish(host, instance_id, "o-5")
    check_retried(done, ledger(instance_id), {n: runs(instance_id, n) for n in (0, 1)}, "o-5")
    assert host.failures == [] and list(host.poison.peek_messages()) == []  # the step failed, not the runner
    check_cli_shows(capsys, as_a_user(monkeypatch, azurite), instance_id, done, "o-5")


def test_workflow_env_is_what_deploy_sets_on_the_function_app(flow_app: App, azurite: str) -> None:
    """The CLI's env: the app settings' store and queue locators and the storage connection they are reached by
    (the account's connection string: this machine has no managed identity); nothing of the host's own."""
    settings_given = {"subscription_id": SUBSCRIPTION, "storage_connection_string": azurite}
    provider = AzureProvider({**flow_app.config.provider_settings("azure", STAGE), **settings_given})
    env = provider.workflow_env(flow_app, STAGE)
    settings = deployed_settings(flow_app, azurite, "http://127.0.0.1:9/unused")
    for name in ("PORTABLE_FN_PROVIDER", "PORTABLE_FN_STATE_PFN_WORKFLOWS", "PORTABLE_FN_QUEUE_PFN_WF_ORDER_FLOW"):
        assert env[name] == settings[name]
    assert env["AzureWebJobsStorage"] == env["PORTABLE_FN_TABLES_CONNECTION"] == azurite
    assert not any(value.startswith("@portable-fn:") for value in env.values())
    assert "WEBSITE_RUN_FROM_PACKAGE" not in env and "FUNCTIONS_WORKER_RUNTIME" not in env


def test_workflow_env_carries_the_apps_max_hops(flow_app: App, azurite: str) -> None:
    """A hop count set for the app reaches `portable-fn workflows` (sending a continue message counts a hop)."""
    settings = {**flow_app.config.provider_settings("azure", STAGE), "subscription_id": SUBSCRIPTION}
    provider = AzureProvider({**settings, "storage_connection_string": azurite})
    hopping = App(flow_app.root, flow_app.config.model_copy(update={"max_hops": 5}), flow_app.functions)
    assert provider.workflow_env(hopping, STAGE)["PORTABLE_FN_MAX_HOPS"] == "5"
    assert "PORTABLE_FN_MAX_HOPS" not in provider.workflow_env(flow_app, STAGE)
    assert deployed_settings(hopping, azurite, "http://127.0.0.1:9/unused")["PORTABLE_FN_MAX_HOPS"] == "5"
    assert "PORTABLE_FN_MAX_HOPS" not in deployed_settings(flow_app, azurite, "http://127.0.0.1:9/unused")

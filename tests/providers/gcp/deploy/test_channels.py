"""Deploying an app whose functions send: a Pub/Sub topic per topic or queue sent to, its locator on exactly the
functions that declare it, the app's account granted publish on exactly those topics, and for a queue the Cloud
Tasks delay queue with the enqueuer grant on it and the account's user grant on itself. Pub/Sub and the rest
against the recording endpoint; Cloud Tasks and IAM's service account policies against the fake in
tasks_api.py; every request held to its API's Discovery document."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline

from ....app_copy import copy_app

PROJECT, REGION = "shop-project", "europe-west1"
ACCOUNT = "channels-runtime@shop-project.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{ACCOUNT}"
CHANNELS = Path(__file__).with_name("apps") / "channels"
TOPICS = f"projects/{PROJECT}/topics/channels-dev"
QUEUE = f"projects/{PROJECT}/locations/{REGION}/queues/channels-dev-pfn-delays"
ACCOUNT_PATH = f"projects/-/serviceAccounts/{ACCOUNT}"
FUNCTIONS = f"projects/{PROJECT}/locations/{REGION}/functions/channels-dev"
PUBLISHER, ENQUEUER, USER = "roles/pubsub.publisher", "roles/cloudtasks.enqueuer", "roles/iam.serviceAccountUser"


def _tasks_api() -> Any:
    path = Path(__file__).parents[1] / "tasks_api.py"
    spec = importlib.util.spec_from_file_location("portable_fn_tests_tasks_api", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "CloudTasksApi"):
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tasks_server() -> Iterator[Any]:
    with _tasks_api().CloudTasksApi() as server:
        yield server


@pytest.fixture
def tasks(tasks_server: Any) -> Any:
    tasks_server.reset()
    return tasks_server


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(copy_app(CHANNELS, tmp_path / "app"))  # deploys write into the app's directory


def make_provider(helpers: Any, app: App, google_server: Any, tasks: Any, account: str = ACCOUNT) -> Any:
    settings = {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    endpoints = {"tasks": tasks.url, "iam": tasks.url}
    return helpers.RecordingProvider(
        {**settings, "service_account": account, "endpoints": endpoints}, google_server.url
    )


@pytest.fixture
def provider(google: Any, google_server: Any, helpers: Any, app: App, tasks: Any) -> Any:
    return make_provider(helpers, app, google_server, tasks)


def env(google: Any, function_id: str) -> dict[str, str]:
    return dict(google.functions[f"{FUNCTIONS}-{function_id}"]["serviceConfig"]["environmentVariables"])


def sending(variables: dict[str, str]) -> dict[str, str]:
    prefixes = ("PORTABLE_FN_TOPIC_", "PORTABLE_FN_QUEUE_", "PORTABLE_FN_DELAY_")
    return {k: v for k, v in variables.items() if k.startswith(prefixes)}


def publishers(google: Any, topic: str) -> list[str]:
    bindings = google.policies.get(f"{TOPICS}-{topic}", {}).get("bindings", [])
    return sorted(m for b in bindings if b["role"] == PUBLISHER for m in b["members"])


def test_each_channel_is_a_topic_named_to_exactly_its_senders(provider: Any, app: App, google: Any, tasks: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    assert {f"{TOPICS}-order-events", f"{TOPICS}-shipments"} <= set(google.topics)  # no function receives shipments
    assert sending(env(google, "fulfil")) == {
        "PORTABLE_FN_TOPIC_ORDER_EVENTS": f"{TOPICS}-order-events",
        "PORTABLE_FN_QUEUE_SHIPMENTS": f"{TOPICS}-shipments",
        "PORTABLE_FN_DELAY_QUEUE": QUEUE,
        "PORTABLE_FN_DELAY_ACCOUNT": ACCOUNT,
    }
    assert sending(env(google, "audit")) == {"PORTABLE_FN_TOPIC_ORDER_EVENTS": f"{TOPICS}-order-events"}
    assert sending(env(google, "notify")) == {} and sending(env(google, "quiet")) == {}
    assert google.answer_problems == [] and tasks.answer_problems == []


def test_the_account_may_publish_to_exactly_the_topics_sent_to(
    provider: Any, app: App, google: Any, tasks: Any
) -> None:
    pipeline.deploy(provider, app, "dev")
    assert publishers(google, "order-events") == [MEMBER]
    assert publishers(google, "shipments") == [MEMBER]
    assert publishers(google, "orders") == []  # fulfil's trigger topic: received from, not sent to
    assert sorted(t for t, p in google.policies.items() if t.startswith(TOPICS) and MEMBER in str(p)) == [
        f"{TOPICS}-notify-dlq",  # (the dead-letter routes' own grants)
        f"{TOPICS}-order-events",
        f"{TOPICS}-orders-dlq",
        f"{TOPICS}-shipments",
    ]


def test_a_queue_sent_to_brings_the_delay_queue_and_what_a_task_needs(
    provider: Any, app: App, google: Any, tasks: Any
) -> None:
    pipeline.deploy(provider, app, "dev")
    assert list(tasks.queues) == [QUEUE]
    assert tasks.members(QUEUE, ENQUEUER) == [MEMBER]
    assert tasks.members(ACCOUNT_PATH, USER) == [MEMBER]  # a task's token is minted for the account itself
    assert tasks.answer_problems == []


def test_plan_shows_them_and_a_second_deploy_changes_nothing(provider: Any, app: App, tasks: Any) -> None:
    planned = [s.describe() for s in pipeline.plan(provider, app, "dev").plan.steps]
    for step in (
        "+ create pubsub topic channels-dev-shipments",
        "+ create topic publisher grant channels-dev-order-events",
        "+ create topic publisher grant channels-dev-shipments",
        "+ create cloud tasks queue channels-dev-pfn-delays",
        "+ create delay enqueuer grant channels-dev-pfn-delays",
        f"+ create token account user grant {ACCOUNT}",
    ):
        assert step in planned, planned
    pipeline.deploy(provider, app, "dev")
    made = len(tasks.requests)
    again = pipeline.plan(provider, app, "dev")
    assert again.plan.empty, [s.describe() for s in again.plan.steps]
    assert all(method.endswith(("get", "list", "getIamPolicy")) for method, _ in tasks.requests[made:])


def test_without_an_app_account_each_sender_s_own_is_granted_what_it_sends_to(
    google: Any, google_server: Any, helpers: Any, app: App, tasks: Any
) -> None:
    from portable_fn_gcp.provider import GcpProvider

    provider = make_provider(helpers, app, google_server, tasks, account="")
    notes = GcpProvider(provider.settings).plan_notes(app, "dev")
    assert not [note for note in notes if "service_account" in note]  # nothing shared to warn of
    named = " ".join(GcpProvider({**provider.settings, "service_account": ACCOUNT}).plan_notes(app, "dev"))
    assert f"Every function runs as {ACCOUNT} (service_account), so what deploy grants is per app" in named
    pipeline.deploy(provider, app, "dev")
    fulfil, audit = (f"channels-dev-{fn}@{PROJECT}.iam.gserviceaccount.com" for fn in ("fulfil", "audit"))
    assert publishers(google, "order-events") == [f"serviceAccount:{audit}", f"serviceAccount:{fulfil}"]
    assert publishers(google, "shipments") == [f"serviceAccount:{fulfil}"]  # audit sends to the topic only
    assert tasks.members(QUEUE, ENQUEUER) == [f"serviceAccount:{fulfil}"]
    own = f"projects/-/serviceAccounts/{fulfil}"
    assert tasks.members(own, USER) == [f"serviceAccount:{fulfil}"]  # a task's token is minted for itself
    assert env(google, "fulfil")["PORTABLE_FN_DELAY_ACCOUNT"] == fulfil
    assert sorted(tasks.accounts) == sorted(
        f"channels-dev-{s.name}@{PROJECT}.iam.gserviceaccount.com" for s in app.functions
    )
    assert pipeline.plan(provider, app, "dev").plan.empty


def test_remove_takes_the_queue_and_the_grants_back(provider: Any, app: App, google: Any, tasks: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    pipeline.remove(provider, app, "dev")
    assert tasks.queues == {} and tasks.members(ACCOUNT_PATH, USER) == []
    assert not [t for t in google.topics if t.startswith(TOPICS)]


def test_a_queue_removed_lately_is_not_taken_for_made(provider: Any, app: App, tasks: Any) -> None:
    """Cloud Tasks may answer a create in a deleted queue's tombstone window as if it made the queue."""
    from portable_fn.runtime.errors import DeployError

    tasks.deleted.add(QUEUE)
    with pytest.raises(DeployError, match="keeps the name for up to 3 days"):
        pipeline.deploy(provider, app, "dev")


def test_the_account_stays_its_own_user_while_another_stage_still_sends_later(
    google: Any, google_server: Any, helpers: Any, app: App, tasks: Any
) -> None:
    pipeline.deploy(make_provider(helpers, app, google_server, tasks), app, "dev")
    prod = {**google.functions[f"{FUNCTIONS}-fulfil"], "name": f"{FUNCTIONS[: -len('-dev')]}-prod-fulfil"}
    prod["labels"] = {**prod["labels"], "portable-fn-stage": "prod"}
    google.functions[prod["name"]] = prod
    messages: list[str] = []
    pipeline.remove(make_provider(helpers, app, google_server, tasks), app, "dev", messages.append)
    assert tasks.members(ACCOUNT_PATH, USER) == [MEMBER]
    assert any("channels-prod-fulfil still sends later as" in m for m in messages), messages


def test_an_app_that_sends_nothing_never_asks_cloud_tasks_or_iam(
    google: Any, google_server: Any, helpers: Any, tasks: Any, tmp_path: Path
) -> None:
    stateful = load_app(copy_app(Path(__file__).with_name("apps") / "stateful", tmp_path / "stateful"))
    provider = make_provider(helpers, stateful, google_server, tasks)
    pipeline.deploy(provider, stateful, "dev")
    pipeline.remove(provider, stateful, "dev")
    assert tasks.requests == []


def test_the_zip_ships_the_publisher_and_its_clients_only_when_the_app_sends(zips: Any, app: App) -> None:
    from portable_fn_gcp.packaging import PUBSUB, TASKS

    assert "portable_fn_gcp/publish.py" in zips.shipped(app, "sends")
    assert PUBSUB in zips.asked[-1] and TASKS in zips.asked[-1]
    quiet = load_app(Path(__file__).with_name("apps") / "no_storage")
    assert "portable_fn_gcp/publish.py" not in zips.shipped(quiet, "quiet")
    assert PUBSUB not in zips.asked[-1] and TASKS not in zips.asked[-1]

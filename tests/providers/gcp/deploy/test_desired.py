"""The pure parts of the GCP deploy side: names, labels, schedules, checks, the reader's parsing, and
the recording endpoint refusing what Google would refuse."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from portable_fn_gcp.deploy import GcpClient, GcpDeployer, Names
from portable_fn_gcp.deploy.naming import label_value
from portable_fn_gcp.deploy.remote import memory_mb
from portable_fn_gcp.deploy.schedules import rate_cron

from portable_fn.runtime.errors import ConfigError, UnsupportedTriggerError
from portable_fn.runtime.triggers import Queue, Schedule


@pytest.mark.parametrize(
    ("every_s", "cron"),
    [
        (60, "* * * * *"),
        (300, "*/5 * * * *"),
        (1800, "*/30 * * * *"),
        (3600, "0 * * * *"),
        (6 * 3600, "0 */6 * * *"),
        (86400, "0 0 * * *"),
        (420, None),
        (90, None),
        (5 * 3600, None),
        (2 * 86400, None),
    ],
)
def test_rates_become_the_cron_that_fires_at_exactly_that_rate(every_s: int, cron: str | None) -> None:
    assert rate_cron(every_s) == cron


def test_names_fit_cloud_functions_ids_and_labels() -> None:
    names = Names("shop", "dev", "p", "europe-west1")
    assert names.function_id("create_order") == "shop-dev-create-order"
    long_id = names.function_id("x" * 80)
    assert len(long_id) == 63 and long_id == names.function_id("x" * 80)
    assert label_value("Feature/Branch.1") == "feature_branch_1"
    assert names.topic_path("shop-dev-orders") == "projects/p/topics/shop-dev-orders"


def test_memory_is_read_in_every_unit_google_answers_with() -> None:
    assert [memory_mb(t) for t in ("256Mi", "1Gi", "256M", "512M", "")] == [256, 1024, 244, 488, 0]


class FakeApp:
    name = "shop"

    def __init__(self, *triggers: Any, timeout_s: float | None = None) -> None:
        self.functions = [type("Spec", (), {"name": f"f{i}", "trigger": t})() for i, t in enumerate(triggers)]
        self._timeout = timeout_s

    def options(self, spec: Any) -> Any:
        return type("Options", (), {"timeout_s": self._timeout})()


def test_check_rejects_what_google_cannot_do() -> None:
    deployer = GcpDeployer({})
    with pytest.raises(UnsupportedTriggerError, match=r"rate\(7 minutes\).*divides 60"):
        deployer.check(FakeApp(Schedule("rate(7 minutes)")))
    with pytest.raises(UnsupportedTriggerError, match="fifo=True"):
        deployer.check(FakeApp(Queue("orders", fifo=True)))
    with pytest.raises(UnsupportedTriggerError, match="540"):
        deployer.check(FakeApp(Queue("orders"), timeout_s=900))
    deployer.check(FakeApp(Schedule("rate(2 hours)"), Queue("orders"), timeout_s=540))


def test_a_project_is_required_and_found_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("CLOUDSDK_CORE_PROJECT", raising=False)
    with pytest.raises(ConfigError, match=r"project.*\[tool.portable-fn.gcp\].*GOOGLE_CLOUD_PROJECT"):
        GcpDeployer({"region": "europe-west1"}).names(FakeApp(), "dev")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    assert GcpDeployer({"region": "europe-west1"}).names(FakeApp(), "dev").project == "from-env"


def test_endpoints_can_be_set_per_service_and_the_pubsub_emulator_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    given = {"scheduler": "http://127.0.0.1:2", "pubsub": "http://127.0.0.1:3", "firestore": "http://127.0.0.1:4"}
    client = GcpClient("http://127.0.0.1:1", given)
    assert client.endpoints == {
        "functions": "http://127.0.0.1:1",
        "pubsub": "http://127.0.0.1:3",
        "subscriber": "http://127.0.0.1:3",  # the same API as pubsub
        "scheduler": "http://127.0.0.1:2",
        "run": "http://127.0.0.1:1",
        "storage": "http://127.0.0.1:1",
        "resourcemanager": "http://127.0.0.1:1",
        "eventarc": "http://127.0.0.1:1",
        "firestore": "http://127.0.0.1:4",
        "documents": "http://127.0.0.1:4",  # the same API as firestore (its data plane)
        "tasks": "http://127.0.0.1:1",
        "iam": "http://127.0.0.1:1",
        "secretmanager": "http://127.0.0.1:1",
    }
    assert type(client.service("documents").transport).__name__ == "FirestoreRestTransport"
    assert type(client.service("scheduler").transport).__name__ == "CloudSchedulerRestTransport"
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
    assert type(client.service("pubsub").transport).__name__ == "PublisherGrpcTransport"


def send(url: str, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_recording_endpoint_refuses_what_google_would(google: Any, google_server: Any) -> None:
    base = f"{google_server.url}/v2/projects/p/locations/europe-west1/functions"
    status, answer = send(f"{base}?functionId=f", "POST", {"build_config": {"runtime": "python311"}})
    assert status == 400 and 'Unknown name "build_config"' in answer["error"]["message"]
    status, answer = send(f"{base}?functionId=f", "POST", {"environment": "GEN_3"})
    assert status == 400 and "GEN_3" in answer["error"]["message"]
    status, answer = send(f"{google_server.url}/v1/projects/p/topics/shop-dev-t", "PUT", {"labels": {}})
    assert status == 200
    status, answer = send(f"{google_server.url}/v1/projects/p/topics/shop-dev-t", "PATCH", {"topic": {}})
    assert status == 400 and "updateMask" in answer["error"]["message"]
    status, answer = send(f"{base}/f?updateMask=serviceConfig.memory", "PATCH", {})
    assert status == 400 and "serviceConfig.memory" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("app", "fn", "expected"),
    [
        ("shop", "create_order", "shop-dev-create-order"),
        ("shop", "a" * 40, "shop-dev-aaaaaaaaaaaa-6d6db4ec"),  # cut, ending in a hash of the whole
        ("a", "b", "a-dev-b"),
        ("9lives", "f", "f9lives-dev-f"),  # an account id starts with a letter
        ("x", "y", "x-dev-y"),
    ],
)
def test_each_function_s_own_account_id_is_one_iam_takes_and_always_the_same(app: str, fn: str, expected: str) -> None:
    """IAM's rule for an account id (projects.serviceAccounts.create, accountId): 6 to 30 characters, lowercase
    letters, digits and hyphens, starting with a letter and not ending with a hyphen."""
    import re

    found = Names(app, "dev", "p", "europe-west1").function_account(fn)
    assert found == expected and re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", found)
    assert Names(app, "dev", "p", "europe-west1").account_email(found) == f"{expected}@p.iam.gserviceaccount.com"

"""samples/telemetry deployed to a real moto server through the shared pipeline: `plan` shows a DynamoDB
table for each state the sample uses (its own and portable-fn's idempotency and breaker stores), deploy
makes them, and each function's role may use exactly the tables its `uses=` declares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline

from ....app_copy import copy_app

TELEMETRY = Path(__file__).resolve().parents[4] / "samples" / "telemetry"
ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.fixture
def telemetry(tmp_path: Path) -> App:
    return load_app(copy_app(TELEMETRY, tmp_path))


@pytest.fixture
def provider(endpoint: str, helpers: Any, telemetry: App) -> Any:
    return helpers.MotoProvider({**telemetry.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def table_arn(state: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/telemetry-dev-{state}"


def state_grants(iam: Any, function: str) -> dict[str, list[str]]:
    """The tables a function's role may read ("ReadState") and write ("WriteState")."""
    document = iam.get_role_policy(RoleName=f"telemetry-dev-{function}", PolicyName="portable-fn")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    return {s["Sid"]: s["Resource"] for s in document["Statement"] if s["Sid"].endswith("State")}


def test_plan_shows_a_table_per_state_and_deploy_makes_them(provider: Any, telemetry: App, endpoint: str) -> None:
    states = sorted(s.name for s in telemetry.states)
    planned = pipeline.plan(provider, telemetry, "dev").plan
    assert planned is not None
    assert sorted(s.resource.name for s in planned.steps if s.resource.kind == "dynamodb table") == [
        f"telemetry-dev-{s}" for s in states
    ]
    pipeline.deploy(provider, telemetry, "dev")
    assert sorted(client(endpoint, "dynamodb").list_tables()["TableNames"]) == [f"telemetry-dev-{s}" for s in states]
    again = pipeline.plan(provider, telemetry, "dev").plan
    assert again is not None and again.empty, [s.describe() for s in again.steps]


def test_each_role_may_use_exactly_the_tables_its_function_declares(
    provider: Any, telemetry: App, endpoint: str
) -> None:
    pipeline.deploy(provider, telemetry, "dev")
    iam = client(endpoint, "iam")
    assert state_grants(iam, "ingest") == {
        "WriteState": sorted(table_arn(s) for s in ("alerts", "devices", "pfn-idempotency", "readings-seen"))
    }
    assert state_grants(iam, "maintenance") == {
        "WriteState": sorted(table_arn(s) for s in ("alerts", "pfn-breakers", "pfn-idempotency"))
    }
    assert state_grants(iam, "device") == {"ReadState": [table_arn("devices")]}
    lambdas = client(endpoint, "lambda")
    env = lambdas.get_function_configuration(FunctionName="telemetry-dev-device")["Environment"]["Variables"]
    assert {k: v for k, v in env.items() if k.startswith("PORTABLE_FN_STATE_")} == {
        "PORTABLE_FN_STATE_DEVICES": "telemetry-dev-devices"
    }

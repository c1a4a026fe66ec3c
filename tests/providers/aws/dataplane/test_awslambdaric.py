"""samples/shop as Lambda runs it: the built zip, unpacked, served by the real `awslambdaric` client.

Each test starts the runtime client for one function against the Runtime API endpoint of the conftest,
feeds it native events (tests/data/aws/dataplane/, adapted from Powertools' payloads) and checks what the
client posts back: the response, or the invocation or init error.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="the shop zip holds manylinux x86_64 wheels: only a Linux x86_64 machine can run it",
)


def records(data_dir: Path, kind: str) -> list[dict[str, Any]]:
    path = data_dir / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_post_orders_over_http_api_v2_answers_201_then_400_for_a_bad_order(
    lambda_function: Any, event: Any, shop_data: Path, shop_on_moto: Any, endpoint: str
) -> None:
    """The order starts its workflow through the zip's own state backend and publisher, on boto3 as Lambda
    provides it: the instance is in the workflow store and its first message on the workflow's queue."""
    runtime = lambda_function("create_order", shop_on_moto("create_order"))
    created = runtime.invoke(event("httpCreateOrder.json"))
    assert created.kind == "response"
    assert created.body == {
        "statusCode": 201,
        "headers": {"content-type": "application/json"},
        "body": '{"id":"o-1","lines":2}',
        "isBase64Encoded": False,
    }
    refused = runtime.invoke(event("httpCreateOrderInvalid.json"))  # the same warm environment
    assert refused.kind == "response" and refused.body["statusCode"] == 400
    assert "lines" in json.loads(refused.body["body"])["error"]
    assert [r["id"] for r in records(shop_data, "orders")] == ["o-1"]
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=endpoint)
    assert dynamodb.get_item(TableName="shop-dev-pfn-workflows", Key={"pk": {"S": "wf#o-1"}}).get("Item")
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=endpoint)
    url = sqs.get_queue_url(QueueName="shop-dev-pfn-wf-place-order")["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert json.loads(message["Body"])["specversion"] == "1.0"  # a CloudEvent, as every message body


def test_get_order_reads_its_path_parameter(lambda_function: Any, event: Any, shop_data: Path) -> None:
    shop_data.mkdir(parents=True)
    (shop_data / "orders.jsonl").write_text(json.dumps({"id": "o-1", "customer": "ada", "lines": []}) + "\n")
    found = lambda_function("get_order").invoke(event("httpGetOrder.json"))
    assert found.body["statusCode"] == 200
    assert json.loads(found.body["body"]) == {"id": "o-1", "customer": "ada", "lines": []}


def test_an_sqs_batch_reports_exactly_the_invalid_record(lambda_function: Any, event: Any, shop_data: Path) -> None:
    batch = event("sqsOrders.json")
    answer = lambda_function("fulfil").invoke(batch)
    assert answer.kind == "response"
    assert answer.body == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    fulfilled = records(shop_data, "fulfilled")
    assert [(r["id"], r["event_id"], r["attempt"]) for r in fulfilled] == [
        ("o-3", batch["Records"][1]["messageId"], 1),
        ("o-4", batch["Records"][2]["messageId"], 1),
    ]


def test_an_s3_upload_reaches_the_storage_function(lambda_function: Any, event: Any, shop_data: Path) -> None:
    answer = lambda_function("on_upload").invoke(event("s3Upload.json"))
    assert (answer.kind, answer.body) == ("response", None)
    assert records(shop_data, "uploads") == [{"bucket": "uploads", "key": "in/x", "size": 1305107}]


def test_sns_and_scheduler_events_are_acknowledged(lambda_function: Any, event: Any, shop_data: Path) -> None:
    notified = lambda_function("notify").invoke(event("snsOrderEvent.json"))
    swept = lambda_function("sweep").invoke(event("schedulerSweep.json"))
    assert (notified.kind, notified.body, swept.kind, swept.body) == ("response", None, "response", None)
    assert [(r["type"], r["id"]) for r in records(shop_data, "notifications")] == [
        ("com.amazonaws.sns.Notification", "95df01b4-ee98-5cb9-9903-4c221d41eb5e")
    ]
    assert records(shop_data, "sweeps") == [{"at": "2024-05-01T03:00:00Z"}]


def test_an_event_of_the_wrong_kind_goes_to_the_invocation_error_route(
    lambda_function: Any, event: Any, shop_task: Path
) -> None:
    answer = lambda_function("create_order").invoke(event("sqsOrders.json"))
    assert answer.kind == "error"
    assert answer.body["errorType"] == "InvalidEventError"
    assert "'create_order'" in answer.body["errorMessage"] and "SQS" in answer.body["errorMessage"]
    cause = json.loads(answer.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "InvalidEventError"
    assert cause["paths"] == [str(shop_task / "portable_fn_aws" / "shim.py")]  # the shim of the zip


def test_a_handler_the_zip_does_not_have_is_an_init_error(lambda_function: Any) -> None:
    runtime = lambda_function("no_such_function")
    assert runtime.wait() != 0
    assert [e.body["errorType"] for e in runtime.api.init_errors] == ["Runtime.HandlerNotFound"]


def test_the_dependencies_come_from_the_zip_not_from_this_machine(
    lambda_function: Any, event: Any, shop_task: Path, shop_on_moto: Any
) -> None:
    runtime = lambda_function("create_order", shop_on_moto("create_order"))
    assert runtime.invoke(event("httpCreateOrder.json")).body["statusCode"] == 201
    native = {f for f in runtime.mapped_files() if "_pydantic_core" in f}
    abi = f"cpython-{sys.version_info.major}{sys.version_info.minor}-x86_64-linux-gnu"
    assert native == {str(shop_task / "pydantic_core" / f"_pydantic_core.{abi}.so")}
    probe = (
        "import pydantic, pydantic_core, portable_fn; "
        "print(pydantic_core.__file__, pydantic.__file__, portable_fn.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-s", "-S", "-c", probe],
        cwd=shop_task,
        env=runtime.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert all(Path(f).is_relative_to(shop_task) for f in done.stdout.split())


def test_the_tenant_lambda_names_is_the_calls_tenant(lambda_function: Any, event: Any, shop_data: Path) -> None:
    """Tenant isolation mode: the Runtime API names the tenant in `Lambda-Runtime-Aws-Tenant-Id`, awslambdaric
    puts it on the context as `tenant_id`, and the shim makes it the call's tenant, which the runtime's usage
    line reports; an invocation without one has no tenant (and no usage line)."""
    shop_data.mkdir(parents=True)
    (shop_data / "orders.jsonl").write_text(json.dumps({"id": "o-1", "customer": "ada", "lines": []}) + "\n")
    runtime = lambda_function("get_order")
    found = runtime.invoke(event("httpGetOrder.json"), headers={"Lambda-Runtime-Aws-Tenant-Id": "acme"})
    assert found.body["statusCode"] == 200
    runtime.invoke(event("httpGetOrder.json"))
    lines = [json.loads(line) for line in runtime.output().splitlines() if line.startswith("{")]
    usage = [line for line in lines if "usage" in str(line.get("message", ""))]
    assert [line["message"]["usage"]["tenant"] for line in usage] == ["acme"]

"""AWS's delivery, offline, for an app whose functions run from their packaged zip under the real
`awslambdaric` client (tests/providers/aws/dataplane: `RuntimeApi`): what the test_workflows tests run the
contract workflow on.

`deploy(app, provider, stage, out)` packages the app as `portable-fn deploy` does (`provider.package`), asks
the provider's own deploy side what it would make (`desired`) and makes on the moto server what the data
plane needs of it: each DynamoDB table, each S3 bucket, each SQS queue with its visibility timeout and
redrive policy, each schedule group. Every function then runs with the env deploy gives it (`Function.env`),
the moto server as its AWS account (`AWS_ENDPOINT_URL`, the dummy credentials).

`LambdaCloud` plays the services that call the functions:
- a Function URL: `request()` sends the native HTTP event (payload format 2.0) and reads the response;
- the SQS event source mapping: `deliver()` receives what is due on each mapped queue (moto keeps a message
  sent with DelaySeconds, or one whose visibility timeout runs, invisible until then), hands the batch to the
  function as Lambda builds the event (`Records` with messageId, receiptHandle, body, attributes,
  eventSourceARN), and settles it as the mapping does with ReportBatchItemFailures: the messages not named in
  `batchItemFailures` are deleted; on a function error (or a runtime that died) none is, so each comes back
  once its visibility timeout has run.
moto's own event source mappings (which invoke functions through docker) are not made: this class is the
mapping. A runtime that dies is started again for the next delivery, as Lambda starts a new execution
environment.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from portable_fn_aws.deploy.resources import Bucket, EventSourceMapping, Function, Queue, ScheduleGroup, Table

from portable_fn.app import App
from portable_fn.provider import Provider

from .dataplane.conftest import Answer, RuntimeApi

T = TypeVar("T")
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# what a record of an SQS mapping's event carries of a message's attributes
ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class Deployed:
    """An app as deploy would make it: its resources (`desired`) and the unpacked zip (Lambda's /var/task)."""

    app: App
    provider: Provider
    stage: str
    resources: list[Any]
    task: Path

    def function(self, name: str) -> Function:
        wanted = f"{self.app.name}-{self.stage}-{name}"
        return next(r for r in self.resources if isinstance(r, Function) and r.name == wanted)

    def env(self, name: str) -> dict[str, str]:
        """What deploy sets on function `name`."""
        return dict(self.function(name).env)

    def of(self, kind: type[T]) -> list[T]:
        return [r for r in self.resources if isinstance(r, kind)]


def deploy(app: App, provider: Provider, stage: str, out: Path, endpoint: str) -> Deployed:
    """Package `app` and make on the moto server at `endpoint` the tables, queues and schedule groups its
    deploy would; `provider` is pointed at the same server (its account: moto's)."""
    artifact = provider.package(app, stage, out / "build", lambda message: None)
    resources = provider.deployer.desired(app, stage, artifact)
    region = provider.deployer.region()  # type: ignore[attr-defined]
    sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint)
    dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)
    scheduler = boto3.client("scheduler", region_name=region, endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint)
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    for bucket in (r for r in resources if isinstance(r, Bucket)):
        s3.create_bucket(Bucket=bucket.name, **where)
    for table in (r for r in resources if isinstance(r, Table)):
        dynamodb.create_table(
            TableName=table.name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    made = sorted((r for r in resources if isinstance(r, Queue)), key=lambda q: not q.name.endswith("-dlq"))
    for queue_made in made:  # dead-letter queues first: a redrive policy names one
        attributes = {
            "VisibilityTimeout": str(queue_made.visibility_timeout_s),
            "MessageRetentionPeriod": str(queue_made.retention_s),
        }
        if queue_made.dead_letter_arn:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": queue_made.dead_letter_arn, "maxReceiveCount": queue_made.max_receive_count}
            )
        if queue_made.fifo:
            attributes["FifoQueue"] = "true"
        sqs.create_queue(QueueName=queue_made.name, Attributes=attributes)
    for group in (r for r in resources if isinstance(r, ScheduleGroup)):
        scheduler.create_schedule_group(Name=group.name)
    task = out / "task"
    shutil.unpack_archive(artifact.path, task)
    return Deployed(app, provider, stage, resources, task)


@dataclass
class Runtime:
    """One execution environment: `python -s -S -m awslambdaric <handler>` in the unpacked zip, with
    awslambdaric and boto3 (what Lambda's Python runtime provides) on its path and nothing else of this
    machine's site-packages."""

    function: str
    handler: str
    env: dict[str, str]
    path: list[Path]
    task: Path
    log: Path
    api: RuntimeApi = field(default_factory=RuntimeApi)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "PYTHONPATH": os.pathsep.join(str(p) for p in [self.task, *self.path]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "_HANDLER": self.handler,
            "LAMBDA_TASK_ROOT": str(self.task),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{PYTHON}",
            **self.env,
        }
        with self.log.open("a") as log:
            command = [sys.executable, "-s", "-S", "-m", "awslambdaric", self.handler]
            self.process = subprocess.Popen(command, cwd=self.task, env=env, stdout=log, stderr=subprocess.STDOUT)

    def invoke(self, event: Any, timeout: float = 60) -> Answer | None:
        """The runtime's answer to `event`, or None when the runtime died before it answered."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        assert self.process is not None
        answer = self.api.enqueue(self.function, event)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return answer.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None:
                    return None
        pytest.fail(f"no answer from {self.function} within {timeout}s:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.api.close()


class LambdaCloud:
    """The deployed app's functions under awslambdaric, called as their Function URLs and SQS event source
    mappings call them (see the module docstring). `handlers` replaces a function's handler (a module on
    `extra_path` that wraps its real entry point); `extra_env` is added to every function's env."""

    def __init__(
        self,
        deployed: Deployed,
        endpoint: str,
        runtime_path: list[Path],
        logs: Path,
        handlers: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.deployed = deployed
        self.region = deployed.provider.deployer.region()  # type: ignore[attr-defined]
        self.sqs = boto3.client("sqs", region_name=self.region, endpoint_url=endpoint)
        self.scheduler = boto3.client("scheduler", region_name=self.region, endpoint_url=endpoint)
        self.crashes = 0  # invocations whose runtime died before answering
        self.deliveries: list[tuple[str, int]] = []  # (function, batch size) of each ESM invocation
        self.received: list[tuple[float, Any]] = []  # (when, body as JSON) of each message handed over
        moto = {"AWS_ENDPOINT_URL": endpoint, **{k: os.environ[k] for k in CREDENTIALS}}
        self.runtimes: dict[str, Runtime] = {}
        logs.mkdir(parents=True, exist_ok=True)
        for spec in deployed.app.functions:
            made = deployed.function(spec.name)
            env = {
                **dict(made.env),
                **moto,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": made.name,
                **(extra_env or {}),
            }
            handler = (handlers or {}).get(spec.name, made.handler)
            self.runtimes[spec.name] = Runtime(
                spec.name, handler, env, runtime_path, deployed.task, logs / f"{spec.name}.log"
            )

    def close(self) -> None:
        for runtime in self.runtimes.values():
            runtime.stop()

    # -- a Function URL ---------------------------------------------------------------------------
    def request(self, function: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call `function` through its Function URL: the status and the JSON body it answered."""
        answer = self.runtimes[function].invoke(http_event(method, path, body))
        assert answer is not None and answer.kind == "response", self.output(function)
        response = answer.body
        text = response.get("body") or "null"
        return int(response["statusCode"]), json.loads(text)

    # -- the SQS event source mappings --------------------------------------------------------------
    def mappings(self) -> Iterator[tuple[str, EventSourceMapping]]:
        """(function, mapping) for every event source mapping deploy would make."""
        for spec in self.deployed.app.functions:
            name = self.deployed.function(spec.name).name
            for mapping in self.deployed.of(EventSourceMapping):
                if mapping.function == name:
                    yield spec.name, mapping

    def deliver(self) -> int:
        """One poll of every mapped queue: the due messages handed to their function, settled; how many."""
        delivered = 0
        for function, mapping in self.mappings():
            url = self.sqs.get_queue_url(QueueName=mapping.queue_arn.rsplit(":", 1)[1])["QueueUrl"]
            got = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(mapping.batch_size, 10),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not got:
                continue
            delivered += len(got)
            self.received += [(time.time(), json.loads(m["Body"])) for m in got]
            self.deliveries.append((function, len(got)))
            answer = self.runtimes[function].invoke(sqs_event(got, mapping.queue_arn, self.region))
            if answer is None:
                self.crashes += 1  # Lambda reports the invocation failed: every message stays
                continue
            if answer.kind != "response":
                continue  # a function error: the batch stays, each message back after its visibility timeout
            failed = {f["itemIdentifier"] for f in (answer.body or {}).get("batchItemFailures") or ()}
            done = [m for m in got if m["MessageId"] not in failed]
            for message in done:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return delivered

    def run_until(self, condition: Callable[[], T | None], timeout: float, what: str) -> T:
        """Deliver what is due until `condition()` gives something (polling; nothing is assumed about speed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            if not self.deliver():
                time.sleep(0.2)
        logs = "\n".join(f"--- {name}\n{self.output(name)}" for name in self.runtimes)
        pytest.fail(f"timed out after {timeout}s waiting for {what}\n{logs}")

    def output(self, function: str) -> str:
        log = self.runtimes[function].log
        return log.read_text(errors="replace") if log.exists() else ""


def http_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A Function URL's event (payload format 2.0) for a JSON request."""
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "flow.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "flow",
            "domainName": "flow.lambda-url.us-east-1.on.aws",
            "domainPrefix": "flow",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": json.dumps(body) if body is not None else "",
        "isBase64Encoded": False,
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping invokes a function with, for messages received with all
    their attributes."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {name: m["Attributes"][name] for name in ATTRIBUTES if name in m.get("Attributes", {})},
                "messageAttributes": {
                    name: {"stringValue": a.get("StringValue"), "dataType": a["DataType"]}
                    for name, a in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }

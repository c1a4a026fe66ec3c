"""The AWS data plane, offline: the packaged zip, unpacked, run by the real `awslambdaric` client.

`RuntimeApi` is a Lambda Runtime API endpoint on 127.0.0.1 (the four routes a Python runtime uses:
next invocation, response, invocation error, init error). `LambdaProcess` is one function's execution
environment: `python -s -S -m awslambdaric portable_fn_entry.<function>` with the unpacked zip as its
task root and nothing from this machine's site-packages on its path except awslambdaric itself, which
is copied (with its own dependencies) into a directory of its own; boto3, which Lambda's Python runtime
provides, likewise, for a function that uses a state or sends an event (`shop_on_moto`: its AWS account is
the moto server, with the table and queue deploy would make).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from portable_fn_aws.packaging import build_package

from portable_fn.app import load_app

REPO = Path(__file__).resolve().parents[4]
EVENTS = REPO / "tests" / "data" / "aws" / "dataplane"
API = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:shop-dev-{}"
# Lambda runs the app's Python: the shop is packaged for the running one, so its compiled wheels load here
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
SKIPPED = shutil.ignore_patterns(".portable-fn", "__pycache__")


@dataclass
class Answer:
    """What the runtime posted for one invocation: `kind` is "response" or "error"."""

    kind: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


class RuntimeApi:
    """A Lambda Runtime API endpoint: queues invocations, records what the runtime client answers."""

    def __init__(self) -> None:
        self.pending: queue.Queue[tuple[str, str, bytes, dict[str, str]]] = queue.Queue()
        self.answers: dict[str, queue.Queue[Answer]] = {}
        self.init_errors: list[Answer] = []
        self.closed = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def enqueue(self, function: str, event: Any, headers: dict[str, str] | None = None) -> queue.Queue[Answer]:
        """Queue one invocation; `headers` go with it beside the usual ones (Lambda-Runtime-Aws-Tenant-Id, say)."""
        request_id = str(uuid.uuid4())
        self.answers[request_id] = answer = queue.Queue(maxsize=1)
        self.pending.put((request_id, function, json.dumps(event).encode(), headers or {}))
        return answer

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


def _handler_for(api: RuntimeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path != f"{API}/invocation/next":
                return self._send(404, {"errorMessage": f"no route {self.path}"})
            while not api.closed.is_set():
                try:
                    request_id, function, body, extra = api.pending.get(timeout=0.1)
                except queue.Empty:
                    continue
                deadline_ms = int((time.time() + 30) * 1000)
                return self._send(
                    200,
                    body,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN.format(function),
                        "Lambda-Runtime-Trace-Id": "Root=1-5e1b4151-5ac6c58f5b5daa6532e4f2d6;Parent=1;Sampled=0",
                        **extra,
                    },
                )
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = Answer("", json.loads(body) if body else None, {k.lower(): v for k, v in self.headers.items()})
            if self.path == f"{API}/init/error":
                api.init_errors.append(Answer("init error", answer.body, answer.headers))
                return self._send(202, {"status": "OK"})
            found = re.fullmatch(rf"{API}/invocation/([^/]+)/(response|error)", self.path)
            if found is None or found.group(1) not in api.answers:
                return self._send(404, {"errorMessage": f"unknown invocation or route {self.path}"})
            answer.kind = found.group(2)
            api.answers[found.group(1)].put(answer)
            return self._send(202, {"status": "OK"})

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class LambdaProcess:
    """One function's execution environment: awslambdaric serving `portable_fn_entry.<function>`."""

    def __init__(
        self,
        api: RuntimeApi,
        task: Path,
        ric: Path,
        function: str,
        data_dir: Path,
        aws: LambdaAws | None = None,
    ) -> None:
        self.api, self.task, self.function = api, task, function
        runtime_path = [str(task), str(ric), *([str(aws.sdk)] if aws else [])]
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "PYTHONPATH": os.pathsep.join(runtime_path),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "_HANDLER": f"portable_fn_entry.{function}",
            "LAMBDA_TASK_ROOT": str(task),
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_LAMBDA_FUNCTION_NAME": f"shop-dev-{function}",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{PYTHON}",
            "SHOP_DATA_DIR": str(data_dir),
            **(aws.env if aws else {}),
        }
        self.command = [sys.executable, "-s", "-S", "-m", "awslambdaric", self.env["_HANDLER"]]
        self.log = data_dir.parent / f"{function}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(self.command, cwd=task, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def invoke(self, event: Any, timeout: float = 60, headers: dict[str, str] | None = None) -> Answer:
        """Send one event through the Runtime API (with `headers` beside the usual ones) and wait for the
        runtime's answer."""
        answer = self.api.enqueue(self.function, event, headers)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return answer.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None:
                    pytest.fail(f"awslambdaric exited with {self.process.returncode}:\n{self.output()}")
        pytest.fail(f"no answer from awslambdaric within {timeout}s")

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout)

    def mapped_files(self) -> set[str]:
        """The files the running runtime has mapped (shared libraries: what it really imported)."""
        maps = Path(f"/proc/{self.process.pid}/maps").read_text()
        return {line.split(maxsplit=5)[5] for line in maps.splitlines() if len(line.split(maxsplit=5)) == 6}

    def output(self) -> str:
        self.stop()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(scope="session")
def ric_dir(runtime_path: list[Path]) -> Path:
    """awslambdaric and its dependencies alone in a directory (this machine's build of the client)."""
    return runtime_path[0]


@pytest.fixture(scope="session")
def shop_task(tmp_path_factory: pytest.TempPathFactory, real_wheel_cache: Path) -> Path:
    """samples/shop packaged for Lambda (x86_64, the running CPython) and unzipped: Lambda's /var/task."""
    shop = shutil.copytree(
        REPO / "samples" / "shop",
        tmp_path_factory.mktemp("shop") / "shop",
        ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"),
    )
    pyproject = shop / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('python = "3.11"\n', f'python = "{PYTHON}"\n'))
    out = tmp_path_factory.mktemp("package")
    artifact = build_package(load_app(shop), "dev", out, lambda m: None, cache_dir=real_wheel_cache)
    task = tmp_path_factory.mktemp("task")
    shutil.unpack_archive(artifact.path, task)
    return task


@dataclass(frozen=True)
class LambdaAws:
    """What a function that calls AWS runs with: boto3 (`sdk`, as Lambda's runtime provides it) and the
    variables deploy sets on it, with the endpoint and credentials of the moto server (`env`)."""

    sdk: Path
    env: dict[str, str]


@pytest.fixture(scope="session")
def sdk_dir(runtime_path: list[Path]) -> Path:
    """boto3 and its dependencies alone in a directory: what Lambda's Python runtime provides beside the zip."""
    return runtime_path[1]


@pytest.fixture
def shop_on_moto(endpoint: str, sdk_dir: Path, tmp_path: Path) -> Any:
    """`shop_on_moto("create_order")`: the LambdaAws of a shop function whose account is the moto server,
    holding the tables and queues deploy would make for the shop; its variables are the ones deploy sets
    (`desired`)."""
    from portable_fn_aws.deploy.desired import Target, desired
    from portable_fn_aws.deploy.naming import Arns, Names
    from portable_fn_aws.deploy.resources import Function, Queue, Table

    from portable_fn.deploy import Artifact

    app = load_app(shutil.copytree(REPO / "samples" / "shop", tmp_path / "shop-app", ignore=SKIPPED))
    artifact = Artifact(tmp_path / "shop.zip", "0" * 64, 1, 1)  # the env deploy sets does not depend on it
    made = desired(Target(app, "dev", Names("shop", "dev"), Arns("aws", "eu-west-1", "123456789012"), artifact))
    clients = {s: boto3.client(s, region_name="eu-west-1", endpoint_url=endpoint) for s in ("dynamodb", "sqs")}
    for table in (r for r in made if isinstance(r, Table)):
        clients["dynamodb"].create_table(
            TableName=table.name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    for queue_made in (r for r in made if isinstance(r, Queue)):
        clients["sqs"].create_queue(QueueName=queue_made.name)
    moto = {"AWS_ENDPOINT_URL": endpoint, **{k: os.environ[k] for k in CREDENTIALS}}  # set for the moto server

    def aws(function: str) -> LambdaAws:
        deployed = next(r for r in made if isinstance(r, Function) and r.name == f"shop-dev-{function}")
        return LambdaAws(sdk_dir, {**dict(deployed.env), **moto})

    return aws


@pytest.fixture
def lambda_function(shop_task: Path, ric_dir: Path, tmp_path: Path) -> Iterator[Any]:
    """Start awslambdaric for one shop function, with a Runtime API of its own:
    `lambda_function("create_order")`, or `lambda_function("create_order", shop_on_moto("create_order"))`
    for one that calls AWS."""
    started: list[LambdaProcess] = []

    def start(function: str, aws: LambdaAws | None = None) -> LambdaProcess:
        process = LambdaProcess(RuntimeApi(), shop_task, ric_dir, function, tmp_path / "shop-data", aws)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
        process.api.close()


@pytest.fixture
def shop_data(tmp_path: Path) -> Path:
    return tmp_path / "shop-data"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def event() -> Any:
    return load_event

"""Shared pieces of the AWS adapter tests: the payload corpus, the user handlers, a Lambda context.

`golden(event)` is what the golden files in tests/data/aws/expected/ hold for a native event: the
Request (HTTP sources) or the CloudEvent(s) in the JSON format, a list for events with `Records`, an
`{"error": ...}` object in place of a record that cannot be read.
"""

from __future__ import annotations

import base64
import compileall
import importlib
import importlib.util
import json
import re
import shutil
import sys
import types
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.http_events import http_source, to_request
from portable_fn_aws.shim import _decode, _record_source

from portable_fn.emulators import Emulator
from portable_fn.runtime import Request

DATA = Path(__file__).resolve().parents[2] / "data" / "aws"
EVENTS = DATA / "events"
EXPECTED = DATA / "expected"
HANDLERS = Path(__file__).with_name("handlers")
PACKAGE = "aws_test_handlers"  # a name of its own, whatever else is on sys.path


def load_handlers(module: str) -> types.ModuleType:
    """Import tests/providers/aws/handlers/<module>.py as an app's module would be imported."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, HANDLERS / "__init__.py", submodule_search_locations=[str(HANDLERS)]
        )
        assert spec is not None and spec.loader is not None
        sys.modules[PACKAGE] = package = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{module}")


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def payload_names() -> list[str]:
    return sorted(p.name for p in EVENTS.glob("*.json"))


def request_to_dict(request: Request) -> dict[str, Any]:
    """A Request as JSON: repeated headers and parameters kept in order, binary bodies as base64."""
    out: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "path_params": request.path_params,
        "query": [list(pair) for pair in request.query.multi_items()],
        "headers": [list(pair) for pair in request.headers.multi_items()],
        "cookies": request.cookies,
    }
    try:
        out["body"] = request.body.decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(request.body).decode("ascii")
    return out


def golden(event: Any) -> Any:
    """What the adapter makes of a native event, as JSON."""
    source = http_source(event)
    if source is not None:
        return request_to_dict(to_request(source, event))
    record_source, records = _record_source(event)
    converted = [_decode(record_source, record, i) for i, record in enumerate(records)]
    as_json = [{"error": str(c)} if isinstance(c, BaseException) else c.to_dict() for c in converted]
    return as_json if "Records" in event else as_json[0]


class LambdaContext:
    """The attributes of Lambda's context object that the shim reads."""

    def __init__(self, function_name: str = "shop-dev-fn", remaining_ms: int = 30_000) -> None:
        self.function_name = function_name
        self.aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def _copy_distribution(name: str, target: Path, seen: set[str]) -> None:
    """Copy an installed distribution's files, and those of what it requires, into `target`."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return
    seen.add(key)
    dist = metadata.distribution(name)
    for file in dist.files or []:
        source = Path(str(dist.locate_file(file)))
        if "__pycache__" in file.parts or ".." in file.parts or not source.is_file():
            continue
        (target / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / file)
    for requirement in dist.requires or []:
        if "extra ==" not in requirement:
            _copy_distribution(re.match(r"[A-Za-z0-9._-]+", requirement).group(0), target, seen)  # type: ignore[union-attr]


def runtime_distribution(name: str, target: Path) -> Path:
    """`name` and what it requires copied alone into `target` and compiled, as Lambda's Python runtime holds
    what it provides beside the zip (its boto3 comes with bytecode). The runtime processes the tests start
    write no bytecode (PYTHONDONTWRITEBYTECODE, as on Lambda's read-only mounts): without this each of them
    compiled botocore again, ~0.7 s of CPU per process started. The bytecode goes beside the sources, where
    those processes look (this process's own cache prefix, tests/conftest.py, would take it elsewhere)."""
    _copy_distribution(name, target, set())
    prefix, sys.pycache_prefix = sys.pycache_prefix, None
    try:
        compileall.compile_dir(target, quiet=1)
    finally:
        sys.pycache_prefix = prefix
    return target


@pytest.fixture(scope="session")
def runtime_path(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """awslambdaric and boto3 (what Lambda's Python runtime provides), each alone in a directory, compiled."""
    return [runtime_distribution(name, tmp_path_factory.mktemp(name)) for name in ("awslambdaric", "boto3")]


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture(scope="session")
def events_module() -> types.ModuleType:
    return load_handlers("events")


@pytest.fixture(scope="session")
def web_module() -> types.ModuleType:
    return load_handlers("web")


@pytest.fixture(scope="session")
def secured_module() -> types.ModuleType:
    return load_handlers("secured")


@pytest.fixture(scope="session")
def adapter() -> types.SimpleNamespace:
    """The helpers above, for test modules (which cannot import this conftest)."""
    return types.SimpleNamespace(
        golden=golden, load_event=load_event, request_to_dict=request_to_dict, LambdaContext=LambdaContext
    )


# -- a real moto server on 127.0.0.1, shared by the control-plane tests (deploy, logs) ---------------------

MOTO_REGION = "eu-west-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": MOTO_REGION,
    "AWS_REGION": MOTO_REGION,
}
UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


# moto.server with DynamoDB requests served one at a time, so conditional writes are atomic as on DynamoDB
MOTO_SERVER = [sys.executable, str(Path(__file__).with_name("moto_server.py")), "-H", "127.0.0.1", "-p", "{port}"]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto server running for the whole session (it inherits the dummy credentials)."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in CREDENTIALS.items():
            env.setenv(name, value)
        for name in UNSET:
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(tmp_path_factory.mktemp("aws") / "config"))
        with Emulator(
            MOTO_SERVER, "http://127.0.0.1:{port}/moto-api/data.json", tmp_path_factory.mktemp("moto"), "moto-server"
        ) as server:
            yield server.url


class Resets:
    """How many times this session's moto server was emptied: a deployment shared by several tests
    (`deploy/conftest.py` `deployed_shop`) knows from it whether a test in between emptied the server."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.count = 0

    def reset(self) -> str:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()
        self.count += 1
        return self.endpoint


@pytest.fixture(scope="session")
def moto_resets(moto_endpoint: str) -> Resets:
    return Resets(moto_endpoint)


@pytest.fixture
def endpoint(moto_resets: Resets) -> str:
    """The moto server, emptied: every test starts from an account with nothing in it."""
    return moto_resets.reset()

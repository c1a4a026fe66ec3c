"""The shop's source zip, end to end: what Cloud Functions' build does, then what its runtime does.

The zip is unpacked, its `requirements.txt` installed into a clean virtualenv (no site-packages, no
portable-fn but the copy inside the zip), and the unpacked source served by that virtualenv's real
functions-framework on 127.0.0.1; requests and Pub/Sub CloudEvents go in over HTTP.

The virtualenv is kept in pytest's cache, keyed by the requirements it holds and its Python, so a rerun
with the same pins starts in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from portable_fn_gcp.packaging import build_package

from portable_fn.app import load_app

SHOP = Path(__file__).resolve().parents[4] / "samples" / "shop"
ORDER = {"id": "o-1", "customer": "ada", "lines": [{"sku": "widget", "quantity": 2}]}
NOT_AN_ORDER = {"id": "o-2", "customer": "bob", "lines": []}  # an order needs at least one line
TOPIC = "//pubsub.googleapis.com/projects/shop-test/topics/orders"


@pytest.fixture(scope="session")
def shop_source(tmp_path_factory: pytest.TempPathFactory, real_pin_cache: Path) -> Path:
    """The shop's package, unpacked as Cloud Functions' build unpacks it."""
    out = tmp_path_factory.mktemp("gcp-package")
    artifact = build_package(load_app(SHOP), "dev", out, lambda message: None, cache_dir=real_pin_cache)
    source = out / "source"
    shutil.unpack_archive(artifact.path, source)
    return source


@pytest.fixture(scope="session")
def shop_venv(shop_source: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv with exactly the pinned requirements (cached by their hash and the Python)."""
    python = _python(load_app(SHOP).config.python)
    requirements = (shop_source / "requirements.txt").read_bytes()
    key = hashlib.sha256(requirements + python.encode()).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider: a venv for this run
    venvs = cache.mkdir("portable-fn-gcp-venvs") if cache else tmp_path_factory.mktemp("gcp-venvs")
    env_dir = venvs / key
    if not (env_dir / ".complete").is_file():
        shutil.rmtree(env_dir, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
        done = subprocess.run(
            [
                str(env_dir / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--no-input",
                "--quiet",
                "-r",
                str(shop_source / "requirements.txt"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        (env_dir / ".complete").write_text(requirements.decode())
    return env_dir


def test_the_virtualenv_holds_the_pins_and_no_portable_fn(shop_source: Path, shop_venv: Path) -> None:
    listed = subprocess.run(
        [str(shop_venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    installed = {
        _canonical(line.split("==")[0]) + "==" + line.split("==")[1] for line in listed.splitlines() if "==" in line
    }
    pinned = {
        line
        for line in (shop_source / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert pinned <= installed
    assert not [line for line in installed if line.startswith("portable-fn")]


def test_create_order_answers_201_and_400_over_http(
    shop_source: Path,
    shop_venv: Path,
    tmp_path: Path,
    pubsub_emulator: str,
    firestore_emulator: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """create_order starts the place_order workflow: its instance goes to Firestore and its first message to the
    runner's queue (a Pub/Sub topic) through the zip's own publisher, on the emulators, as deploy names them."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)  # for the clients here
    from google.cloud import pubsub_v1

    admin, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    queue = admin.topic_path("shop-test", "shop-dev-pfn-wf-place-order")
    runner = subscriber.subscription_path("shop-test", f"runner-{tmp_path.name}")
    admin.create_topic(name=queue)
    subscriber.create_subscription(name=runner, topic=queue)
    deployed = {
        "PORTABLE_FN_PROVIDER": "gcp",
        "PORTABLE_FN_APP": "shop",
        "PUBSUB_EMULATOR_HOST": pubsub_emulator,
        "FIRESTORE_EMULATOR_HOST": firestore_emulator,
        "PORTABLE_FN_STATE_PFN_WORKFLOWS": f"projects/shop-test/databases/(default)/documents/{tmp_path.name}",
        "PORTABLE_FN_QUEUE_PFN_WF_PLACE_ORDER": queue,
    }
    with serve(shop_venv, shop_source, "create_order", tmp_path, deployed) as url:
        status, body = post(f"{url}/orders", json.dumps(ORDER).encode(), {"Content-Type": "application/json"})
        assert (status, json.loads(body)) == (201, {"id": "o-1", "lines": 1}), body
        status, body = post(f"{url}/orders", json.dumps(NOT_AN_ORDER).encode(), {"Content-Type": "application/json"})
        assert status == 400, body
    pulled = subscriber.pull(subscription=runner, max_messages=10, timeout=30).received_messages
    subscriber.delete_subscription(subscription=runner)
    admin.delete_topic(topic=queue)
    assert json.loads((tmp_path / "data" / "orders.jsonl").read_text()) == ORDER
    [started] = [m.message for m in pulled]
    assert json.loads(started.data)["specversion"] == "1.0"
    assert dict(started.attributes) == {"content-type": "application/cloudevents+json; charset=utf-8"}


def test_fulfil_acks_a_pubsub_order_and_rejects_an_invalid_one(
    shop_source: Path, shop_venv: Path, tmp_path: Path
) -> None:
    """Binary-mode `messagePublished` CloudEvents, as Eventarc pushes them: 2xx acks, the invalid order is
    answered 400 with the reason (the shim's outcome for invalid input: Pub/Sub redelivers it and finally
    routes it to the dead-letter topic)."""
    with serve(shop_venv, shop_source, "fulfil", tmp_path) as url:
        status, body = post(url, *pubsub_event("m-1", ORDER))
        assert 200 <= status < 300, body
        status, body = post(url, *pubsub_event("m-2", NOT_AN_ORDER))
        assert status == 400 and b"lines" in body, body
    fulfilled = [json.loads(line) for line in (tmp_path / "data" / "fulfilled.jsonl").read_text().splitlines()]
    assert fulfilled == [{"id": "o-1", "event_id": "m-1", "attempt": 1}]


def pubsub_event(message_id: str, order: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    """A Pub/Sub `messagePublished` CloudEvent in binary mode whose message data is the order."""
    data = base64.b64encode(json.dumps(order).encode()).decode()
    body = {
        "message": {
            "data": data,
            "messageId": message_id,
            "publishTime": "2024-05-01T10:00:00.000Z",
            "attributes": {"origin": "checkout"},
        },
        "subscription": "projects/shop-test/subscriptions/eventarc-fulfil",
    }
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": message_id,
        "ce-source": TOPIC,
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-time": "2024-05-01T10:00:00.000Z",
    }
    return json.dumps(body).encode(), headers


@contextmanager
def serve(
    env_dir: Path, source: Path, target: str, tmp_path: Path, deployed: dict[str, str] | None = None
) -> Iterator[str]:
    """Run the virtualenv's functions-framework on the unpacked source until the block ends (`deployed`: the
    environment deploy would set)."""
    port = _free_port()
    env = {
        "PATH": f"{env_dir / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "SHOP_DATA_DIR": str(tmp_path / "data"),
        "LANG": "C.UTF-8",
        **(deployed or {}),
    }
    log = (tmp_path / f"{target}.log").open("w")
    process = subprocess.Popen(
        [
            str(env_dir / "bin" / "functions-framework"),
            "--target",
            target,
            "--source",
            "main.py",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=source,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(port, process, tmp_path / f"{target}.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"functions-framework exited:\n{log.read_text()}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"functions-framework did not listen on {port} within 60 s:\n{log.read_text()}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _python(version: str) -> str:
    """An interpreter of the app's Python version: Cloud Functions runs that one."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    # A pyenv shim is on the path for every installed version but runs only the active ones
    if found is None or subprocess.run([found, "-c", ""], capture_output=True, check=False).returncode:
        pytest.skip(
            f"no python{version} runs on this machine to build the virtualenv with"
            f" (with pyenv: `pyenv shell {sys.version_info.major}.{sys.version_info.minor} {version}`)"
        )
    return found


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")

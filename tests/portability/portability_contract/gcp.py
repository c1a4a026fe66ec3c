"""Cloud Functions (2nd gen) as Google drives it: the generated main.py under the real functions-framework
(flask's test client on `functions_framework.create_app(target, source)`, one app per function), fed the
requests Eventarc sends for what our deploy creates (`portable_fn_gcp.deploy.desired`), dead letters
published by the shim to gcloud's Pub/Sub emulator and pulled back from it.

| logical event  | what deploy made                       | what reaches the function                        |
|----------------|----------------------------------------|--------------------------------------------------|
| queue, topic   | a topic, a messagePublished trigger    | one binary-mode CloudEvent per message (Pub/Sub  |
|                | whose subscription has a dead-letter   | push delivers one at a time): `ce-*` headers,    |
|                | policy (so `deliveryAttempt` is sent)  | body {"message", "subscription",                 |
|                |                                        | "deliveryAttempt"}                               |
| object change  | a storage.object.v1.finalized/.deleted | the object resource, subject "objects/<name>"    |
|                | trigger filtered on the bucket         |                                                  |
| schedule tick  | a Cloud Scheduler job publishing its   | the job's message, published a moment after the  |
|                | JSON data to the function's topic      | tick was due                                     |
| HTTP           | one URL per function                   | the request, to the function whose route has the |
|                |                                        | path (else to the first HTTP function's URL)     |

A 2xx answer acknowledges the message; anything else makes Pub/Sub redeliver it ("retry"); a message
acknowledged after the shim published it to the function's dead-letter topic is "dead-letter".
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy.desired import Target, desired
from portable_fn_gcp.deploy.naming import Names
from portable_fn_gcp.deploy.resources import DeadLetterRoute, Function, SchedulerJob
from portable_fn_gcp.flask_http import router
from portable_fn_gcp.shim import generate_main

from portable_fn.app import App
from portable_fn.deploy import Artifact
from portable_fn.emulators import Emulator, EmulatorError
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.dead_letters import dead_letter_info
from portable_fn.runtime.http_binding import from_http, to_binary
from portable_fn.runtime.triggers import Http

from .delivery import Delivery
from .events import SENT, HttpCall, LogicalEvent, Message, ObjectChange, QueueDelivery, Tick, TopicDelivery

PROJECT, REGION, STAGE = "portable-fn-contract", "us-central1", "dev"
MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
SCHEDULER_LAG = timedelta(milliseconds=412)  # Cloud Scheduler publishes a moment after the tick is due
EMULATOR_BIN = "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
_FRAMEWORK_ENV = ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE")


@dataclass(frozen=True)
class Deployed:
    """What `portable-fn deploy` creates for one function (read from deploy's own plan)."""

    function: Function
    dead_letter: DeadLetterRoute | None
    job: SchedulerJob | None

    @property
    def env(self) -> dict[str, str]:
        return dict(self.function.env)

    @property
    def sends_delivery_attempt(self) -> bool:
        """Pub/Sub tells the attempt only on a subscription with a dead-letter policy."""
        return self.dead_letter is not None and self.dead_letter.max_delivery_attempts > 0


def deployment(app: App) -> dict[str, Deployed]:
    """Function name -> what deploy makes for it, in project PROJECT, stage STAGE."""
    names = Names(app.name, STAGE, PROJECT, REGION)
    plan = desired(Target(app, STAGE, names, Artifact(Path("unbuilt.zip"), "0" * 64, 0, 0)))
    functions = {r.name: r for r in plan if isinstance(r, Function)}
    routes = {r.name: r for r in plan if isinstance(r, DeadLetterRoute)}
    jobs = {r.name: r for r in plan if isinstance(r, SchedulerJob)}
    found = {}
    for spec in app.functions:
        function_id = names.function_id(spec.name)
        found[spec.name] = Deployed(functions[function_id], routes.get(function_id), jobs.get(names.job(spec.name)))
    return found


@contextlib.contextmanager
def open_runner(app: App, seen: list[dict[str, Any]], tmp: pytest.TempPathFactory) -> Iterator[GcpRunner]:
    deployed = deployment(app)
    source = tmp.mktemp("gcp-contract-source") / "main.py"
    source.write_text(generate_main(app), encoding="utf-8")
    with _pubsub_emulator(tmp) as emulator, pytest.MonkeyPatch.context() as env:
        env.setenv("PUBSUB_EMULATOR_HOST", emulator)
        pubsub = PubSub(emulator)
        for route in {d.dead_letter.dead_letter_topic for d in deployed.values() if d.dead_letter}:
            pubsub.create(route)
        yield GcpRunner(app, deployed, source, seen, pubsub, env)


@contextlib.contextmanager
def _pubsub_emulator(tmp: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of gcloud's Pub/Sub emulator; the GCP runner is skipped, saying why, without it."""
    gcloud = shutil.which("gcloud")
    roots = [Path(gcloud).resolve().parent.parent] if gcloud else []
    binary = next(
        (root / EMULATOR_BIN for root in [*roots, Path("/usr/lib/google-cloud-sdk")] if (root / EMULATOR_BIN).exists()),
        None,
    )
    if binary is None or shutil.which("java") is None:
        pytest.skip(
            "the GCP runner needs gcloud's Pub/Sub emulator for dead letters: install the Google Cloud "
            "SDK's pubsub-emulator component and Java (gcloud components install pubsub-emulator)"
        )
    command = [str(binary), "--host=127.0.0.1", "--port={port}"]
    try:
        emulator = Emulator(
            command, f"http://127.0.0.1:{{port}}/v1/projects/{PROJECT}/topics", tmp.mktemp("pubsub"), "pubsub-emulator"
        )
        emulator.start()
    except EmulatorError as exc:
        pytest.skip(f"the GCP runner needs gcloud's Pub/Sub emulator for dead letters, which did not start: {exc}")
    try:
        yield f"127.0.0.1:{emulator.port}"
    finally:
        emulator.stop()


class PubSub:
    """The emulator's REST API: dead-letter topics, a subscription on each, and pulling what reached them."""

    def __init__(self, host: str) -> None:
        self.base = f"http://{host}/v1/"

    def create(self, topic: str) -> None:
        self._call("PUT", topic, {})
        self._call("PUT", self.subscription(topic), {"topic": topic})

    def pull(self, topic: str) -> list[dict[str, Any]]:
        """Every message waiting on the topic's subscription, acknowledged."""
        found: list[dict[str, Any]] = []
        while True:
            answer = self._call(
                "POST", self.subscription(topic) + ":pull", {"returnImmediately": True, "maxMessages": 100}
            )
            received = answer.get("receivedMessages") or []
            if not received:
                return found
            self._call("POST", self.subscription(topic) + ":acknowledge", {"ackIds": [m["ackId"] for m in received]})
            found += [m["message"] for m in received]

    @staticmethod
    def subscription(topic: str) -> str:
        return topic.replace("/topics/", "/subscriptions/") + "-check"

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            found: dict[str, Any] = json.loads(answer.read() or b"{}")
            return found


class GcpRunner:
    name = "gcp"

    def __init__(
        self,
        app: App,
        deployed: dict[str, Deployed],
        source: Path,
        seen: list[dict[str, Any]],
        pubsub: PubSub,
        env: pytest.MonkeyPatch,
    ) -> None:
        self.app = app
        self.deployed = deployed
        self.source = source
        self.seen = seen
        self.pubsub = pubsub
        self.env = env
        self._clients: dict[str, Any] = {}

    def paths(self, event: LogicalEvent) -> tuple[str, ...]:
        return ()  # one way to deliver each event

    def deliver(self, event: LogicalEvent, path: str = "") -> Delivery:
        self.seen.clear()
        if isinstance(event, (QueueDelivery, TopicDelivery)):
            return self._messages(event)
        if isinstance(event, ObjectChange):
            answer = self._post(event.function, *storage_request(event, self._bucket(event.function)))
            assert answer.status_code == 200, answer.get_data(as_text=True)
            return Delivery(seen=list(self.seen))
        if isinstance(event, Tick):
            answer = self._post(event.function, *self._tick_request(event))
            assert answer.status_code == 200, answer.get_data(as_text=True)
            return Delivery(seen=list(self.seen))
        return self._http(event)

    # -- Pub/Sub -----------------------------------------------------------------------------------

    def _messages(self, event: QueueDelivery | TopicDelivery) -> Delivery:
        messages = event.messages if isinstance(event, QueueDelivery) else (event.message,)
        deployed = self.deployed[event.function]
        answers = []
        for message in messages:  # Pub/Sub push: one message per request
            answer = self._post(event.function, *pubsub_request(message, deployed))
            answers.append(answer.status_code)
        letters = {}
        if deployed.dead_letter is not None:
            for published in self.pubsub.pull(deployed.dead_letter.dead_letter_topic):
                letter = from_http(published.get("attributes") or {}, base64.b64decode(published.get("data", "")))
                letters[letter.id] = {"id": letter.id, "data": letter.data, **(dead_letter_info(letter) or {})}
        ids = [message_id(m) for m in messages]
        outcomes = [
            "retry" if not 200 <= status < 300 else "dead-letter" if i in letters else "ack"
            for i, status in zip(ids, answers)
        ]
        return Delivery(seen=list(self.seen), outcomes=outcomes, letters=[letters[i] for i in ids if i in letters])

    def _tick_request(self, tick: Tick) -> tuple[dict[str, str], bytes]:
        """What the Cloud Scheduler job deploy made publishes when the tick is due."""
        job = self.deployed[tick.function].job
        assert job is not None, f"deploy made no Cloud Scheduler job for {tick.function}"
        published = _rfc3339(datetime.fromisoformat(tick.time.replace("Z", "+00:00")) + SCHEDULER_LAG)
        message = Message(job.data.encode("utf-8"), id="7d4a3b1e-0000-4000-8000-0000000000ff")
        return pubsub_request(message, self.deployed[tick.function], published)

    # -- HTTP --------------------------------------------------------------------------------------

    def _http(self, call: HttpCall) -> Delivery:
        target = self._http_target(call)
        answer = self._client(target).open(
            call.path, method=call.method, query_string=call.query, headers=list(call.headers), data=call.body
        )
        try:
            body = answer.get_json(force=True)
        except Exception:  # not JSON: kept as the text it is
            body = answer.get_data(as_text=True)
        return Delivery(
            seen=list(self.seen), status=answer.status_code, json=body, set_cookies=answer.headers.getlist("Set-Cookie")
        )

    def _http_target(self, call: HttpCall) -> str:
        """Each HTTP function has its own URL: the client calls the one whose route has the path."""
        served = [(spec.name, spec.trigger) for spec in self.app.functions]
        http_functions = [(name, trigger) for name, trigger in served if isinstance(trigger, Http)]
        return next(
            (name for name, trigger in http_functions if router(trigger).allowed_methods(call.path)),
            http_functions[0][0],
        )

    # -- functions-framework -----------------------------------------------------------------------

    def _post(self, target: str, headers: dict[str, str], body: bytes) -> Any:
        return self._client(target).post("/", headers=headers, data=body)

    def _client(self, target: str) -> Any:
        """flask's test client on functions-framework's app for `target`, run with the env deploy gives it."""
        own = self.deployed[target].env
        for name in {name for d in self.deployed.values() for name in d.env} - own.keys():
            self.env.delenv(name, raising=False)
        for name, value in own.items():
            self.env.setenv(name, value)
        if target not in self._clients:
            self._clients[target] = framework_app(target, self.source).test_client(use_cookies=False)
        return self._clients[target]

    def _bucket(self, function: str) -> str:
        return dict(self.deployed[function].function.event_filters)["bucket"]


def framework_app(target: str, source: Path) -> Any:
    """functions-framework's flask app for `target`, as its command builds it (the environment it records
    the target and signature type in is put back)."""
    import functions_framework

    saved = {name: os.environ.get(name) for name in _FRAMEWORK_ENV}
    try:
        return functions_framework.create_app(target, str(source))  # type: ignore[no-untyped-call]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- what Google sends --------------------------------------------------------------------------------


def message_id(message: Message) -> str:
    """Pub/Sub assigns numeric ids: one made from the logical message's id, so it is stable."""
    return str(17_000_000_000_000_000 + int(message.id.replace("-", "")[-12:], 16))


def pubsub_request(message: Message, deployed: Deployed, published: str = SENT) -> tuple[dict[str, str], bytes]:
    """Eventarc's messagePublished CloudEvent for one message, in binary mode: a declared content type is
    the message's `content-type` attribute."""
    attributes = dict(message.attributes)
    if message.content_type:
        attributes["content-type"] = message.content_type
    pubsub_message: dict[str, Any] = {
        "data": base64.b64encode(message.body).decode("ascii"),
        "messageId": message_id(message),
        "publishTime": published,
    }
    if attributes:
        pubsub_message["attributes"] = attributes
    data: dict[str, Any] = {"message": pubsub_message, "subscription": _subscription(deployed)}
    if deployed.sends_delivery_attempt:
        data["deliveryAttempt"] = message.attempt
    source = f"//pubsub.googleapis.com/{deployed.function.pubsub_topic}"
    envelope: CloudEvent[Any] = CloudEvent(
        id=message_id(message),
        source=source,
        type=MESSAGE_PUBLISHED,
        time=published,
        datacontenttype="application/json",
        data=data,
    )
    return to_binary(envelope)


def _subscription(deployed: Deployed) -> str:
    """The subscription Eventarc creates for the trigger."""
    return f"projects/{PROJECT}/subscriptions/eventarc-{REGION}-{deployed.function.name}-483-sub-271"


def storage_request(change: ObjectChange, bucket: str) -> tuple[dict[str, str], bytes]:
    """Eventarc's Cloud Storage CloudEvent: the object resource as data, subject "objects/<name>"."""
    md5 = hashlib.md5(change.body).digest()
    generation = "1777629600123456"
    path = urllib.parse.quote(change.key, safe="")
    resource = {
        "kind": "storage#object",
        "id": f"{bucket}/{change.key}/{generation}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{path}",
        "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/{path}"
        f"?generation={generation}&alt=media",
        "name": change.key,
        "bucket": bucket,
        "generation": generation,
        "metageneration": "1",
        "contentType": change.content_type,
        "storageClass": "STANDARD",
        "size": str(change.size),
        "md5Hash": base64.b64encode(md5).decode("ascii"),
        "crc32c": "yZRlqg==",
        "etag": "CNCh4Nq2qYUDEAE=",
        "timeCreated": change.time,
        "updated": change.time,
        "timeStorageClassUpdated": change.time,
    }
    kind = "finalized" if change.change == "created" else "deleted"
    source = f"//storage.googleapis.com/projects/_/buckets/{bucket}"
    event: CloudEvent[Any] = CloudEvent(
        id="9876543210123456",
        source=source,
        subject=f"objects/{change.key}",
        type=f"google.cloud.storage.object.v1.{kind}",
        time=change.time,
        datacontenttype="application/json",
        data=resource,
    )
    return to_binary(event)


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

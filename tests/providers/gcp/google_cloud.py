"""What Google Cloud does around a deployed app, offline: for the workflow tests, the part of the cloud between
the functions (Eventarc's delivery, Cloud Tasks' dispatch, the HTTP front end), over the generated main.py run by
the real functions-framework (its test client, in process) and gcloud's Pub/Sub and Firestore emulators.

`deploy(...)` makes what `portable-fn deploy` would (the desired resources, from the provider's own deploy side):
the topics with deploy's appliers on the Pub/Sub emulator, the delay queue with deploy's applier on the Cloud
Tasks fake, and per event function the push subscription Eventarc keeps (here a pull subscription the harness
pushes from). `GoogleCloud` then plays the services:

| service                 | here                                                                             |
|-------------------------|----------------------------------------------------------------------------------|
| Cloud Functions HTTP    | `request(function, method, path, body)`: the request to the function's entry     |
|                         | point, under the env deploy gives that function                                  |
| Eventarc (Pub/Sub push) | `deliver()`: each message pulled from a trigger's subscription, wrapped in the   |
|                         | binary-mode messagePublished CloudEvent and posted to the entry point; 2xx acks, |
|                         | another status nacks it (redelivered), a crash (no answer) leaves it to its ack  |
|                         | deadline, after which Pub/Sub delivers it again                                   |
| Cloud Tasks             | `dispatch()`: the tasks due by now send their HTTP request (a publish on the     |
|                         | emulator), as the fake's `dispatch(until)` does                                  |
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from portable_fn_gcp.deploy.appliers import ApplyContext, DelayQueues, Topics
from portable_fn_gcp.deploy.resources import DelayQueue, Function, Topic
from portable_fn_gcp.provider import GcpProvider
from portable_fn_gcp.shim import generate_main

from portable_fn.app import App
from portable_fn.deploy import Artifact
from portable_fn.runtime import to_binary

from .tasks_api import CloudTasksApi
from .test_publish import eventarc_push

UNBUILT = Artifact(Path("source.zip"), "0" * 64, 0, 0)  # what the functions' env never reads
ACK_DEADLINE_S = 10  # the least Pub/Sub allows: a crashed delivery is redelivered this long after
FRAMEWORK_ENV = ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE")  # create_app sets them: restored after


class Crash(BaseException):
    """The function's instance died in the middle of a delivery: nothing answers it."""


@dataclass
class Deployed:
    """The app as deploy leaves it: each function's resource (its env, its trigger topic) by entry point."""

    app: App
    provider: GcpProvider
    stage: str
    main: Path
    functions: dict[str, Function]
    subscriptions: dict[str, str] = field(default_factory=dict)  # event function -> Eventarc's subscription

    def env(self, function: str) -> dict[str, str]:
        return dict(self.functions[function].env)


def deploy(app: App, provider: GcpProvider, stage: str, out: Path) -> Deployed:
    """Make the app's topics, delay queue (on the Cloud Tasks endpoint the provider's settings name) and trigger
    subscriptions as deploy would; its main.py in `out`."""
    deployer = provider.deployer
    resources = deployer.desired(app, stage, UNBUILT)
    names = deployer.names(app, stage)
    ctx = ApplyContext(deployer.client, names, provider.config)
    for resource in resources:
        if isinstance(resource, Topic) and not exists(deployer.client, names.topic_path(resource.name)):
            Topics(ctx).create(resource)  # the emulator cannot relabel a topic an earlier test made
        if isinstance(resource, DelayQueue):
            DelayQueues(ctx).create(resource)
    main = out / "main.py"
    main.write_text(generate_main(app), encoding="utf-8")
    functions = {r.entry_point: r for r in resources if isinstance(r, Function)}
    deployed = Deployed(app, provider, stage, main, functions)
    subscriber = subscriber_client()
    for name, function in functions.items():
        if function.pubsub_topic:
            path = subscriber.subscription_path(names.project, f"eventarc-{function.name}-{uuid.uuid4().hex[:8]}")
            subscriber.create_subscription(
                request={"name": path, "topic": function.pubsub_topic, "ack_deadline_seconds": ACK_DEADLINE_S}
            )
            deployed.subscriptions[name] = path
    return deployed


def exists(gcp: Any, topic: str) -> bool:
    from google.api_core.exceptions import NotFound

    try:
        gcp.call("pubsub", "get_topic", request={"topic": topic})
    except NotFound:
        return False
    return True


def subscriber_client() -> Any:
    from google.cloud import pubsub_v1

    return pubsub_v1.SubscriberClient()


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """`env` set in this process while a function runs, as its instance has it; what was there restored."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class GoogleCloud:
    """The services between the deployed functions (see the module docstring)."""

    def __init__(self, deployed: Deployed, tasks: CloudTasksApi) -> None:
        self.deployed = deployed
        self.tasks = tasks
        self.subscriber = subscriber_client()
        self._clients: dict[str, Any] = {}
        self.crashes = 0  # deliveries no one answered
        self.answers: list[int] = []  # the status of every delivery answered

    def close(self) -> None:
        for path in self.deployed.subscriptions.values():
            self.subscriber.delete_subscription(request={"subscription": path})
        self.subscriber.close()

    def client(self, function: str) -> Any:
        """functions-framework's app for the entry point, as `functions-framework --target` builds it."""
        if function not in self._clients:
            import functions_framework

            with environment({name: "" for name in FRAMEWORK_ENV}):
                app = functions_framework.create_app(function, str(self.deployed.main))
            self._clients[function] = app.test_client()
        return self._clients[function]

    def request(self, function: str, method: str, path: str, body: Any = None) -> Any:
        """An HTTP request to the HTTP function's URL; the framework's answer."""
        with environment(self.deployed.env(function)):
            return self.client(function).open(path, method=method, json=body)

    def deliver(self) -> int:
        """Push every message waiting on an event function's subscription to it, and settle it; how many."""
        pushed = 0
        for function, subscription in self.deployed.subscriptions.items():
            with warnings.catch_warnings():  # deprecated, but the emulator honours it: a blocking pull would hold
                warnings.simplefilter("ignore", DeprecationWarning)  # the loop past the tasks falling due
                answer = self.subscriber.pull(
                    request={"subscription": subscription, "max_messages": 10, "return_immediately": True}, timeout=30
                )
            for received in answer.received_messages:
                self.push(function, subscription, received)
                pushed += 1
        return pushed

    def push(self, function: str, subscription: str, received: Any) -> None:
        topic = self.deployed.functions[function].pubsub_topic
        headers, body = to_binary(eventarc_push(received.message, topic))
        try:
            with environment(self.deployed.env(function)):
                status = self.client(function).post("/", data=body, headers=headers).status_code
        except Crash:
            self.crashes += 1  # unanswered: Pub/Sub delivers it again once its ack deadline passes
            return
        self.answers.append(status)
        if 200 <= status < 300:
            self.subscriber.acknowledge(request={"subscription": subscription, "ack_ids": [received.ack_id]})
        else:  # Eventarc's push failed: Pub/Sub redelivers it
            self.subscriber.modify_ack_deadline(
                request={"subscription": subscription, "ack_ids": [received.ack_id], "ack_deadline_seconds": 0}
            )

    def dispatch(self) -> int:
        """What Cloud Tasks does now: each task due publishes its message."""
        return self.tasks.dispatch(until=datetime.now(timezone.utc))

    def run_until(self, done: Callable[[], Any], timeout: float = 120.0, what: str = "") -> Any:
        """Deliver and dispatch until `done()` answers something truthy; that answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.dispatch()
            self.deliver()
            if found := done():
                return found
            time.sleep(0.1)
        raise AssertionError(f"gave up after {timeout} s waiting for {what or done}")

"""The Pub/Sub publisher: where `ctx.emit(...)` and a workflow's delayed messages go on Cloud Functions.

Ships in the source zip only when some function sends to a topic or queue (with google-cloud-pubsub, and
google-cloud-tasks when one is a queue, in its requirements); `portable_fn.runtime.channels.publisher` opens
it by `PORTABLE_FN_PROVIDER=gcp`, and the clients are imported on the first send, so a function that sends
nothing never pays for them.

On Google Cloud a topic and a queue are both a Pub/Sub topic (`<app>-<stage>-<name>`, the topic a queue or
topic trigger subscribes to); deploy names it to each function that declares sending to it in
`PORTABLE_FN_TOPIC_<NAME>` / `PORTABLE_FN_QUEUE_<NAME>` as `projects/<project>/topics/<topic>`. Every event is
one message: its data the event in the CloudEvents JSON format (`channels.encode`), its `content-type`
attribute `application/cloudevents+json`, so the receiving shim hands over exactly the event sent.

| send                       | how                                                                        |
|----------------------------|----------------------------------------------------------------------------|
| now                        | google-cloud-pubsub's `PublisherClient` (`PUBSUB_EMULATOR_HOST` points it  |
|                            | at the emulator), every future waited for                                  |
| to a queue, `delay_s` > 0  | a Cloud Tasks task on the app's delay queue (`PORTABLE_FN_DELAY_QUEUE`,    |
| (up to 30 days, the most   | `projects/P/locations/L/queues/Q`) due at now + delay, whose HTTP request  |
| Cloud Tasks schedules)     | is the same message POSTed to Pub/Sub's REST `topics.publish` with an      |
|                            | OAuth token of `PORTABLE_FN_DELAY_ACCOUNT` (else the function's own        |
|                            | account, asked of the metadata server): nothing runs while it waits        |

A topic takes no delay (`PublishError`). Deploy grants the app's service account `roles/pubsub.publisher` on
each topic it sends to, and for delays `roles/cloudtasks.enqueuer` on the queue and
`roles/iam.serviceAccountUser` on itself (a task's token is minted for it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.channels import CONTENT_TYPE, QUEUE, Channel, PublishError, encode, locator

if TYPE_CHECKING:
    from portable_fn.runtime.cloudevent import CloudEvent

DELAY_QUEUE_ENV = "PORTABLE_FN_DELAY_QUEUE"
DELAY_ACCOUNT_ENV = "PORTABLE_FN_DELAY_ACCOUNT"
EMULATOR_ENV = "PUBSUB_EMULATOR_HOST"
METADATA_ENV = "GCE_METADATA_HOST"  # the metadata server's host, as google-auth reads it
PUBSUB = "https://pubsub.googleapis.com"
EMAIL_PATH = "/computeMetadata/v1/instance/service-accounts/default/email"
MAX_DELAY_S = 30 * 24 * 3600.0  # the furthest ahead Cloud Tasks schedules a task
MAX_TASK_BYTES = 100 * 1024  # the largest task Cloud Tasks takes (its tasks.create says 100KB)
TIMEOUT_S = 60.0
TOPIC = re.compile(r"projects/[^/]+/topics/[^/]+\Z")
QUEUE_PATH = re.compile(r"projects/[^/]+/locations/[^/]+/queues/[^/]+\Z")


def open_publisher() -> GcpPublisher:
    """The publisher of a deployed function: clients made on first use, from the environment deploy set."""
    return GcpPublisher()


def message(event: CloudEvent[Any]) -> dict[str, Any]:
    """The Pub/Sub message (REST shape) carrying `event` in structured mode."""
    return {"data": base64.b64encode(encode(event)).decode("ascii"), "attributes": {"content-type": CONTENT_TYPE}}


def publish_url(topic: str, environ: Mapping[str, str] = os.environ) -> str:
    """Pub/Sub's REST `topics.publish` for `topic` (the emulator's when `PUBSUB_EMULATOR_HOST` is set)."""
    host = environ.get(EMULATOR_ENV, "")
    return f"http://{host}/v1/{topic}:publish" if host else f"{PUBSUB}/v1/{topic}:publish"


class GcpPublisher:
    """Sends to Pub/Sub now, and to a queue later through Cloud Tasks. `pubsub` (a google-cloud-pubsub
    `PublisherClient`) and `tasks` (a google-cloud-tasks `CloudTasksClient`) are made on first use unless
    given; `clock` is the epoch time a delay counts from."""

    max_delay_s = MAX_DELAY_S

    def __init__(
        self,
        pubsub: Any = None,
        tasks: Any = None,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pubsub = pubsub
        self._tasks = tasks
        self._lock = threading.Lock()  # the framework serves requests on threads: one client each
        self.environ = environ
        self.clock = clock

    def publish(self, channel: Channel, events: Sequence[CloudEvent[Any]], delay_s: float = 0.0) -> None:
        topic = topic_of(channel)
        if not events:
            return
        if delay_s <= 0:
            self.now(channel, topic, events)
            return
        if channel.kind != QUEUE:
            raise PublishError(
                f"{channel!r} on gcp: a topic delivers at once and takes no delay (delay_s={delay_s}); "
                "send to a queue to deliver later."
            )
        if delay_s > self.max_delay_s:
            raise PublishError(
                f"{channel!r} on gcp: delay_s={delay_s} is past the {self.max_delay_s:.0f} s (30 days) Cloud Tasks "
                "can schedule; wait in hops of at most max_delay_s."
            )
        self.later(channel, topic, events, delay_s)

    def now(self, channel: Channel, topic: str, events: Sequence[CloudEvent[Any]]) -> None:
        """Publish every event to `topic` and wait until Pub/Sub has each."""
        try:
            client = self.pubsub()
            sent = [client.publish(topic, encode(e), **{"content-type": CONTENT_TYPE}) for e in events]
            for future in sent:
                future.result(timeout=TIMEOUT_S)
        except Exception as exc:  # the client raises google.api_core errors, futures their own
            raise failed(channel, topic, exc) from exc

    def later(self, channel: Channel, topic: str, events: Sequence[CloudEvent[Any]], delay_s: float) -> None:
        """One Cloud Tasks task per event, due in `delay_s`, that publishes it to `topic`."""
        queue, account = self.delay_queue(channel), self.account(channel)
        due = datetime.fromtimestamp(self.clock() + delay_s, timezone.utc)
        tasks = [task(topic, event, due, account, self.environ) for event in events]
        if too_big := [t for t in tasks if len(t["http_request"]["body"]) > MAX_TASK_BYTES]:
            raise PublishError(
                f"{channel!r} on gcp: a delayed event of {len(too_big[0]['http_request']['body'])} bytes is over the "
                f"{MAX_TASK_BYTES} bytes Cloud Tasks holds; store the data and send a reference to it."
            )
        try:
            client = self.tasks()
            for made in tasks:
                client.create_task(request={"parent": queue, "task": made}, timeout=TIMEOUT_S)
        except Exception as exc:  # google.api_core errors
            raise PublishError(
                f"{channel!r} on gcp: a delayed event could not be scheduled on Cloud Tasks queue {queue} "
                f"({type(exc).__name__}: {exc}). Check that the queue exists and that the function's service "
                "account holds roles/cloudtasks.enqueuer on it and roles/iam.serviceAccountUser on itself "
                "(`portable-fn deploy` grants both when service_account is set)."
            ) from exc

    def delay_queue(self, channel: Channel) -> str:
        found = self.environ.get(DELAY_QUEUE_ENV, "")
        if not QUEUE_PATH.match(found):
            raise PublishError(
                f"{channel!r} on gcp: {DELAY_QUEUE_ENV} is {found or 'unset'}, not a Cloud Tasks queue "
                "(projects/P/locations/L/queues/Q), so nothing can be sent later. Declare "
                f"uses=[{channel.name_in_code}.send()] on the function and deploy again."
            )
        return found

    def account(self, channel: Channel) -> str:
        """The account whose OAuth token a task publishes with: deploy's, else this function's own."""
        if found := self.environ.get(DELAY_ACCOUNT_ENV, ""):
            return found
        try:
            return own_account(self.environ)
        except (OSError, ValueError) as exc:
            raise PublishError(
                f"{channel!r} on gcp: {DELAY_ACCOUNT_ENV} is unset and the metadata server did not name the "
                f"function's service account ({exc}); set service_account under [tool.portable-fn.gcp] and deploy "
                "again."
            ) from exc

    def pubsub(self) -> Any:
        with self._lock:
            if self._pubsub is None:
                from google.cloud import pubsub_v1  # type: ignore[attr-defined]

                self._pubsub = pubsub_v1.PublisherClient()
            return self._pubsub

    def tasks(self) -> Any:
        with self._lock:
            if self._tasks is None:
                from google.cloud import tasks_v2

                self._tasks = tasks_v2.CloudTasksClient()
            return self._tasks


def topic_of(channel: Channel) -> str:
    """The channel's topic path, from the locator deploy set."""
    found = locator(channel)
    if not TOPIC.match(found):
        raise PublishError(
            f"{channel!r} on gcp: its locator {found!r} is not a Pub/Sub topic (projects/P/topics/T). Deploy again "
            "with `portable-fn deploy`, which sets it."
        )
    return found


def task(topic: str, event: CloudEvent[Any], due: datetime, account: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """The Cloud Tasks task (a CreateTask `task`) that publishes `event` to `topic` at `due`."""
    body = json.dumps({"messages": [message(event)]}, separators=(",", ":")).encode("utf-8")
    return {
        "schedule_time": due,
        "http_request": {
            "http_method": "POST",
            "url": publish_url(topic, environ),
            "headers": {"Content-Type": "application/json"},
            "body": body,
            "oauth_token": {"service_account_email": account},
        },
    }


def failed(channel: Channel, topic: str, exc: BaseException) -> PublishError:
    return PublishError(
        f"{channel!r} on gcp: publishing to {topic} failed ({type(exc).__name__}: {exc}). Check that the topic "
        "exists and that the function's service account holds roles/pubsub.publisher on it (`portable-fn "
        "deploy` makes both, and grants it when service_account is set)."
    )


def own_account(environ: Mapping[str, str]) -> str:
    """The function's service account email, from the metadata server."""
    import urllib.request

    host = environ.get(METADATA_ENV, "") or "metadata.google.internal"
    request = urllib.request.Request(f"http://{host}{EMAIL_PATH}", headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        email = str(answer.read().decode("utf-8")).strip()
    if "@" not in email:
        raise ValueError(f"the metadata server answered {email[:80]!r}")
    return email

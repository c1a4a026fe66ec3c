"""What a user needs after a deploy, read from the remote state: per function its id and how to reach
or feed it (URL, topic, bucket, schedule), and where its dead-lettered events go and are kept; per state its
Firestore database and collection; per declared bucket its Cloud Storage bucket; per topic or queue some function
sends to its Pub/Sub topic, and the Cloud Tasks queue delayed sends wait in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portable_fn.deploy import RemoteState

from .naming import Names
from .resources import (
    Bucket,
    DeadLetterRoute,
    DeadLetterSubscription,
    DelayQueue,
    Function,
    PublicInvoker,
    SchedulerJob,
    StateDatabase,
    Topic,
)

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionSpec


def outputs(app: App, stage: str, remote: RemoteState, names: Names) -> dict[str, Any]:
    functions: dict[str, Any] = {}
    for spec in app.functions:
        deployed = remote.get((Function.kind, names.function_id(spec.name)))
        if isinstance(deployed, Function):
            functions[spec.name] = {
                "name": names.function_path(deployed.name),
                "state": deployed.state,
                "trigger": spec.trigger.kind,
                **trigger_outputs(spec, deployed, remote, names),
            }
    out = {"provider": "gcp", "project": names.project, "region": names.region, "stage": stage, "functions": functions}
    states = {
        state.name: {"database": names.database_path(database), "collection": names.state_locator(state.name)}
        for state in app.states
        if (StateDatabase.kind, database := names.database(state.name)) in remote
    }
    out = {**out, "states": states} if states else out
    buckets = {  # one the settings map to an existing bucket is there without deploy
        declared.name: f"gs://{bucket}"
        for declared in app.buckets
        if (Bucket.kind, bucket := names.bucket(declared.name)) in remote or not names.owns_bucket(declared.name)
    }
    out = {**out, "buckets": buckets} if buckets else out
    return {**out, **channel_outputs(app, remote, names)}


def channel_outputs(app: App, remote: RemoteState, names: Names) -> dict[str, Any]:
    """Each topic and queue some function sends to: its Pub/Sub topic; and the delay queue, once made."""
    channels = {
        channel.name: {"kind": channel.kind, "topic": names.topic_path(topic)}
        for channel in app.channels
        if (Topic.kind, topic := names.topic(channel.name)) in remote
    }
    out: dict[str, Any] = {"channels": channels} if channels else {}
    if (DelayQueue.kind, names.delay_queue) in remote:
        out["delay_queue"] = names.queue_path(names.delay_queue)
    return out


def trigger_outputs(spec: FunctionSpec, deployed: Function, remote: RemoteState, names: Names) -> dict[str, Any]:
    kind = spec.trigger.kind
    route = remote.get((DeadLetterRoute.kind, deployed.name))
    dead_letter: dict[str, str] = {}
    if isinstance(route, DeadLetterRoute):
        dead_letter["dead_letter_topic"] = route.dead_letter_topic
        kept = route.dead_letter_topic.rsplit("/", 1)[-1]  # the subscription keeping them is named like the topic
        if (DeadLetterSubscription.kind, kept) in remote:
            dead_letter["dead_letter_subscription"] = names.subscription_path(kept)
    if kind == "http":
        public = (PublicInvoker.kind, deployed.name) in remote
        return {"url": deployed.url, "auth": "public" if public else "iam"}
    if kind == "storage":
        return {
            "bucket": dict(deployed.event_filters).get("bucket", ""),
            "event_type": deployed.event_type,
            **dead_letter,
        }
    found: dict[str, Any] = {"topic": deployed.pubsub_topic, **dead_letter}
    if kind == "schedule":
        job = remote.get((SchedulerJob.kind, names.job(spec.name)))
        if isinstance(job, SchedulerJob):
            found |= {"job": names.job_path(job.name), "schedule": job.schedule, "time_zone": job.time_zone}
    return found

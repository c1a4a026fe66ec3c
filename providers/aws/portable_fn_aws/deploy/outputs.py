"""What a user needs after a deploy, read from the remote state: per function its ARN and how to reach
or feed it (URL, queue URL, topic ARN, bucket, schedule expression); per declared bucket its S3 bucket; where
each topic and queue a function sends to is, and who sends to it; the HTTP API's endpoint and the deployment
bucket, if any."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portable_fn.deploy import RemoteState
from portable_fn.runtime import triggers

from . import rest_api
from .desired import channel_name, route_key
from .naming import Arns, Names, api_route
from .resources import (
    ApiRoute,
    Bucket,
    DeploymentBucket,
    Function,
    FunctionUrl,
    HttpApi,
    Queue,
    RestApi,
    Schedule,
    Topic,
)

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionSpec


def outputs(app: App, stage: str, remote: RemoteState, names: Names, arns: Arns) -> dict[str, Any]:
    functions: dict[str, Any] = {}
    for spec in app.functions:
        deployed = remote.get((Function.kind, names.function(spec.name)))
        if isinstance(deployed, Function):
            functions[spec.name] = {
                "name": deployed.name,
                "arn": deployed.arn,
                "trigger": spec.trigger.kind,
                **trigger_outputs(spec, remote, names, arns),
            }
    out = {
        "provider": "aws",
        "region": arns.region,
        "stage": stage,
        "functions": functions,
        "channels": channel_outputs(app, remote, names, arns),
    }
    buckets = {  # one the settings map to an existing bucket is there without deploy
        declared.name: f"s3://{physical}"
        for declared in app.buckets
        if (Bucket.kind, physical := names.bucket(declared.name)) in remote or not names.owns_bucket(declared.name)
    }
    if buckets:
        out["buckets"] = buckets
    api = remote.get((HttpApi.kind, names.http_api))
    if isinstance(api, HttpApi):
        out["http_api"] = api.endpoint
    tenants = remote.get((RestApi.kind, rest_api.api_name(names)))
    if isinstance(tenants, RestApi):
        out["tenants_api"] = tenants.endpoint
    for bucket in (r for r in remote if isinstance(r, DeploymentBucket)):
        out["deployment_bucket"] = bucket.name
    return out


def channel_outputs(app: App, remote: RemoteState, names: Names, arns: Arns) -> dict[str, dict[str, Any]]:
    """Each topic and queue a function sends to (`<kind> <name>`): its senders, and once deployed the
    topic's ARN or the queue's URL and ARN (what `PORTABLE_FN_TOPIC_/QUEUE_<NAME>` hold on the senders)."""
    out: dict[str, dict[str, Any]] = {}
    for channel in app.channels:
        name = channel_name(names, channel)
        where: dict[str, Any] = {"senders": [s.name for s in app.senders(channel)]}
        if isinstance(found := remote.get((Topic.kind, name)), Topic):
            where["topic_arn"] = arns.topic(found.name)
        elif isinstance(found := remote.get((Queue.kind, name)), Queue):
            where |= {"queue_url": found.url, "queue_arn": arns.queue(found.name)}
        out[f"{channel.kind} {channel.name}"] = where
    return out


def trigger_outputs(spec: FunctionSpec, remote: RemoteState, names: Names, arns: Arns) -> dict[str, Any]:
    trigger = spec.trigger
    if isinstance(trigger, triggers.Http):
        return http_outputs(spec, trigger, remote, names)
    if isinstance(trigger, triggers.Queue):
        queue = remote.get((Queue.kind, names.queue(trigger.name, trigger.fifo)))
        return {"queue_url": queue.url, "queue_arn": arns.queue(queue.name)} if isinstance(queue, Queue) else {}
    if isinstance(trigger, triggers.Topic):
        return {"topic_arn": arns.topic(names.topic(trigger.name))}
    if isinstance(trigger, triggers.Storage):
        return {"bucket": names.bucket(trigger.bucket)}
    if isinstance(trigger, triggers.Schedule):
        schedule = remote.get((Schedule.kind, names.schedule(spec.name)))
        return {"schedule": schedule.expression} if isinstance(schedule, Schedule) else {}
    return {}


def http_outputs(spec: FunctionSpec, trigger: triggers.Http, remote: RemoteState, names: Names) -> dict[str, Any]:
    """The function's Function URL, or its route on the HTTP API (the URL with its `{param}`s as declared)."""
    function = names.function(spec.name)
    if tenants := rest_api.url(remote, names, spec):
        return tenants
    url = remote.get((FunctionUrl.kind, function))
    if isinstance(url, FunctionUrl):
        return {"url": url.url, "auth": url.auth_type}
    route_name = api_route(names.http_api, route_key(trigger), function)
    api, route = remote.get((HttpApi.kind, names.http_api)), remote.get((ApiRoute.kind, route_name))
    if isinstance(api, HttpApi) and isinstance(route, ApiRoute):
        return {"url": f"{api.endpoint}{trigger.path}", "auth": route.authorization_type, "route": route.route_key}
    return {}

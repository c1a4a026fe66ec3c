"""What an app needs on Google Cloud: its functions and triggers turned into resources. Pure: no call.

One function brings its Cloud Function (runtime, entry point = the function's name in the generated
`main.py`, memory, timeout, env, instances, service account, ingress), then what its trigger needs:

    http      nothing more, or the public invoker binding when public=True
    queue     the queue's topic and a messagePublished trigger on it
    topic     the topic and a messagePublished trigger on it
    storage   the bucket (unless `buckets` maps it to an existing one) and a storage.object.v1.finalized /
              .deleted trigger filtered on it
    schedule  the function's own topic, a trigger on it, and a Cloud Scheduler job publishing to it

Event triggers retry (RETRY_POLICY_RETRY) when the function allows more than one attempt. An event
function that may dead-letter gets a dead-letter topic, a pull subscription keeping what reaches it
(`DeadLetterSubscription`) and a `DeadLetterRoute` (the publisher grant the shim needs, and for a retrying
trigger, Pub/Sub or storage, the dead-letter policy and the retry policy of its backoff on the subscription
Eventarc delivers it through, so an event that keeps failing is kept rather than dropped after a day); the topic's path
reaches the shim in the environment variable `PORTABLE_FN_DEAD_LETTER_TOPIC`; the timeout in
`PORTABLE_FN_TIMEOUT_S`.

Every resource Google lets deploy label (functions, topics, buckets, dead-letter subscriptions) carries the app's
tags as labels (`[tool.portable-fn] tags`, a stage's over them, checked against `naming.TAG_RULES`) beside
portable-fn's own.

An app with a storage trigger also wants the `StorageAgentGrant`: the project's Cloud Storage service
agent may publish to Pub/Sub, which Eventarc's Cloud Storage triggers need (unless
`grant_storage_agent = false` leaves that to whoever runs the project).

A state some function uses (`uses=[orders.read()]`) brings its own Firestore database (`StateDatabase`, with a
TTL policy on `expires_at`); each function that declares it gets `PORTABLE_FN_STATE_<NAME>` (the collection's
path, `Names.state_locator`). With an app's own `service_account`, that account is granted
`roles/datastore.user` (some function writes it) or `roles/datastore.viewer` (all only read) on the project
under a condition naming that one database (`StateGrant`). The account is shared by the app's functions, so
it holds the union of what they declare; each function's own declaration is enforced at run time
(`check_access`).

A bucket some function declares (`uses=[uploads.read()]`) is the bucket a `storage(uploads)` trigger watches
(`Names.bucket`: `<app>-<stage>-<name>`, or the existing bucket the settings map it to, which is never made);
each function that declares it gets `PORTABLE_FN_BUCKET_<NAME>` (the bucket's name), and the account it runs as
a binding in that bucket's own IAM policy (`BucketGrant`): roles/storage.objectViewer to read,
roles/storage.objectUser to write.

A topic or queue some function sends to (`uses=[order_events.publish()]`, `uses=[orders.send()]`) is a Pub/Sub
topic (`Names.topic`, the one a trigger on it subscribes to), made whether or not a function of the app receives
from it; each function that declares it gets `PORTABLE_FN_TOPIC_<NAME>` / `PORTABLE_FN_QUEUE_<NAME>` (the topic's
path). When some function sends to a queue, the app gets a Cloud Tasks queue for delayed sends (`DelayQueue`),
named to the functions that send to a queue in `PORTABLE_FN_DELAY_QUEUE`. The account each sending function
runs as (`account_of`: its own, or the app's `service_account`) is granted `roles/pubsub.publisher` on each
topic it sends to (`PublisherGrant`), and for delays `roles/cloudtasks.enqueuer` on the queue (`EnqueuerGrant`)
and `roles/iam.serviceAccountUser` on itself (`TokenGrant`: a task publishes with its token), its email in
`PORTABLE_FN_DELAY_ACCOUNT`.

Event triggers deliver as the account their function runs as, which deploy grants what Eventarc's delivery
needs: `roles/run.invoker` on the function's Cloud Run service (`TriggerInvoker`), and with a storage trigger
`roles/eventarc.eventReceiver` on the project (`EventReceiverGrant`; Pub/Sub triggers need none). Google's
default compute account is never used, so never changed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portable_fn.deploy import Artifact, Resource
from portable_fn.deploy.tags import checked, with_tags
from portable_fn.runtime.buckets import Bucket as DeclaredBucket
from portable_fn.runtime.buckets import locator_env as bucket_env
from portable_fn.runtime.channels import QUEUE, Channel
from portable_fn.runtime.channels import locator_env as channel_env
from portable_fn.runtime.function import FunctionOptions, FunctionSpec
from portable_fn.runtime.retry import RetryPolicy
from portable_fn.runtime.secrets import Secret
from portable_fn.runtime.state import State, locator_env
from portable_fn.runtime.triggers import Http, Queue, Schedule, Storage
from portable_fn.runtime.triggers import Topic as TopicTrigger

from ..publish import DELAY_ACCOUNT_ENV, DELAY_QUEUE_ENV
from ..secrets import LOCATOR_ENV as SECRETS_ENV
from ..settings import GcpSettings
from .naming import TAG_RULES, Names, grant_name, source_label
from .resources import (
    Bucket,
    BucketGrant,
    DeadLetterRoute,
    DeadLetterSubscription,
    DelayQueue,
    EnqueuerGrant,
    EventReceiverGrant,
    Function,
    PublicInvoker,
    PublisherGrant,
    SchedulerJob,
    SecretContainer,
    SecretGrant,
    ServiceAccount,
    StateDatabase,
    StateGrant,
    StorageAgentGrant,
    TokenGrant,
    Topic,
    TriggerInvoker,
    in_order,
)
from .schedules import TIME_ZONE, cloud_scheduler_cron

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionSpec

MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
STORAGE_EVENTS = {
    "created": "google.cloud.storage.object.v1.finalized",
    "deleted": "google.cloud.storage.object.v1.deleted",
}
RETRY, DO_NOT_RETRY = "RETRY_POLICY_RETRY", "RETRY_POLICY_DO_NOT_RETRY"
DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S = 256, 60
MAX_EVENT_TIMEOUT_S = 540  # event-driven 2nd gen functions stop after 9 minutes; HTTP ones after 60
DEAD_LETTER_ENV = "PORTABLE_FN_DEAD_LETTER_TOPIC"
TIMEOUT_ENV = "PORTABLE_FN_TIMEOUT_S"  # the shim's Context deadline (Google does not tell it)
MIN_DELIVERY_ATTEMPTS, MAX_DELIVERY_ATTEMPTS = 5, 100  # what a Pub/Sub dead-letter policy accepts
MAX_BACKOFF_S = 600  # what a Pub/Sub retry policy's backoffs accept
DATASTORE_USER, DATASTORE_VIEWER = "roles/datastore.user", "roles/datastore.viewer"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
OBJECT_USER, OBJECT_VIEWER = "roles/storage.objectUser", "roles/storage.objectViewer"


@dataclass(frozen=True)
class Target:
    """Everything the builders need besides the function: app, stage, names, artifact and settings."""

    app: App
    stage: str
    names: Names
    artifact: Artifact
    settings: GcpSettings = field(default_factory=GcpSettings)


def desired(target: Target) -> list[Resource]:
    """Every resource of the app, dependencies first."""
    resources: list[Resource] = [*service_accounts(target)]
    if wants_storage_agent_grant(target.app, target.settings):
        resources.append(StorageAgentGrant(target.names.project))
    receivers = [s for s in target.app.functions if isinstance(s.trigger, Storage)]
    for account in accounts_of(target, receivers):
        resources.append(EventReceiverGrant(account, project=target.names.project))
    resources += state_resources(target)
    resources += bucket_resources(target)
    resources += secret_resources(target)
    resources += channel_resources(target)
    for spec in target.app.functions:
        resources += FunctionResources(target, spec).build()
    return with_tags(in_order(resources), checked(target.app.config, target.stage, TAG_RULES))


def service_accounts(target: Target) -> list[Resource]:
    """The service account of each function, when the app names none for them all to share."""
    names, app = target.names, target.app
    if target.settings.service_account:
        return []
    return [
        ServiceAccount(
            names.function_account(spec.name),
            display_name=f"portable-fn {app.name} {target.stage} {spec.name}"[:100],
            description=names.account_marker,
        )
        for spec in app.functions
    ]


def account_of(target: Target, spec: FunctionSpec) -> str:
    """The email of the service account a function runs as: the app's `service_account` when set (all its
    functions share it), else its own (`service_accounts`)."""
    names = target.names
    return target.settings.service_account or names.account_email(names.function_account(spec.name))


def accounts_of(target: Target, specs: list[FunctionSpec]) -> list[str]:
    """The accounts `specs` run as, each once, sorted."""
    return sorted({account_of(target, spec) for spec in specs})


def state_resources(target: Target) -> list[Resource]:
    """A database per state some function uses, and a conditional grant on it for each account its users run as
    (write if any of them writes)."""
    names, app, shared = target.names, target.app, bool(target.settings.service_account)
    out: list[Resource] = []
    for state in app.states:
        database = names.database(state.name)
        out.append(StateDatabase(database, location=names.region))
        writes: dict[str, bool] = {}
        for spec in app.functions:
            for use in (u for u in app.options(spec).uses if u.resource is state):
                account = account_of(target, spec)
                writes[account] = writes.get(account, False) or use.writes
        for account, written in sorted(writes.items()):
            out.append(
                StateGrant(
                    grant_name(database, account, shared),
                    project=names.project,
                    database=names.database_path(database),
                    member=f"serviceAccount:{account}",
                    role=DATASTORE_USER if written else DATASTORE_VIEWER,
                )
            )
    return out


def bucket_resources(target: Target) -> list[Resource]:
    """The bucket of each bucket some function declares (unless the settings map it to an existing one), and a
    binding in that bucket's IAM policy for each account its users run as: roles/storage.objectUser if any of
    them writes it, else roles/storage.objectViewer."""
    names, app, shared = target.names, target.app, bool(target.settings.service_account)
    out: list[Resource] = []
    for declared in app.buckets:
        bucket = names.bucket(declared.name)
        if names.owns_bucket(declared.name):
            out.append(Bucket(bucket, location=names.region))
        writes: dict[str, bool] = {}
        for spec in app.functions:
            for use in app.options(spec).uses:
                if not isinstance(use.resource, DeclaredBucket) or use.resource.name != declared.name:
                    continue
                account = account_of(target, spec)
                writes[account] = writes.get(account, False) or use.writes
        for account, written in sorted(writes.items()):
            out.append(
                BucketGrant(
                    grant_name(bucket, account, shared),
                    bucket=bucket,
                    member=f"serviceAccount:{account}",
                    role=OBJECT_USER if written else OBJECT_VIEWER,
                )
            )
    return out


def secret_resources(target: Target) -> list[Resource]:
    """The Secret Manager secret of each declared secret, and its accessor grant for the runtime accounts of the
    functions that declare reading it."""
    names, app = target.names, target.app
    out: list[Resource] = []
    for secret in app.secrets:
        secret_id = names.secret(secret.name)
        out.append(SecretContainer(secret_id))
        if readers := secret_readers(target, secret):
            members = tuple(sorted({member for _, member in readers}))
            out.append(SecretGrant(secret_id, secret=names.secret_path(secret_id), members=members, readers=readers))
    return out


def secret_readers(target: Target, secret: Secret) -> tuple[tuple[str, str], ...]:
    """Each function that declares reading `secret`, with the IAM member it runs as (those deploy grants)."""
    return tuple(sorted((s.name, f"serviceAccount:{account_of(target, s)}") for s in target.app.readers(secret)))


def channel_resources(target: Target) -> list[Resource]:
    """A topic per channel some function sends to, the delay queue when one is a queue, and the grants of the
    accounts its senders run as on each (for a queue's delays, also each account's use of itself)."""
    names, app, shared = target.names, target.app, bool(target.settings.service_account)
    out: list[Resource] = []
    for channel in app.channels:
        topic = names.topic(channel.name)
        out.append(Topic(topic))
        for account in accounts_of(target, app.senders(channel)):
            member = f"serviceAccount:{account}"
            out.append(PublisherGrant(grant_name(topic, account, shared), topic=names.topic_path(topic), member=member))
    if wants_delays(app):
        queue = names.delay_queue
        out.append(DelayQueue(queue))
        delayers = [s for c in app.channels if c.kind == QUEUE for s in app.senders(c)]
        for account in accounts_of(target, delayers):
            member = f"serviceAccount:{account}"
            out.append(EnqueuerGrant(grant_name(queue, account, shared), queue=names.queue_path(queue), member=member))
            out.append(TokenGrant(account, member=member))
    return out


def wants_delays(app: App) -> bool:
    """Whether the app gets a delay queue: some function sends to a queue (a topic takes no delay)."""
    return any(channel.kind == QUEUE for channel in app.channels)


def account_notes(app: App, settings: GcpSettings) -> list[str]:
    """What `plan` says when every function runs as the app's `service_account`: the grants are the app's."""
    declared = sorted({s.name for s in app.functions if app.options(s).uses or s.trigger.is_event})
    if not settings.service_account or not declared:
        return []
    return [
        f"Every function runs as {settings.service_account} (service_account), so what deploy grants is per app: "
        f"each of {', '.join(declared)} may use what any of them declares (each function's own declaration is "
        "still enforced at run time). Leave service_account unset to have deploy make each function an account of "
        "its own, granted only what it declares."
    ]


def retry_backoff_s(policy: RetryPolicy) -> tuple[int, int]:
    """A Pub/Sub subscription's retryPolicy (minimumBackoff, maximumBackoff) for `policy`: its first delay and
    its longest, whole seconds within the 0 to 600 Pub/Sub allows. Pub/Sub grows the delay between the two
    by its own factor, so a fixed backoff is both."""
    first = _backoff_s(policy.delay_s(1))
    return first, max(first, _backoff_s(policy.backoff.max_s))


def _backoff_s(seconds: float) -> int:
    return min(max(math.ceil(seconds), 0), MAX_BACKOFF_S)


def wants_storage_agent_grant(app: App, settings: GcpSettings) -> bool:
    """Whether deploy manages the storage agent's publisher grant: the app has a storage trigger and the
    settings leave the grant to deploy. An app without one never reads or changes the project's IAM."""
    return settings.grant_storage_agent and any(isinstance(spec.trigger, Storage) for spec in app.functions)


def wants_event_receiver_grant(app: App, settings: GcpSettings) -> bool:
    """Whether deploy grants `roles/eventarc.eventReceiver` on the project to the accounts of the functions with
    a storage trigger (Eventarc's Pub/Sub triggers need no such role)."""
    return any(isinstance(spec.trigger, Storage) for spec in app.functions)


class FunctionResources:
    """The resources one function brings."""

    def __init__(self, target: Target, spec: FunctionSpec) -> None:
        self.t = target
        self.spec = spec
        self.options: FunctionOptions = target.app.options(spec)
        self.id = target.names.function_id(spec.name)
        self.account = account_of(target, spec)

    def build(self) -> list[Resource]:
        trigger, names = self.spec.trigger, self.t.names
        own: list[Resource] = [Topic(t) for t in (self.trigger_topic(), self.dead_letter_topic()) if t]
        if isinstance(trigger, Storage) and names.owns_bucket(trigger.bucket):
            own.append(Bucket(names.bucket(trigger.bucket), location=names.region))
        own.append(self.function())
        if dead_letter := self.dead_letter_topic():
            own.append(self.dead_letter_route(dead_letter))
            own.append(DeadLetterSubscription(dead_letter, topic=names.topic_path(dead_letter)))
        if isinstance(trigger, Http) and trigger.open_at_edge:  # public, or verified by the function (auth=)
            own.append(PublicInvoker(self.id))
        if trigger.is_event:
            own.append(TriggerInvoker(self.id, member=f"serviceAccount:{self.account}"))
        if isinstance(trigger, Schedule):
            data = json.dumps(
                {"schedule": trigger.expression, "name": names.job(self.spec.name)},
                sort_keys=True,
                separators=(",", ":"),
            )
            own.append(
                SchedulerJob(
                    names.job(self.spec.name),
                    schedule=cloud_scheduler_cron(self.spec.name, trigger),
                    time_zone=TIME_ZONE,
                    topic=names.topic_path(self.trigger_topic()),
                    data=data,
                    description=names.job_marker,
                )
            )
        return own

    def function(self) -> Function:
        options, settings = self.options, self.t.settings
        max_instances = options.max_concurrency or settings.max_instances
        return Function(
            self.id,
            runtime=f"python{self.t.app.config.python.replace('.', '')}",
            entry_point=self.spec.name,
            memory_mb=options.memory_mb or DEFAULT_MEMORY_MB,
            timeout_s=self.timeout_s(),
            env=tuple(sorted(self.env().items())),
            min_instances=settings.min_instances,
            max_instances=max_instances,
            service_account=self.account,
            ingress=settings.ingress.upper(),
            **self.event_trigger(),
            source_sha=source_label(self.t.artifact.sha256),
            zip_path=str(self.t.artifact.path),
        )

    def dead_letter_route(self, dead_letter: str) -> DeadLetterRoute:
        """The publisher grant, and for event triggers that retry the trigger subscription's policies: the
        attempts clamped into the 5 to 100 Pub/Sub allows, the backoff into its 0 to 600 s (`retry_backoff_s`)."""
        names, retries = self.t.names, self.options.max_attempts > 1
        source = self.trigger_source() if retries else ""
        attempts = min(max(self.options.max_attempts, MIN_DELIVERY_ATTEMPTS), MAX_DELIVERY_ATTEMPTS)
        minimum, maximum = retry_backoff_s(self.options.retry_policy) if source else (0, 0)
        return DeadLetterRoute(
            self.id,
            dead_letter_topic=names.topic_path(dead_letter),
            publisher=self.account,
            trigger_source=source,
            max_delivery_attempts=attempts if source else 0,
            minimum_backoff_s=minimum,
            maximum_backoff_s=maximum,
        )

    def trigger_source(self) -> str:
        """What the trigger listens to: its topic's path, or `gs://BUCKET` for a storage trigger."""
        trigger = self.spec.trigger
        if isinstance(trigger, Storage):
            return f"gs://{self.t.names.bucket(trigger.bucket)}"
        return self.t.names.topic_path(self.trigger_topic())

    def timeout_s(self) -> int:
        return math.ceil(self.options.timeout_s or DEFAULT_TIMEOUT_S)

    def env(self) -> dict[str, str]:
        """App defaults < stage < the function's own < portable-fn's own variables."""
        config = self.t.app.config
        stage = config.stages.get(self.t.stage)
        own = {
            "PORTABLE_FN_APP": self.t.app.name,
            "PORTABLE_FN_STAGE": self.t.stage,
            **config.runtime_env(),
            "PORTABLE_FN_FUNCTION": self.spec.name,
            "PORTABLE_FN_PROVIDER": "gcp",
            TIMEOUT_ENV: str(self.timeout_s()),
            # gen2 runtimes set neither: the logs' trace field (projects/P/traces/T) and cloud.region
            "GOOGLE_CLOUD_PROJECT": self.t.names.project,
            "PORTABLE_FN_REGION": self.t.names.region,
        }
        if dead_letter := self.dead_letter_topic():
            own[DEAD_LETTER_ENV] = self.t.names.topic_path(dead_letter)
        for use in self.options.uses:
            if isinstance(use.resource, State):
                own[locator_env(use.resource.name)] = self.t.names.state_locator(use.resource.name)
        for use in self.options.uses:
            if isinstance(use.resource, DeclaredBucket):
                own[bucket_env(use.resource.name)] = self.t.names.bucket(use.resource.name)
        if any(isinstance(use.resource, Secret) for use in self.options.uses):
            own[SECRETS_ENV] = self.t.names.secrets_locator
        own.update(self.channel_env())
        return {**config.defaults.env, **(stage.env if stage else {}), **self.spec.options.env, **own}

    def channel_env(self) -> dict[str, str]:
        """Where each channel the function sends to is, and for a sender to a queue where delays go and as whom."""
        names = self.t.names
        channels = [use.resource for use in self.options.uses if isinstance(use.resource, Channel)]
        out = {channel_env(c.kind, c.name): names.topic_path(names.topic(c.name)) for c in channels}
        if any(channel.kind == QUEUE for channel in channels):
            out[DELAY_QUEUE_ENV] = names.queue_path(names.delay_queue)
            out[DELAY_ACCOUNT_ENV] = self.account
        return out

    def event_trigger(self) -> dict[str, Any]:
        trigger = self.spec.trigger
        if not trigger.is_event:
            return {}
        retry = RETRY if self.options.max_attempts > 1 else DO_NOT_RETRY
        if isinstance(trigger, Storage):
            bucket = self.t.names.bucket(trigger.bucket)
            return {
                "event_type": STORAGE_EVENTS[trigger.on],
                "event_filters": (("bucket", bucket),),
                "retry_policy": retry,
            }
        topic = self.t.names.topic_path(self.trigger_topic())
        return {"event_type": MESSAGE_PUBLISHED, "pubsub_topic": topic, "retry_policy": retry}

    def trigger_topic(self) -> str:
        return trigger_topic(self.t.names, self.spec)

    def dead_letter_topic(self) -> str:
        return dead_letter_topic(self.t.names, self.spec, self.options)


def trigger_topic(names: Names, spec: FunctionSpec) -> str:
    """The topic a function is triggered from ('' for HTTP and storage)."""
    trigger = spec.trigger
    if isinstance(trigger, (Queue, TopicTrigger)):
        return names.topic(trigger.name)
    if isinstance(trigger, Schedule):
        return names.topic(spec.name)
    return ""


def dead_letter_topic(names: Names, spec: FunctionSpec, options: FunctionOptions) -> str:
    """Where a function's dead-lettered events go ('' for HTTP and dead_letter=False)."""
    trigger, dead_letter = spec.trigger, options.dead_letter
    if not trigger.is_event or dead_letter is False:
        return ""
    if isinstance(dead_letter, str):
        return names.topic(dead_letter)
    base = trigger.name if isinstance(trigger, Queue) else spec.name
    return names.topic(f"{base}-dlq")

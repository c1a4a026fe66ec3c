"""The Google Cloud resources deploy manages, as frozen dataclasses: plain values, no I/O.

`desired` builds them from the app, `remote` builds them from what Google answers, and the shared
planner compares the two field by field. Fields in `ignore_on_compare` are filled in by Google (URLs,
the Cloud Run service) or only needed to act (the zip's path), so they never cause an update.
"""

from __future__ import annotations

from dataclasses import dataclass

from portable_fn.deploy import Resource

Pairs = tuple[tuple[str, str], ...]
NEW_ACCOUNT = frozenset({"service account"})  # a grant to a function's account waits for IAM to know a new one


@dataclass(frozen=True)
class ServiceAccount(Resource):
    """The service account one function runs as when the app names none (`service_account` unset), named by its
    id (`Names.function_account`): each function then holds exactly the grants its own declarations and trigger
    need, nothing another function declared. Service accounts carry no labels, so `description` is the app and
    stage's marker, by which remote finds them; `remove` deletes them after everything granted to them."""

    kind = "service account"
    display_name: str = ""
    description: str = ""


@dataclass(frozen=True)
class LeftoverBinding(Resource):
    """A binding on the project naming an account deploy made for a function that no function runs as any more, of
    a role no other resource here stands for (one granted by hand, say), named `<account id>/<role>` (and the
    condition's title when it has one). Never wanted, only read: deploy takes it back before it deletes the
    account, which would otherwise leave the binding to a deleted account."""

    kind = "leftover project binding"
    project: str = ""
    member: str = ""  # serviceAccount:EMAIL
    role: str = ""
    condition: Pairs = ()  # the binding's condition (title, description, expression), () for none


@dataclass(frozen=True)
class UnreadBindings(Resource):
    """The project bindings of an account deploy made that is going, when Google refused deploy the project's IAM
    policy (403), named after the account's id: read only, never wanted, never deleted (`kept_because` says in
    `plan`, `deploy` and `remove` which account may keep roles granted it by hand, and what to grant). The account's
    delete still tries to take them back (`appliers.ServiceAccounts`)."""

    kind = "unread project bindings of"
    project: str = ""
    member: str = ""  # serviceAccount:EMAIL

    def kept_because(self) -> str:
        email = self.member.removeprefix("serviceAccount:")
        return (
            f"Google refused deploy resourcemanager.projects.getIamPolicy on project {self.project!r}, so a role "
            f"granted {email} by hand is not seen, and may stay in the project's IAM policy as "
            f"deleted:serviceAccount:{email}?uid=... once the account is deleted; grant the deploying principal "
            "roles/resourcemanager.projectIamAdmin on the project to have them taken back"
        )


@dataclass(frozen=True)
class Topic(Resource):
    """A Pub/Sub topic the app owns (a queue, a topic, a schedule's or a dead-letter topic)."""

    kind = "pubsub topic"
    ignore_on_compare = frozenset({"audit_labels"})
    tags: Pairs = ()  # the user's labels (`portable_fn.deploy.tags`), beside portable-fn's own
    audit_labels: Pairs = ()  # the audit trail's, kept when the labels are set again


@dataclass(frozen=True)
class PublisherGrant(Resource):
    """A runtime account holding `roles/pubsub.publisher` on one topic some function sends to (a topic or a queue:
    both are Pub/Sub topics here): named like the topic when the functions share the app's account (which may then
    publish to the topics any of them declares; each function's own declaration is enforced at run time), else
    `<topic>/<account id>`, one for each function that sends to it."""

    kind = "topic publisher grant"
    waits_for_kinds = NEW_ACCOUNT
    topic: str = ""  # projects/P/topics/T
    member: str = ""  # serviceAccount:EMAIL
    role: str = "roles/pubsub.publisher"


@dataclass(frozen=True)
class DelayQueue(Resource):
    """The Cloud Tasks queue (`<app>-<stage>-pfn-delays`) holding the app's delayed sends to its queues until
    they are due, each a task that publishes to the queue's topic. Wanted when some function sends to a queue.
    Cloud Tasks keeps a deleted queue's name for up to 3 days, so a queue removed is not made again under that
    name until then (the create says so)."""

    kind = "cloud tasks queue"


@dataclass(frozen=True)
class EnqueuerGrant(Resource):
    """A runtime account holding `roles/cloudtasks.enqueuer` on the delay queue, named like the queue (or
    `<queue>/<account id>` for a function's own account): what a function needs to create a delayed send's task
    there."""

    kind = "delay enqueuer grant"
    waits_for_kinds = NEW_ACCOUNT
    queue: str = ""  # projects/P/locations/L/queues/Q
    member: str = ""
    role: str = "roles/cloudtasks.enqueuer"


@dataclass(frozen=True)
class TokenGrant(Resource):
    """The app's service account holding `roles/iam.serviceAccountUser` on itself, named after its email: a delayed
    send's task publishes with an OAuth token of that account, and Cloud Tasks takes such a task only from who may
    act as it. `remove` takes it back, unless a function of another app or stage still sends later as that
    account (`shared_with`, found when read, names it)."""

    kind = "token account user grant"
    waits_for_kinds = NEW_ACCOUNT
    ignore_on_compare = frozenset({"shared_with"})
    member: str = ""
    role: str = "roles/iam.serviceAccountUser"
    shared_with: str = ""

    def kept_because(self) -> str | None:
        if not self.shared_with:
            return None
        return (
            f"function {self.shared_with} still sends later as {self.name}; take the role back by hand once nothing "
            f"does: gcloud iam service-accounts remove-iam-policy-binding {self.name} --member={self.member} "
            f"--role={self.role}"
        )


@dataclass(frozen=True)
class Bucket(Resource):
    """A Cloud Storage bucket a storage trigger watches or a function declares (`uses=[uploads.read()]`) and the
    app owns (not one the settings map to an existing bucket), with uniform bucket-level access and public access
    prevention. Its location cannot change once made, so it is never compared; `objects` is what remote found, so
    `remove` keeps a bucket holding any unless told `--delete-data`, which empties it first."""

    kind = "storage bucket"
    ignore_on_compare = frozenset({"location", "audit_labels", "objects"})
    location: str = ""
    tags: Pairs = ()  # the user's labels (`portable_fn.deploy.tags`), beside portable-fn's own
    audit_labels: Pairs = ()  # the audit trail's, kept when the labels are set again
    objects: bool = False

    def holds_data(self) -> bool:
        return self.objects


@dataclass(frozen=True)
class BucketGrant(Resource):
    """A runtime account holding `role` in one Cloud Storage bucket's own IAM policy (uniform bucket-level
    access, so the binding covers every object of that bucket and nothing else), for a function that declares
    the bucket: roles/storage.objectViewer when it only reads it (`.read()`), roles/storage.objectUser when it
    writes it (`.write()`). Named like the bucket when the functions share the app's account, else
    `<bucket>/<account id>`. A bucket the settings map to an existing one is granted on too (never made or
    deleted)."""

    kind = "bucket access grant"
    waits_for_kinds = NEW_ACCOUNT
    bucket: str = ""  # the bucket's name
    member: str = ""  # serviceAccount:EMAIL
    role: str = ""


@dataclass(frozen=True)
class StateDatabase(Resource):
    """The Firestore database (native mode) of one state, named `<app>-<stage>-<state>`, holding the state in
    its one collection (`items`) with a TTL policy on `expires_at`, so Firestore deletes expired records
    itself (a day or so late; reads check expiry in code). Its location cannot change once made, so it is
    never compared; `documents` is what remote found, so `remove` keeps a database that holds any unless
    told `--delete-data`."""

    kind = "firestore database"
    ignore_on_compare = frozenset({"location", "documents"})
    location: str = ""
    ttl: bool = True
    documents: bool = False

    def holds_data(self) -> bool:
        return self.documents


@dataclass(frozen=True)
class StateGrant(Resource):
    """A runtime account holding `role` (roles/datastore.user to write, roles/datastore.viewer to read) on the
    project, under an IAM condition that limits it to one state's database (`resource.name ==
    "projects/P/databases/D"`), named after that database (`<database>/<account id>` for a function's own
    account): Firestore has no IAM policy of its own below the project, and a database is the smallest thing a
    condition can name."""

    kind = "state access grant"
    waits_for_kinds = NEW_ACCOUNT
    project: str = ""
    database: str = ""  # projects/P/databases/D
    member: str = ""  # serviceAccount:EMAIL
    role: str = ""

    @property
    def condition(self) -> dict[str, str]:
        return {
            "title": f"portable-fn {self.name}"[:100],
            "description": "portable-fn: this state's database only",
            "expression": f'resource.name == "{self.database}"',
        }


@dataclass(frozen=True)
class SecretContainer(Resource):
    """The Secret Manager secret of one declared secret, `<app>-<stage>-<name>`, replicated automatically and
    labelled: the container whose versions `portable-fn secrets set` adds and the functions read (deploy never
    reads or writes a value). It may exist before the first deploy (a `secrets set` made it): then it is found
    and kept. Its value is the user's data, so `remove` keeps it unless told `--delete-data`."""

    kind = "secret manager secret"
    ignore_on_compare = frozenset({"audit_labels"})
    tags: Pairs = ()  # the user's labels (`portable_fn.deploy.tags`), beside portable-fn's own
    audit_labels: Pairs = ()  # the audit trail's, kept when the labels are set again

    def holds_data(self) -> bool:
        return True


@dataclass(frozen=True)
class SecretGrant(Resource):
    """`roles/secretmanager.secretAccessor` on one secret, in that secret's own IAM policy, for the runtime
    accounts of exactly the functions that declare reading it (`members`), named like the secret. Deploy owns
    the role's service account members on the app's own secrets: one found there that no function reads as is
    taken out. `readers` pairs each such function with its member (what `grants` shows; not compared, as the
    binding says nothing of functions)."""

    kind = "secret accessor grant"
    waits_for_kinds = NEW_ACCOUNT
    ignore_on_compare = frozenset({"readers"})
    secret: str = ""  # projects/P/secrets/S
    members: tuple[str, ...] = ()  # serviceAccount:EMAIL, sorted
    role: str = "roles/secretmanager.secretAccessor"
    readers: Pairs = ()  # (function name, member)


@dataclass(frozen=True)
class Function(Resource):
    """A Cloud Functions (2nd gen) function, named by its id. `source_sha` is kept in a label, since
    the stored source object changes with every upload; `state` is "ACTIVE" when desired, so a function
    a failed deploy left FAILED is updated again. An empty `event_type` means an HTTP function. Its
    create or update waits for a storage agent grant this run makes (Eventarc refuses a storage trigger
    until the grant reaches it)."""

    kind = "cloud function"
    waits_for_kinds = frozenset({"storage agent publisher grant", "service account"})
    ignore_on_compare = frozenset({"zip_path", "url", "service", "audit_labels"})
    runtime: str = ""
    entry_point: str = ""
    memory_mb: int = 256
    timeout_s: int = 60
    env: Pairs = ()
    min_instances: int = 0
    max_instances: int = 100
    service_account: str = ""
    ingress: str = "ALLOW_ALL"
    event_type: str = ""
    pubsub_topic: str = ""
    event_filters: Pairs = ()
    retry_policy: str = ""
    source_sha: str = ""
    state: str = "ACTIVE"
    zip_path: str = ""
    url: str = ""
    service: str = ""
    tags: Pairs = ()  # the user's labels (`portable_fn.deploy.tags`), beside portable-fn's own
    audit_labels: Pairs = ()  # the audit trail's, kept when the labels are set again


# What changes through a new upload rather than the function's configuration.
SOURCE_FIELDS = frozenset({"source_sha"})


@dataclass(frozen=True)
class PublicInvoker(Resource):
    """`allUsers` holding `roles/run.invoker` on the Cloud Run service behind an HTTP function (named
    after the function's id): what makes `http(..., public=True)` reachable without a token, and a route that
    verifies its callers itself (`auth=jwt(...)`, `auth=api_key(...)`: `Http.open_at_edge`) reachable by them."""

    kind = "public invoker"
    member: str = "allUsers"
    role: str = "roles/run.invoker"


@dataclass(frozen=True)
class TriggerInvoker(Resource):
    """The app's service account (`service_account`, the trigger's identity) holding `roles/run.invoker` on the
    Cloud Run service behind an event function, named after the function's id: Eventarc calls the function
    as that account. Only wanted when the app names its own account; the binding goes with the function."""

    kind = "trigger invoker grant"
    waits_for_kinds = NEW_ACCOUNT
    member: str = ""  # serviceAccount:EMAIL
    role: str = "roles/run.invoker"


@dataclass(frozen=True)
class EventReceiverGrant(Resource):
    """The app's service account holding `roles/eventarc.eventReceiver` on the project, named after the
    account's email: an Eventarc trigger on Cloud Storage events receives them as that account (a Pub/Sub
    trigger needs no such role). Wanted when the app names its own account and has a storage trigger;
    `remove` takes it back, unless a function of another app or stage in the region still uses the account
    for such a trigger (`shared_with`, found when read, names it)."""

    kind = "event receiver grant"
    waits_for_kinds = NEW_ACCOUNT
    ignore_on_compare = frozenset({"shared_with"})
    project: str = ""
    role: str = "roles/eventarc.eventReceiver"
    shared_with: str = ""

    def kept_because(self) -> str | None:
        if not self.shared_with:
            return None
        return (
            f"function {self.shared_with} still uses {self.name} for its trigger; take the role back by hand "
            f"once nothing does: gcloud projects remove-iam-policy-binding {self.project} "
            f"--member=serviceAccount:{self.name} --role={self.role}"
        )


@dataclass(frozen=True)
class SchedulerJob(Resource):
    """A Cloud Scheduler job publishing a tick to the function's topic; named after the function."""

    kind = "scheduler job"
    schedule: str = ""
    time_zone: str = "Etc/UTC"
    topic: str = ""  # full path, projects/P/topics/T
    data: str = ""  # the message body, canonical JSON
    description: str = ""


@dataclass(frozen=True)
class DeadLetterRoute(Resource):
    """How a function's events reach its dead-letter topic; named after the function's id.

    `publisher` (the function's runtime service account, "" for Google's default one, found when
    applied) holds `roles/pubsub.publisher` on `dead_letter_topic`, so the shim can publish what the
    handler gave up on. For an event function that retries (`trigger_source` set: the trigger's topic
    path, or `gs://BUCKET` for a storage trigger; `max_delivery_attempts` > 0) the Pub/Sub subscription
    Eventarc made for its trigger (for a storage trigger, on Eventarc's own transport topic) also gets a
    dead-letter policy, so a message that keeps failing moves there after that many attempts, and the
    retry policy of the function's backoff (`minimum_backoff_s`, `maximum_backoff_s`); the Pub/Sub
    service agent gets the publisher and subscriber roles that policy needs."""

    kind = "dead-letter route"
    waits_for_kinds = NEW_ACCOUNT
    dead_letter_topic: str = ""  # full path, projects/P/topics/T
    publisher: str = ""
    trigger_source: str = ""  # projects/P/topics/T, or gs://BUCKET
    max_delivery_attempts: int = 0
    minimum_backoff_s: int = 0  # the subscription's retryPolicy (Pub/Sub allows 0 to 600 s), when it retries
    maximum_backoff_s: int = 0
    granted: bool = True  # False when read back without the publisher binding


@dataclass(frozen=True)
class DeadLetterSubscription(Resource):
    """A pull subscription on a dead-letter topic, named like the topic: a Pub/Sub topic keeps nothing by
    itself, so without one what reaches the topic is lost. It keeps messages for `retention_s` (Pub/Sub's
    most, 7 days) and never expires; `portable-fn dead-letters` pulls from it, `--redrive` acks what it sent
    back. `remove` deletes it with the topic, and the dead letters in it."""

    kind = "dead-letter subscription"
    ignore_on_compare = frozenset({"audit_labels"})
    topic: str = ""  # full path, projects/P/topics/T
    retention_s: int = 7 * 24 * 3600
    tags: Pairs = ()  # the user's labels (`portable_fn.deploy.tags`), beside portable-fn's own
    audit_labels: Pairs = ()  # the audit trail's, kept when the labels are set again


@dataclass(frozen=True)
class StorageAgentGrant(Resource):
    """The project's Cloud Storage service agent (`service-<project number>@gs-project-accounts...`)
    holding `roles/pubsub.publisher` on the project, named after the project: Eventarc's Cloud Storage
    triggers need it, since the agent publishes the bucket's notifications to Pub/Sub. Wanted when the app
    has a storage trigger. `member` is filled in when read (or applied), so it is never compared.

    Deploy adds the binding but never takes it away: it is project-wide, and other apps, stages or
    tools may rely on it, so plans keep it (`kept_because`) and `remove` says how to drop it by hand."""

    kind = "storage agent publisher grant"
    ignore_on_compare = frozenset({"member"})
    member: str = ""

    def kept_because(self) -> str:
        member = self.member or f"serviceAccount:service-PROJECT_NUMBER@{AGENT_DOMAIN}"
        return (
            f"it is project-wide and may be shared; if nothing in project {self.name} needs it any more: "
            f"{gcloud('remove', self.name, member)}"
        )


AGENT_DOMAIN = "gs-project-accounts.iam.gserviceaccount.com"  # the Cloud Storage service agents' domain


def gcloud(verb: str, project: str, member: str) -> str:
    """The gcloud command that adds (`add`) or removes (`remove`) the storage agent's binding by hand."""
    return f"gcloud projects {verb}-iam-policy-binding {project} --member={member} --role=roles/pubsub.publisher"


# Dependencies first: the order `desired` lists resources in and `remote` reads them in (the planner
# deletes in reverse order of what was read, so dependents go before what they depend on). The storage
# agent's grant and the event receiver grant come before the functions whose storage triggers need them; a
# topic or queue before the grants on it.
ORDER: tuple[type[Resource], ...] = (
    ServiceAccount,
    LeftoverBinding,
    StorageAgentGrant,
    EventReceiverGrant,
    Topic,
    PublisherGrant,
    DelayQueue,
    EnqueuerGrant,
    TokenGrant,
    Bucket,
    BucketGrant,
    StateDatabase,
    StateGrant,
    SecretContainer,
    SecretGrant,
    Function,
    DeadLetterRoute,
    DeadLetterSubscription,
    PublicInvoker,
    TriggerInvoker,
    SchedulerJob,
)


# Kinds only ever read, never desired (so not in ORDER, nor exported), each sorted as the kind it stands beside.
READ_ONLY: dict[type[Resource], type[Resource]] = {UnreadBindings: LeftoverBinding}


def in_order(resources: list[Resource]) -> list[Resource]:
    """`resources` sorted by `ORDER` (stable within a type), first occurrence of each key kept."""
    seen: dict[tuple[str, str], Resource] = {}
    for resource in sorted(resources, key=lambda r: ORDER.index(READ_ONLY.get(type(r), type(r)))):
        seen.setdefault(resource.key, resource)
    return list(seen.values())

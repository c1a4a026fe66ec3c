"""Reading what an app and stage already have on Google Cloud: found by labels, never by a local file.

Functions are listed with a label filter (and their labels checked again here), topics and buckets are
listed and their labels checked, Cloud Scheduler jobs (which have no labels) are matched by the marker in their
description, and each HTTP function's Cloud Run service is asked for its IAM policy to see whether the
public invoker binding is there. A function deployed with a dead-letter topic has its route read from
the topic's IAM policy and its trigger subscription's dead-letter policy (`routes`). Only get_*/list_*
calls are made here.

The service accounts deploy made for the functions are listed and found by the marker in their description
(unless every function runs as the app's `service_account`, and did already). The grants below are read for
the accounts the functions run as (the app's, or each function's own, and those found): the delivery grants
`roles/run.invoker` on each event function's Cloud Run service, and for a storage trigger
`roles/eventarc.eventReceiver` on the project (with the function of another app or stage that still relies on
it, if any, so `remove` keeps it then).

A state's Firestore database is found by its name (`<app>-<stage>-`: databases carry no labels), with its TTL
policy (the `expires_at` field of the `items` collection group) and whether its collection holds any
document (a one-document page), so `remove` keeps one with data. Only an app that uses a state has them read,
so an app without one needs no Firestore API (the database of a state the app no longer uses is found, by
its prefix, while it uses another). The app's account's conditional grants on
them are read from the project's IAM policy (version 3, where conditions are kept).

Sending has its grants read only where there is reason to: the accounts' publisher bindings on each
topic the app sends to or a deployed function of it was told of (`PORTABLE_FN_TOPIC_*`/`PORTABLE_FN_QUEUE_*`),
and the Cloud Tasks delay queue (found by its name: queues carry no labels), its enqueuer binding and the
account's binding on itself when the app sends to a queue or a deployed function was told of the queue
(`PORTABLE_FN_DELAY_QUEUE`), so an app that sends nothing never asks Cloud Tasks or IAM. The account's binding
on itself names the function of another app or stage that still sends later as it, if any, so `remove` keeps it.

A declared secret's Secret Manager secret is found by its name (`<app>-<stage>-`, listed with a `name:` filter)
and its labels, with the service accounts holding roles/secretmanager.secretAccessor in its policy; only when the
app declares a secret or a deployed function of it was told where they are (`PORTABLE_FN_SECRETS`), so an app
without one never asks Secret Manager. A secret no function declares any more is found, and kept by `remove`
(`SecretContainer.holds_data`).

The Cloud Storage service agent's publisher grant on the project (`storage_agent`) is read for an app with
a storage trigger; plans never delete it (`StorageAgentGrant.kept_because`: it is project-wide), so
`remove` lists it as kept. A policy Google refuses to show (403) reads as no grant: deploy then tries to
make it, and explains.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from portable_fn.deploy import RemoteState, Resource
from portable_fn.deploy.tags import audit_tags, user_tags
from portable_fn.runtime.channels import QUEUE, TOPIC, locator_env

from ..publish import DELAY_ACCOUNT_ENV, DELAY_QUEUE_ENV
from ..secrets import LOCATOR_ENV as SECRETS_ENV
from ..settings import GcpSettings
from ..state import EXPIRES_AT
from .client import Forbidden, GcpClient, NotFound
from .desired import DEAD_LETTER_ENV, MESSAGE_PUBLISHED
from .errors import not_enabled
from .naming import LABEL_SOURCE, STATE_COLLECTION, Names, grant_name, has_labels, labels
from .resources import (
    Bucket,
    DeadLetterRoute,
    DeadLetterSubscription,
    DelayQueue,
    EnqueuerGrant,
    EventReceiverGrant,
    Function,
    Pairs,
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
from .routes import POLICY_V3, PUBLISHER, has_member, short, trigger_subscription, unconditional
from .storage_agent import holds_publisher, storage_agent

INVOKER_ROLE, ALL_USERS = "roles/run.invoker", "allUsers"
CHANNEL_ENVS = (locator_env(TOPIC, ""), locator_env(QUEUE, ""))  # PORTABLE_FN_TOPIC_, PORTABLE_FN_QUEUE_
_MEMORY = re.compile(r"(\d+)\s*(Ki|Mi|Gi|k|M|G)?\Z")
_MB = {
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "k": 1 / 1048.576,
    "M": 1 / 1.048576,
    "G": 1000 / 1.048576,
    None: 1 / 1048576,
}


def trigger_source(found: Any) -> str:
    """What a deployed function's trigger listens to: its topic's path, or `gs://BUCKET` (as `desired` says it)."""
    trigger = found.event_trigger
    bucket = next((f.value for f in trigger.event_filters if f.attribute == "bucket"), "")
    return str(trigger.pubsub_topic) or (f"gs://{bucket}" if bucket else "")


def sent_to(variable: str) -> bool:
    """Whether an environment variable is a channel's locator (`PORTABLE_FN_TOPIC_X`, `PORTABLE_FN_QUEUE_X`)."""
    return variable.startswith(CHANNEL_ENVS)


def memory_mb(text: str) -> int:
    """MB (MiB) from Cloud Functions' availableMemory ("256Mi", "1Gi", "256M"); 0 when unreadable."""
    found = _MEMORY.match(text.strip())
    return round(int(found.group(1)) * _MB[found.group(2)]) if found else 0


class RemoteReader:
    """Reads one app and stage's resources into a `RemoteState`, in dependency order."""

    def __init__(
        self,
        gcp: GcpClient,
        names: Names,
        settings: GcpSettings,
        storage_agent: bool = False,
        event_receiver: bool = False,
        states: bool = False,
        channels: frozenset[str] = frozenset(),
        delays: bool = False,
        secrets: Mapping[str, Pairs] | None = None,
        accounts: frozenset[str] = frozenset(),
    ) -> None:
        self.gcp = gcp
        self.names = names
        self.settings = settings
        self.storage_agent = storage_agent  # whether the app wants the storage agent's grant (desired)
        self.event_receiver = event_receiver  # whether it wants its account's event receiver grant (desired)
        self.states = states  # whether it uses a state: else Firestore is never asked (its API may be off)
        self.channels = channels  # the topics the app sends to (desired)
        self.delays = delays  # whether it sends to a queue (desired): else Cloud Tasks is asked only if it did
        self.secrets = secrets or {}  # each declared secret's id -> its readers and their members (desired)
        self.accounts = set(accounts)  # the accounts the functions run as (desired); `read` adds those found
        self.shared = bool(settings.service_account)

    def read(self) -> RemoteState:
        found = self.found_functions()
        functions = [self.function(f) for f in found]
        # the functions' own accounts, looked for unless they all run as the app's (and did already)
        switched = any(f.service_account != self.settings.service_account for f in functions)
        accounts = self.service_accounts() if not self.shared or switched else []
        self.accounts |= {self.names.account_email(a.name) for a in accounts}  # made by deploy, still granted
        topics = self.topics()
        resources: list[Resource] = [
            *accounts,
            *self.storage_agent_grant(),
            *self.event_receiver_grant(),
            *topics,
            *self.publisher_grants(topics, found),
            *self.delay_resources(found),
            *self.buckets(),
        ]
        databases = self.state_databases()
        resources += [*databases, *self.state_grants(databases), *self.secret_resources(found), *functions]
        resources += self.invokers([f for f in functions if not f.event_type and f.service])
        resources += self.trigger_invokers([f for f in functions if f.event_type and f.service])
        routes = [route for f in found if (route := self.dead_letter_route(f)) is not None]
        resources += [*routes, *self.dead_letter_subscriptions(routes)]
        resources += self.jobs()
        return RemoteState(in_order(resources))

    def storage_agent_grant(self) -> list[StorageAgentGrant]:
        """The grant when the app wants it and the project's policy has it."""
        if not self.storage_agent:
            return []
        project = self.names.project
        try:
            member = storage_agent(self.gcp, project, self.settings.project_number)
            held = holds_publisher(self.gcp, project, member)
        except Forbidden:  # cannot tell: deploy tries to grant it and explains a refusal
            return []
        return [StorageAgentGrant(project, member=member)] if held else []

    def service_accounts(self) -> list[ServiceAccount]:
        """The accounts deploy made for the app and stage's functions (by the marker in their description)."""
        try:
            found = self.gcp.call("iam", "list_service_accounts", request={"name": f"projects/{self.names.project}"})
        except Forbidden:  # cannot tell: deploy tries to make them and explains a refusal
            return []
        return [
            ServiceAccount(a["email"].split("@", 1)[0], display_name=a.get("displayName", ""), description=marker)
            for a in found
            if (marker := a.get("description", "")) == self.names.account_marker
        ]

    def event_receiver_grant(self) -> list[EventReceiverGrant]:
        """The event receiver grant of each of the app's accounts that holds it, when the app wants it."""
        project = self.names.project
        if not self.event_receiver:
            return []
        try:
            policy = self.gcp.call(
                "resourcemanager", "get_iam_policy", request={"resource": f"projects/{project}", "options": POLICY_V3}
            )
        except Forbidden:  # cannot tell: deploy tries to grant it and explains a refusal
            return []
        return [
            EventReceiverGrant(account, project=project, shared_with=self.receiving_elsewhere(account))
            for account in sorted(self.accounts)
            if has_member(policy, EventReceiverGrant.role, f"serviceAccount:{account}")
        ]

    def receiving_elsewhere(self, account: str) -> str:
        """A function of another app or stage in the region whose Eventarc trigger (other than Pub/Sub's)
        receives events as `account`; '' when there is none."""
        for found in self.gcp.pages("functions", "list_functions", request={"parent": self.names.location}):
            trigger = found.event_trigger
            if (
                "event_trigger" in found
                and trigger.service_account_email == account
                and trigger.event_type != MESSAGE_PUBLISHED
                and not has_labels(dict(found.labels), self.names.app, self.names.stage)
            ):
                return short(found.name)
        return ""

    def publisher_grants(self, topics: list[Topic], found: list[Any]) -> list[PublisherGrant]:
        """The app's account's publisher binding on each topic it sends to, or a deployed function was told of."""
        told = {short(v) for f in found for k, v in f.service_config.environment_variables.items() if sent_to(k)}
        out = []
        for topic in (t for t in topics if t.name in self.channels | told):
            path = self.names.topic_path(topic.name)
            policy = self.gcp.call("pubsub", "get_iam_policy", request={"resource": path})
            for account in sorted(self.accounts):
                if has_member(policy, PublisherGrant.role, member := f"serviceAccount:{account}"):
                    name = grant_name(topic.name, account, self.shared)
                    out.append(PublisherGrant(name, topic=path, member=member))
        return out

    def delay_resources(self, found: list[Any]) -> list[Resource]:
        """The delay queue, its enqueuer binding and the account's binding on itself, when the app sends to a queue
        or a deployed function of it was told of the queue."""
        told = any(DELAY_QUEUE_ENV in f.service_config.environment_variables for f in found)
        if not (self.delays or told):
            return []
        queue = self.names.delay_queue
        path = self.names.queue_path(queue)
        out: list[Resource] = []
        try:
            self.gcp.call("tasks", "get_queue", request={"name": path})
            out.append(DelayQueue(queue))
        except NotFound:
            pass
        except Forbidden as exc:  # most often: the app's first queue, in a project without the Cloud Tasks API
            if (disabled := not_enabled(exc, self.names.project)) is None:
                raise
            raise disabled from exc
        policy = self.iam_policy("tasks", path) if out else None
        delaying = {f.service_config.environment_variables.get(DELAY_ACCOUNT_ENV) for f in found}
        for account in sorted(self.accounts):
            member = f"serviceAccount:{account}"
            if policy is not None and has_member(policy, EnqueuerGrant.role, member):
                out.append(EnqueuerGrant(grant_name(queue, account, self.shared), queue=path, member=member))
            if (self.shared or account in delaying) and self.account_holds_itself(account, member):
                out.append(TokenGrant(account, member=member, shared_with=self.delaying_elsewhere(account)))
        return out

    def account_holds_itself(self, account: str, member: str) -> bool:
        """Whether `account` may act as itself, asked of the shared account and of those a deployed function sends
        later as (one deploy made may be gone already: then it holds nothing)."""
        try:
            return has_member(self.iam_policy("iam", self.names.account_path(account)), TokenGrant.role, member)
        except NotFound:
            return False

    def iam_policy(self, service: str, resource: str) -> Any:
        return self.gcp.call(service, "get_iam_policy", request={"resource": resource})

    def delaying_elsewhere(self, account: str) -> str:
        """A function of another app or stage in the region that sends later as `account`; '' when none does."""
        for found in self.gcp.pages("functions", "list_functions", request={"parent": self.names.location}):
            env = found.service_config.environment_variables
            if env.get(DELAY_ACCOUNT_ENV) == account and not has_labels(
                dict(found.labels), self.names.app, self.names.stage
            ):
                return short(found.name)
        return ""

    def state_databases(self) -> list[StateDatabase]:
        """The app and stage's state databases (by name), each with its TTL policy and whether it holds data."""
        if not self.states:
            return []
        prefix, project = self.names.database_prefix, f"projects/{self.names.project}"
        try:
            found = self.gcp.call("firestore", "list_databases", request={"parent": project}).databases
        except Forbidden as exc:  # most often: the app's first state, in a project without the Firestore API
            if (disabled := not_enabled(exc, self.names.project)) is None:
                raise
            raise disabled from exc
        return [self.state_database(d) for d in found if short(d.name).startswith(prefix)]

    def state_database(self, found: Any) -> StateDatabase:
        field = f"{found.name}/collectionGroups/{STATE_COLLECTION}/fields/{EXPIRES_AT}"
        try:
            ttl = self.gcp.call("firestore", "get_field", request={"name": field}).ttl_config.state.name
        except NotFound:
            ttl = ""
        request = {"parent": f"{found.name}/documents", "collection_id": STATE_COLLECTION, "page_size": 1}
        documents = any(True for _ in self.gcp.call("documents", "list_documents", request=request))
        return StateDatabase(
            short(found.name),
            location=found.location_id,
            ttl=ttl in ("CREATING", "ACTIVE"),
            documents=documents,
        )

    def state_grants(self, databases: list[StateDatabase]) -> list[StateGrant]:
        """The app's account's grants limited to one of `databases` (by the condition deploy writes)."""
        if not databases:
            return []
        project = self.names.project
        try:
            policy = self.gcp.call(
                "resourcemanager", "get_iam_policy", request={"resource": f"projects/{project}", "options": POLICY_V3}
            )
        except Forbidden:  # cannot tell: deploy tries to grant and explains a refusal
            return []
        out = []
        for database, account in ((d, a) for d in databases for a in sorted(self.accounts)):
            name, member = grant_name(database.name, account, self.shared), f"serviceAccount:{account}"
            wanted = StateGrant(name, project=project, database=self.names.database_path(database.name))
            for binding in policy.bindings:
                expression = f'resource.name == "{wanted.database}"'
                if member in binding.members and binding.condition.expression == expression:
                    out.append(replace(wanted, member=member, role=binding.role))
        return out

    def secret_resources(self, found: list[Any]) -> list[Resource]:
        """The app and stage's secrets (by prefix and labels) and the service accounts holding the accessor role on
        each, when the app declares a secret or a deployed function of it was told where they are."""
        told = any(SECRETS_ENV in f.service_config.environment_variables for f in found)
        if not (self.secrets or told):
            return []
        prefix, out = self.names.secret(""), []
        request = {"parent": f"projects/{self.names.project}", "filter": f"name:{prefix}"}
        for secret in self.gcp.pages("secretmanager", "list_secrets", request=request):
            secret_id, found_labels = short(secret.name), dict(secret.labels)
            if secret_id.startswith(prefix) and has_labels(found_labels, self.names.app, self.names.stage):
                tags, audit = user_tags(found_labels), audit_tags(found_labels)
                out += [SecretContainer(secret_id, tags=tags, audit_labels=audit), *self.secret_grant(secret_id)]
        return out

    def secret_grant(self, secret_id: str) -> list[SecretGrant]:
        """The accessor role's service accounts on one secret, each paired with the function declared to read as it
        ('' for one no function does)."""
        path = self.names.secret_path(secret_id)
        policy = self.iam_policy("secretmanager", path)
        held = {m for b in unconditional(policy) if b.role == SecretGrant.role for m in b.members}
        members = tuple(sorted(m for m in held if m.startswith("serviceAccount:")))
        if not members:
            return []
        declared = [(fn, m) for fn, m in self.secrets.get(secret_id, ()) if m in members]
        readers = tuple(sorted({*declared, *(("", m) for m in members if m not in {m for _, m in declared})}))
        return [SecretGrant(secret_id, secret=path, members=members, readers=readers)]

    def functions(self) -> list[Function]:
        return [self.function(f) for f in self.found_functions()]

    def found_functions(self) -> list[Any]:
        """The app and stage's functions as Google describes them."""
        wanted = labels(self.names.app, self.names.stage)
        query = " AND ".join(f'labels.{key}="{value}"' for key, value in wanted.items())
        found = self.gcp.pages("functions", "list_functions", request={"parent": self.names.location, "filter": query})
        return [f for f in found if has_labels(dict(f.labels), self.names.app, self.names.stage)]

    def dead_letter_route(self, found: Any) -> DeadLetterRoute | None:
        """The route of a function deployed with a dead-letter topic (None without one)."""
        service = found.service_config
        topic = service.environment_variables.get(DEAD_LETTER_ENV, "")
        if not topic:
            return None
        account = service.service_account_email
        try:
            policy = self.gcp.call("pubsub", "get_iam_policy", request={"resource": topic})
            granted = has_member(policy, PUBLISHER, f"serviceAccount:{account}")
        except NotFound:  # the topic is gone
            granted = False
        subscription = trigger_subscription(self.gcp, found)
        dead_letter = None
        if subscription:
            dead_letter = self.gcp.call(
                "subscriber", "get_subscription", request={"subscription": subscription}
            ).dead_letter_policy
        routed = dead_letter is not None and dead_letter.dead_letter_topic == topic
        minimum, maximum = self.backoff_s(subscription) if routed else (0, 0)
        return DeadLetterRoute(
            short(found.name),
            dead_letter_topic=topic,
            publisher=account,
            trigger_source=trigger_source(found) if routed else "",
            max_delivery_attempts=dead_letter.max_delivery_attempts if routed and dead_letter else 0,
            minimum_backoff_s=minimum,
            maximum_backoff_s=maximum,
            granted=granted,
        )

    def backoff_s(self, subscription: str) -> tuple[int, int]:
        """The subscription's retry policy as whole seconds ((0, 0) without one)."""
        found = self.gcp.call("subscriber", "get_subscription", request={"subscription": subscription})
        if "retry_policy" not in found:
            return 0, 0
        policy = found.retry_policy
        return round(policy.minimum_backoff.total_seconds()), round(policy.maximum_backoff.total_seconds())

    def dead_letter_subscriptions(self, routes: list[DeadLetterRoute]) -> list[DeadLetterSubscription]:
        """The app and stage's pull subscription on each dead-letter topic its functions name (by labels)."""
        out: list[DeadLetterSubscription] = []
        for topic in sorted({route.dead_letter_topic for route in routes}):
            path = self.names.subscription_path(short(topic))
            try:
                found = self.gcp.call("subscriber", "get_subscription", request={"subscription": path})
            except NotFound:
                continue
            if has_labels(dict(found.labels), self.names.app, self.names.stage):
                retention = round(found.message_retention_duration.total_seconds())
                out.append(
                    DeadLetterSubscription(
                        short(path),
                        topic=found.topic,
                        retention_s=retention,
                        tags=user_tags(dict(found.labels)),
                        audit_labels=audit_tags(dict(found.labels)),
                    )
                )
        return out

    def function(self, found: Any) -> Function:
        build, service, trigger = found.build_config, found.service_config, found.event_trigger
        event_type = trigger.event_type if "event_trigger" in found else ""
        return Function(
            short(found.name),
            runtime=build.runtime,
            entry_point=build.entry_point,
            memory_mb=memory_mb(service.available_memory),
            timeout_s=service.timeout_seconds,
            env=tuple(sorted(service.environment_variables.items())),
            min_instances=service.min_instance_count,
            max_instances=service.max_instance_count,
            service_account=service.service_account_email,
            ingress=service.ingress_settings.name,
            event_type=event_type,
            pubsub_topic=trigger.pubsub_topic if event_type else "",
            event_filters=tuple(sorted((f.attribute, f.value) for f in trigger.event_filters)) if event_type else (),
            retry_policy=trigger.retry_policy.name if event_type else "",
            source_sha=found.labels.get(LABEL_SOURCE, ""),
            state=found.state.name,
            url=found.url or service.uri,
            service=service.service,
            tags=user_tags(dict(found.labels)),
            audit_labels=audit_tags(dict(found.labels)),
        )

    def topics(self) -> list[Topic]:
        project = f"projects/{self.names.project}"
        found = self.gcp.pages("pubsub", "list_topics", request={"project": project})
        return [
            Topic(short(t.name), tags=user_tags(dict(t.labels)), audit_labels=audit_tags(dict(t.labels)))
            for t in found
            if has_labels(dict(t.labels), self.names.app, self.names.stage)
        ]

    def buckets(self) -> list[Bucket]:
        found = self.gcp.pages("storage", "list_buckets", project=self.names.project)
        return [
            Bucket(
                b.name, location=(b.location or "").lower(), tags=user_tags(b.labels), audit_labels=audit_tags(b.labels)
            )
            for b in found
            if has_labels(dict(b.labels or {}), self.names.app, self.names.stage)
        ]

    def jobs(self) -> list[SchedulerJob]:
        found = self.gcp.pages("scheduler", "list_jobs", request={"parent": self.names.location})
        return [
            SchedulerJob(
                short(j.name),
                schedule=j.schedule,
                time_zone=j.time_zone,
                topic=j.pubsub_target.topic_name,
                data=j.pubsub_target.data.decode("utf-8"),
                description=j.description,
            )
            for j in found
            if j.description == self.names.job_marker
        ]

    def invokers(self, functions: list[Function]) -> list[PublicInvoker]:
        out = []
        for function in functions:
            try:
                policy = self.gcp.call("run", "get_iam_policy", request={"resource": function.service})
            except NotFound:
                continue
            if any(b.role == INVOKER_ROLE and ALL_USERS in b.members for b in policy.bindings):
                out.append(PublicInvoker(function.name))
        return out

    def trigger_invokers(self, functions: list[Function]) -> list[TriggerInvoker]:
        """The invoker binding on each event function's service for the account the function runs as."""
        out = []
        for function in functions:
            member = f"serviceAccount:{function.service_account}"
            try:
                policy = self.gcp.call("run", "get_iam_policy", request={"resource": function.service})
            except NotFound:
                continue
            if has_member(policy, INVOKER_ROLE, member):
                out.append(TriggerInvoker(function.name, member=member))
        return out

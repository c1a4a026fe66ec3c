"""Reading what an app and stage already have on Google Cloud: found by labels, never by a local file.

Functions are listed with a label filter (and their labels checked again here), topics and buckets are
listed and their labels checked, Cloud Scheduler jobs (which have no labels) are matched by the marker in their
description, and each HTTP function's Cloud Run service is asked for its IAM policy to see whether the
public invoker binding is there. A function deployed with a dead-letter topic has its route read from
the topic's IAM policy and its trigger subscription's dead-letter policy (`routes`). Only get_*/list_*
calls are made here.

The service accounts deploy made for the functions are listed and found by the marker in their description
(unless every function runs as the app's `service_account`, and did already). The grants below are read for
the accounts the functions run as (the app's, or each function's own), those found, and the accounts the
deployed functions run as (an earlier `service_account`; never Google's default compute account): so an account
the app switched away from is seen holding its grants, which go before a made account is deleted. A grant to the
app's `service_account` is named after what it is on, one to any other account after that and the account's id
(`grant_name`), so two found never share a name. Read: the delivery grants `roles/run.invoker` on each event
function's Cloud Run service, and `roles/eventarc.eventReceiver` on the project when the app has a storage
trigger, a deployed function has one, or an account read is no longer one the functions run as (with the
function of another app or stage that still relies on it, if any, so `remove` keeps it then).

A state's Firestore database is found by its name (`<app>-<stage>-`: databases carry no labels), with its TTL
policy (the `expires_at` field of the `items` collection group) and whether its collection holds any
document (a one-document page), so `remove` keeps one with data. Only an app that uses a state, or whose deployed
functions were told of one (`PORTABLE_FN_STATE_*`), has them read, so an app without one needs no Firestore API
(the database of a state the app no longer uses is found, by its prefix). The accounts' conditional grants are
read from the project's IAM policy (version 3, where conditions are kept): each binding whose condition names one
of the app and stage's databases (`resource.name == "projects/P/databases/<app>-<stage>-..."`, as deploy writes
it), whether or not the database is still there; also when an account read is no longer one the functions run as.
Other bindings, and other members of these, are never the app's, but one naming an account deploy made that no
function runs as any more (`LeftoverBinding`: a role granted it by hand): it goes before the account does. A policy
Google refuses (403) gives instead one `UnreadBindings` per such account, which plans keep and name. Read for
`remove` (`removing`), every account deploy made counts as going, so the plan it confirms lists these bindings
too; the delete of each account still takes back any binding naming it by then (`appliers.ServiceAccounts`).

Sending has its grants read only where there is reason to: the accounts' publisher bindings on each
topic the app sends to or a deployed function of it was told of (`PORTABLE_FN_TOPIC_*`/`PORTABLE_FN_QUEUE_*`),
and the Cloud Tasks delay queue (found by its name: queues carry no labels), its enqueuer binding and the
account's binding on itself when the app sends to a queue or a deployed function was told of the queue
(`PORTABLE_FN_DELAY_QUEUE`), so an app that sends nothing never asks Cloud Tasks or IAM. The account's binding
on itself names the function of another app or stage that still sends later as it, if any, so `remove` keeps it.

A labelled bucket is read with whether it holds any object (a one-object page), so `remove` keeps one holding
objects. The accounts' object roles are read from the own IAM policy of each bucket some function declares or a
deployed function of it was told of (`PORTABLE_FN_BUCKET_*`), a mapped existing bucket too; a bucket no function
declares or was told of has no grant of the app's read, so an app without declared buckets never asks for one.

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
from typing import Any

from portable_fn.deploy import RemoteState, Resource
from portable_fn.deploy.tags import audit_tags, user_tags
from portable_fn.runtime.buckets import locator_env as bucket_env
from portable_fn.runtime.channels import QUEUE, TOPIC, locator_env
from portable_fn.runtime.state import locator_env as state_env

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
    BucketGrant,
    DeadLetterRoute,
    DeadLetterSubscription,
    DelayQueue,
    EnqueuerGrant,
    EventReceiverGrant,
    Function,
    LeftoverBinding,
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
    UnreadBindings,
    in_order,
)
from .routes import POLICY_V3, PUBLISHER, bucket_binding, has_member, short, trigger_subscription, unconditional
from .storage_agent import storage_agent

INVOKER_ROLE, ALL_USERS = "roles/run.invoker", "allUsers"
CHANNEL_ENVS = (locator_env(TOPIC, ""), locator_env(QUEUE, ""))  # PORTABLE_FN_TOPIC_, PORTABLE_FN_QUEUE_
STATE_ENV = state_env("")  # PORTABLE_FN_STATE_
BUCKET_ENV = bucket_env("")  # PORTABLE_FN_BUCKET_
BUCKET_ROLES = ("roles/storage.objectViewer", "roles/storage.objectUser")  # what `desired` grants on a bucket
CONDITION = re.compile(r'resource\.name == "([^"]+)"')  # what a state grant's condition says (StateGrant)
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


def told_of_state(found: list[Any]) -> bool:
    """Whether a deployed function was told where a state is (`PORTABLE_FN_STATE_<NAME>`)."""
    return any(k.startswith(STATE_ENV) for f in found for k in f.service_config.environment_variables)


def condition_of(binding: Any) -> Pairs:
    """A conditional binding's condition as (field, value) pairs, as `LeftoverBinding` keeps it."""
    condition = binding.condition
    return (("title", condition.title), ("description", condition.description), ("expression", condition.expression))


def runs_as(found: Any) -> str:
    """A deployed function's account; for an event function whose trigger delivers as another (left by a switch of
    accounts that updated one and not the other), the trigger's, so the plan updates both to the one wanted."""
    account, trigger = found.service_config.service_account_email, found.event_trigger
    held = trigger.service_account_email if "event_trigger" in found else ""
    return held if held and held != account else account


def user_managed(account: str) -> bool:
    """Whether a deployed function's account is one a user or deploy made (`...iam.gserviceaccount.com`), not
    Google's default compute account, which the whole project shares and deploy never grants anything."""
    return account.endswith(".iam.gserviceaccount.com")


def sent_to(variable: str) -> bool:
    """Whether an environment variable is a channel's locator (`PORTABLE_FN_TOPIC_X`, `PORTABLE_FN_QUEUE_X`)."""
    return variable.startswith(CHANNEL_ENVS)


def backoff_s(subscription: Any) -> tuple[int, int]:
    """A subscription's retry policy as whole seconds ((0, 0) without one)."""
    if "retry_policy" not in subscription:
        return 0, 0
    policy = subscription.retry_policy
    return round(policy.minimum_backoff.total_seconds()), round(policy.maximum_backoff.total_seconds())


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
        removing: bool = False,
        buckets: frozenset[str] = frozenset(),
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
        self.wanted = frozenset(accounts)
        self.removing = removing  # read for `remove`, after which no function stays
        self.declared_buckets = buckets  # the buckets some function declares (desired), by their names
        self.shared = bool(settings.service_account)
        self._project_policy: Any = None
        self._region_functions: list[Any] | None = None

    def read(self) -> RemoteState:
        found = self.found_functions()
        functions = [self.function(f) for f in found]
        # the functions' own accounts, looked for unless they all run as the app's (and did already)
        switched = any(f.service_account != self.settings.service_account for f in functions)
        accounts = self.service_accounts() if not self.shared or switched else []
        made = {self.names.account_email(a.name) for a in accounts}
        self.accounts |= made  # made by deploy, still granted
        self.accounts |= {f.service_account for f in functions if user_managed(f.service_account)}  # an old app's
        if self.removing:  # every account deploy made goes: its grants and leftover bindings are read, and listed
            self.wanted -= made
        topics = self.topics()
        resources: list[Resource] = [
            *accounts,
            *self.leftover_bindings(made),
            *self.storage_agent_grant(),
            *self.event_receiver_grant(found),
            *topics,
            *self.publisher_grants(topics, found),
            *self.delay_resources(found),
            *self.buckets(),
            *self.bucket_grants(found),
        ]
        databases = self.state_databases(found)
        resources += [*databases, *self.state_grants(found), *self.secret_resources(found), *functions]
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
            held = has_member(self.project_policy(), PUBLISHER, member)
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

    def event_receiver_grant(self, found: list[Any]) -> list[EventReceiverGrant]:
        """The event receiver grant of each of the app's accounts that holds it, when the app wants it, a deployed
        function of it has a storage trigger, or an account that held it may be going (`orphaned`)."""
        project = self.names.project
        told = any("event_trigger" in f and f.event_trigger.event_type != MESSAGE_PUBLISHED for f in found)
        if not (self.event_receiver or told or self.orphaned()):
            return []
        try:
            policy = self.project_policy()
        except Forbidden:  # cannot tell: deploy tries to grant it and explains a refusal
            return []
        return [
            EventReceiverGrant(account, project=project, shared_with=self.receiving_elsewhere(account))
            for account in sorted(self.accounts)
            if has_member(policy, EventReceiverGrant.role, f"serviceAccount:{account}")
        ]

    def leftover_bindings(self, made: set[str]) -> list[LeftoverBinding | UnreadBindings]:
        """The project's bindings naming an account deploy made (`made`) that no function runs as any more, but those
        the grants read here stand for (a state's, the event receiver role); when Google refuses the policy, one
        `UnreadBindings` per such account, which the plan keeps and names."""
        going = sorted(made - self.wanted)
        if not going:
            return []
        project = self.names.project
        try:
            policy = self.project_policy()
        except Forbidden:  # cannot tell: the plan says which accounts may keep bindings once deleted
            return [UnreadBindings(a.split("@", 1)[0], project=project, member=f"serviceAccount:{a}") for a in going]
        out: list[LeftoverBinding | UnreadBindings] = []
        for binding, account in ((b, a) for b in policy.bindings for a in going):
            conditional, member = binding.HasField("condition"), f"serviceAccount:{account}"
            modelled = self.database_of(binding.condition.expression) or (
                binding.role == EventReceiverGrant.role and not conditional
            )
            if member in binding.members and not modelled:
                name = f"{account.split('@', 1)[0]}/{binding.role}" + (
                    f"/{binding.condition.title}" if conditional else ""
                )
                condition = condition_of(binding) if conditional else ()
                out.append(
                    LeftoverBinding(name, project=project, member=member, role=binding.role, condition=condition)
                )
        return out

    def orphaned(self) -> bool:
        """Whether an account the app's functions ran as is no longer one they run as: its grants are read wherever
        they may be, so they go (before the account, when deploy made it)."""
        return bool(self.accounts - self.wanted)

    def project_policy(self) -> Any:
        """The project's IAM policy (version 3, conditions kept), read once per read of the app."""
        if self._project_policy is None:
            request = {"resource": f"projects/{self.names.project}", "options": POLICY_V3}
            self._project_policy = self.gcp.call("resourcemanager", "get_iam_policy", request=request)
        return self._project_policy

    def region_functions(self) -> list[Any]:
        """Every function in the region, of any app, listed once per read of the app (asked of each account that
        may be shared with another app or stage)."""
        if self._region_functions is None:
            request = {"parent": self.names.location}
            self._region_functions = list(self.gcp.pages("functions", "list_functions", request=request))
        return self._region_functions

    def grant_name(self, thing: str, account: str) -> str:
        """A grant's name as `desired` gives it: the thing alone for the app's `service_account`, the thing and the
        account's id for any other (a function's own, or an account the app no longer names), so no two grants
        found share a name, and one to an account no longer wanted is never taken for a wanted one."""
        return grant_name(thing, account, shared=account == self.settings.service_account)

    def receiving_elsewhere(self, account: str) -> str:
        """A function of another app or stage in the region whose Eventarc trigger (other than Pub/Sub's)
        receives events as `account`; '' when there is none."""
        for found in self.region_functions():
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
                    name = self.grant_name(topic.name, account)
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
                out.append(EnqueuerGrant(self.grant_name(queue, account), queue=path, member=member))
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
        for found in self.region_functions():
            env = found.service_config.environment_variables
            if env.get(DELAY_ACCOUNT_ENV) == account and not has_labels(
                dict(found.labels), self.names.app, self.names.stage
            ):
                return short(found.name)
        return ""

    def state_databases(self, found: list[Any]) -> list[StateDatabase]:
        """The app and stage's state databases (by name), each with its TTL policy and whether it holds data, when the
        app uses a state or a deployed function of it was told of one."""
        if not (self.states or told_of_state(found)):
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

    def state_grants(self, found: list[Any]) -> list[StateGrant]:
        """The app's accounts' grants on the project limited to one of the app and stage's databases (by the
        condition deploy writes, whether or not the database is still there), when the app uses a state, a
        deployed function of it was told of one, or an account that held one may be going (`orphaned`)."""
        if not (self.states or told_of_state(found) or self.orphaned()):
            return []
        project = self.names.project
        try:
            policy = self.project_policy()
        except Forbidden:  # cannot tell: deploy tries to grant and explains a refusal
            return []
        out = []
        for binding in policy.bindings:
            database = self.database_of(binding.condition.expression) if binding.condition.expression else ""
            for account in sorted(self.accounts) if database else ():
                if (member := f"serviceAccount:{account}") in binding.members:
                    name = self.grant_name(short(database), account)
                    out.append(StateGrant(name, project=project, database=database, member=member, role=binding.role))
        return out

    def database_of(self, expression: str) -> str:
        """The path of the app and stage's database a condition deploy wrote names ('' for any other condition)."""
        found = CONDITION.fullmatch(expression)
        database = found.group(1) if found else ""
        prefix = self.names.database_path(self.names.database_prefix)
        return database if database.startswith(prefix) and "/" not in database[len(prefix) :] else ""

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
        delivery = dead_letter = None
        if subscription:
            delivery = self.gcp.call("subscriber", "get_subscription", request={"subscription": subscription})
            dead_letter = delivery.dead_letter_policy
        routed = dead_letter is not None and dead_letter.dead_letter_topic == topic
        minimum, maximum = backoff_s(delivery) if routed else (0, 0)
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
            service_account=runs_as(found),
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
        """The app and stage's buckets (by labels), each with whether it holds any object."""
        found = self.gcp.pages("storage", "list_buckets", project=self.names.project)
        return [
            Bucket(
                b.name,
                location=(b.location or "").lower(),
                tags=user_tags(b.labels),
                audit_labels=audit_tags(b.labels),
                objects=self.gcp.bucket_holds_objects(b.name),
            )
            for b in found
            if has_labels(dict(b.labels or {}), self.names.app, self.names.stage)
        ]

    def bucket_grants(self, found: list[Any]) -> list[BucketGrant]:
        """The app's accounts in the object roles of each bucket some function declares or a deployed function of
        it was told of (`PORTABLE_FN_BUCKET_*`), read from the bucket's own policy; a bucket not there holds none."""
        told = {v for f in found for k, v in f.service_config.environment_variables.items() if k.startswith(BUCKET_ENV)}
        out = []
        for bucket in sorted(self.declared_buckets | told):
            try:
                policy = self.gcp.bucket_policy(bucket)
            except NotFound:
                continue
            for role in BUCKET_ROLES:
                members = set(binding["members"]) if (binding := bucket_binding(policy, role)) else set()
                for account in sorted(self.accounts):
                    if (member := f"serviceAccount:{account}") in members:
                        name = self.grant_name(bucket, account)
                        out.append(BucketGrant(name, bucket=bucket, member=member, role=role))
        return out

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
        """The invoker binding on each event function's service for one of the app's accounts: one no function runs
        as any more first (so an update takes it out), else the one the function runs as."""
        out = []
        for function in functions:
            try:
                policy = self.gcp.call("run", "get_iam_policy", request={"resource": function.service})
            except NotFound:
                continue
            candidates = sorted(self.accounts | {function.service_account}, key=lambda a: (a in self.wanted, a))
            held = [a for a in candidates if has_member(policy, INVOKER_ROLE, f"serviceAccount:{a}")]
            if held:
                out.append(TriggerInvoker(function.name, member=f"serviceAccount:{held[0]}"))
        return out

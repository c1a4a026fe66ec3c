"""How each kind of resource is created, updated and deleted: the only code here that changes Google Cloud.

One `Applier` per resource type (the shared `portable_fn.deploy.Applier`), all going through the same
`GcpClient`; `APPLIERS` is the map the shared `Executor` dispatches by. Every action is safe to
repeat: deletes accept "already gone", a topic or job that already exists is brought up to date, and a
function a failed run left FAILED is read back as such and updated as a whole, so rerunning `deploy`
after a failure converges. Function creates and updates upload the source zip first (generateUploadUrl,
then a PUT to the signed URL) and wait for the long-running operation. The one project-wide change,
the Cloud Storage service agent's publisher grant, is added when missing and never revoked; the app's own
account's event receiver grant on the project is added, and taken back on `remove`. The grants for sending
(publisher on a topic, enqueuer on the delay queue, user of the account itself) and a declared bucket's object
role are read-modify-writes of that one resource's IAM policy, as the dead-letter grants are. An account deploy
made is deleted only once no binding of the project's policy names it any more (`ServiceAccounts.take_back_bindings`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from portable_fn.deploy import Applier as BaseApplier
from portable_fn.deploy import ApplyContext as BaseApplyContext
from portable_fn.deploy import Resource, Settling
from portable_fn.deploy.executor import Progress
from portable_fn.runtime.errors import DeployError

from ..settings import GcpSettings
from ..state import EXPIRES_AT
from .client import AlreadyExists, BadRequest, Forbidden, GcpClient, NotFound
from .errors import not_enabled, storage_agent_not_ready
from .naming import LABEL_SOURCE, STATE_COLLECTION, Names, labels
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
)
from .routes import (
    POLICY_V3,
    PUBLISHER,
    SUBSCRIBER,
    bucket_binding,
    grant,
    grant_conditional,
    project_number,
    pubsub_agent,
    revoke,
    revoke_conditional,
    short,
    trigger_subscription,
)
from .storage_agent import grant_publisher, refused, storage_agent

R = TypeVar("R", bound=Resource)
AGENT_NUMBER = re.compile(r"serviceAccount:service-(\d+)@")

# Function fields -> the update-mask paths that change them (snake_case; the REST client sends camelCase).
FUNCTION_MASK = {
    "runtime": ("build_config.runtime",),
    "entry_point": ("build_config.entry_point",),
    "source_sha": ("build_config.source", "labels"),
    "tags": ("labels",),
    "memory_mb": ("service_config.available_memory",),
    "timeout_s": ("service_config.timeout_seconds",),
    "env": ("service_config.environment_variables",),
    "min_instances": ("service_config.min_instance_count",),
    "max_instances": ("service_config.max_instance_count",),
    "service_account": ("service_config.service_account_email",),
    "ingress": ("service_config.ingress_settings",),
    "event_type": ("event_trigger",),
    "pubsub_topic": ("event_trigger",),
    "event_filters": ("event_trigger",),
    "retry_policy": ("event_trigger",),
}
JOB_MASK = {
    "schedule": "schedule",
    "time_zone": "time_zone",
    "topic": "pubsub_target",
    "data": "pubsub_target",
    "description": "description",
}


class ApplyContext(BaseApplyContext):
    """What every applier of one run shares: the client, the names and the labels to put. Progress goes
    to the client, so waiting for a long-running operation is reported under its step."""

    def __init__(self, gcp: GcpClient, names: Names, settings: GcpSettings | None = None) -> None:
        self.gcp = gcp
        super().__init__()
        self.names = names
        self.settings = settings or GcpSettings()
        self.labels = labels(names.app, names.stage)
        self.project_policy: Any = None  # the project's IAM policy as last read or set here (`take_back_bindings`)

    def labels_for(
        self, resource: Topic | Bucket | Function | DeadLetterSubscription | SecretContainer
    ) -> dict[str, str]:
        """The labels to set on `resource` (Google replaces them all at once): the audit trail's that were
        there, the user's, portable-fn's own."""
        return {**dict(resource.audit_labels), **dict(resource.tags), **self.labels}

    def read_project_policy(self) -> Any:
        """The project's IAM policy at version 3: read on first use in a run, then as the last write here left it."""
        if self.project_policy is None:
            request = {"resource": f"projects/{self.names.project}", "options": POLICY_V3}
            self.project_policy = self.gcp.call("resourcemanager", "get_iam_policy", request=request)
        return self.project_policy

    def write_project_policy(self, policy: Any) -> None:
        """Set `policy` (as read, edited) at version 3 under the etag read, and keep it with the etag the write gave
        it, so the next edit needs no read; a write refused (409 ABORTED: changed since read) leaves nothing kept,
        and a rerun reads the policy again."""
        policy.version = 3
        request = {"resource": f"projects/{self.names.project}", "policy": policy}
        try:
            answer = self.gcp.call("resourcemanager", "set_iam_policy", request=request)
        except Exception:
            self.project_policy = None
            raise
        policy.etag = answer.etag
        self.project_policy = policy if answer.etag else None

    @property
    def progress(self) -> Progress:
        return self.gcp.progress

    @progress.setter
    def progress(self, sink: Progress) -> None:
        self.gcp.progress = sink


class Applier(BaseApplier[R, ApplyContext]):
    """Create, update, delete one type of resource; a delete of what is gone (NotFound) is fine."""

    def __init__(self, ctx: ApplyContext) -> None:
        super().__init__(ctx)
        self.gcp = ctx.gcp
        self.names = ctx.names

    def missing(self, exc: BaseException, *codes: str) -> bool:
        return isinstance(exc, NotFound)

    def until_known(self, resource: Resource, call: Callable[[], Any]) -> Any:
        """`call()`, retried while IAM does not know yet a service account this run made (`ServiceAccounts`)."""
        return self.until_settled(call, f"{resource.kind} {resource.name}")


class ServiceAccounts(Applier[ServiceAccount]):
    """A function's own service account (IAM's projects.serviceAccounts), adopted when it exists; deleted last on
    `remove`, after every grant to it. A caller Google refuses (403) is told what role making accounts needs.

    Before the account goes, every binding of the project's IAM policy naming it is taken back, whatever granted
    it (a role granted by hand included): Google leaves a deleted account's bindings in the policy, as
    `deleted:serviceAccount:EMAIL?uid=ID`, until it purges them up to 60 days later
    (https://cloud.google.com/iam/docs/service-accounts-delete-undelete, read 2026-12-07), and they come back
    with the account if it is undeleted (`Binding.members`, cloudresourcemanager v3 Discovery document). The plan
    lists and takes back those it read (`LeftoverBinding`) first; this catches any granted since. The
    policy is read once per run, at the first account going (none when no account goes), and kept as each write
    leaves it, so removing N accounts reads it once; a write that finds it changed since (409 ABORTED) stops the
    run, and a rerun reads it again. A caller Google refuses the policy (403) has the account deleted as before,
    and is told which account may keep bindings and what to grant so remove cleans them."""

    def create(self, resource: ServiceAccount) -> bool | None:
        body = {"displayName": resource.display_name, "description": resource.description}  # IAM's JSON, as sent
        request = {"name": f"projects/{self.names.project}", "account_id": resource.name, "service_account": body}
        try:
            self.gcp.call("iam", "create_service_account", request=request)
        except AlreadyExists:
            self.gcp.progress(f"      service account {resource.name} exists already: adopted")
            return False  # nothing new for IAM to learn
        except Forbidden as exc:
            raise not_enabled(exc, self.names.project) or DeployError(
                f"Deploying to gcp: each function runs as a service account of its own, and Google refused to let "
                f"deploy make {resource.name} in project {self.names.project!r} ({type(exc).__name__}: {exc}). Deploy "
                "as someone holding roles/iam.serviceAccountAdmin (and roles/iam.serviceAccountUser to deploy "
                "functions as those accounts), or set service_account under [tool.portable-fn.gcp] to an account "
                "all functions share."
            ) from exc

        return None

    def settles(self) -> Settling:
        """IAM is eventually consistent: an account just made may be unknown to a policy or a function for a while
        (https://cloud.google.com/iam/docs/service-accounts-create: wait 60 seconds or more before using it)."""
        settings = self.ctx.settings
        return Settling(
            account_unknown,
            wait_s=settings.grant_wait_s,
            every_s=settings.retry_every_s,
            waiting_for="the functions' new service accounts to reach IAM",
            why="deploy made service accounts this run, and IAM takes a while to know a new one everywhere",
            setting="grant_wait_s",
        )

    def update(self, resource: ServiceAccount, previous: ServiceAccount, changes: tuple[str, ...]) -> None:
        """Nothing portable-fn reads changes in place but the marker it writes once; a name is the account."""

    def delete(self, resource: ServiceAccount) -> None:
        email = self.names.account_email(resource.name)
        self.take_back_bindings(email)
        path = f"projects/{self.names.project}/serviceAccounts/{email}"
        self.tolerate_missing(lambda: self.gcp.call("iam", "delete_service_account", request={"name": path}))

    def take_back_bindings(self, email: str) -> None:
        """Take `email` out of every binding of the project's policy (conditional ones too; one left with no
        member goes), in one read-modify-write at version 3 with the etag read; nothing sent when none names it."""
        member = f"serviceAccount:{email}"
        try:
            policy = self.ctx.read_project_policy()
        except Forbidden as exc:
            self.gcp.progress(bindings_kept(self.names.project, email, "getIamPolicy", exc))
            return
        held = [b for b in policy.bindings if member in b.members]
        if not held:
            return
        roles = ", ".join(sorted({b.role for b in held}))
        for binding in held:
            binding.members.remove(member)
            if not binding.members:
                policy.bindings.remove(binding)
        try:
            self.ctx.write_project_policy(policy)
        except Forbidden as exc:
            self.gcp.progress(bindings_kept(self.names.project, email, "setIamPolicy", exc))
            return
        self.gcp.progress(f"      took back {roles} on project {self.names.project} from {email} before deleting it")


def bindings_kept(project: str, email: str, permission: str, exc: BaseException) -> str:
    """What a run says when Google refuses deploy the project's policy as it deletes an account it made: which
    account may keep bindings, and what to grant (or run by hand) so none is left."""
    return (
        f"      ! Google refused resourcemanager.projects.{permission} on project {project!r} "
        f"({type(exc).__name__}), so a role granted by hand to {email} may stay in the project's IAM policy as "
        f"deleted:serviceAccount:{email}?uid=... once the account is deleted. To have deploy and remove take such "
        "bindings back, grant the deploying principal roles/resourcemanager.projectIamAdmin (it holds "
        "resourcemanager.projects.getIamPolicy and setIamPolicy) on the project; to clear one left now: "
        f"gcloud projects remove-iam-policy-binding {project} --member='deleted:serviceAccount:{email}?uid=UID' "
        "--role=ROLE (`gcloud projects get-iam-policy` shows both)."
    )


def account_unknown(exc: BaseException) -> bool:
    """Whether Google refused a call for naming a service account it does not know (yet): a 400 or 404 saying the
    account does not exist."""
    return isinstance(exc, (BadRequest, NotFound)) and "does not exist" in str(exc) and "ervice account" in str(exc)


class LeftoverBindings(Applier[LeftoverBinding]):
    """A binding on the project to an account deploy made that is going (read-modify-write at version 3, the policy
    read once for all of them and the account's delete after them: `ApplyContext.read_project_policy`): taken back;
    `create` puts it back, for symmetry only (nothing wants one)."""

    def create(self, resource: LeftoverBinding) -> None:
        project = f"projects/{resource.project}"
        self.ctx.project_policy = None  # written below without it: read again next time
        if resource.condition:
            grant_conditional(self.gcp, project, resource.role, resource.member, dict(resource.condition))
        else:
            grant(self.gcp, "resourcemanager", project, resource.role, resource.member, POLICY_V3)

    def delete(self, resource: LeftoverBinding) -> None:
        policy, expression = self.ctx.read_project_policy(), dict(resource.condition).get("expression", "")
        binding = next(
            (
                b
                for b in policy.bindings
                if b.role == resource.role
                and resource.member in b.members
                and (b.condition.expression == expression if expression else not b.HasField("condition"))
            ),
            None,
        )
        if binding is None:
            return
        binding.members.remove(resource.member)
        if not binding.members:
            policy.bindings.remove(binding)
        self.ctx.write_project_policy(policy)


class UnreadBindingsKept(Applier[UnreadBindings]):
    """Nothing to apply: the plan only ever keeps an `UnreadBindings` (it says why); the account's delete takes its
    bindings back if Google lets it read them by then."""

    def create(self, resource: UnreadBindings) -> None:
        """Never planned: nothing wants one."""

    def delete(self, resource: UnreadBindings) -> None:
        """Never planned: `kept_because` keeps it."""


class StorageAgentGrants(Applier[StorageAgentGrant]):
    """Adds the Cloud Storage service agent to the project's `roles/pubsub.publisher` binding (`storage_agent`),
    before any function whose storage trigger needs it. A caller Google refuses (403) is told the gcloud
    command that makes the grant once by hand."""

    def create(self, resource: StorageAgentGrant) -> bool | None:
        member = ""
        try:
            member = storage_agent(self.gcp, resource.name, self.ctx.settings.project_number)
            granted = grant_publisher(self.gcp, resource.name, member)
        except Forbidden as exc:
            raise refused(resource.name, member, exc) from exc
        if not granted:
            self.gcp.progress(f"      {member} already holds {PUBLISHER} on project {resource.name}")
            return False  # nothing for the storage triggers to wait for
        self.gcp.progress(
            f"      {member} may now publish to Pub/Sub in project {resource.name} (storage "
            f"triggers need it; they wait up to {self.ctx.settings.grant_wait_s:.0f} s for it)"
        )
        return None

    def settles(self) -> Settling:
        """IAM changes take a while to reach Eventarc: until then it refuses a storage trigger."""
        settings = self.ctx.settings
        return Settling(
            storage_agent_not_ready,
            wait_s=settings.grant_wait_s,
            every_s=settings.retry_every_s,
            waiting_for="the storage agent's new grant to reach Eventarc",
            why=f"the Cloud Storage service agent was granted {PUBLISHER}, and IAM changes can take "
            "longer to reach Eventarc",
            setting="grant_wait_s",
        )


class Topics(Applier[Topic]):
    def create(self, resource: Topic) -> None:
        topic = {"name": self.names.topic_path(resource.name), "labels": self.ctx.labels_for(resource)}
        try:
            self.gcp.call("pubsub", "create_topic", request=topic)
        except AlreadyExists:  # made by a run that failed before labelling it, or by hand: adopt it
            self.gcp.call("pubsub", "update_topic", request={"topic": topic, "update_mask": {"paths": ["labels"]}})

    def update(self, resource: Topic, previous: Topic, changes: tuple[str, ...]) -> None:
        """Only the labels change in place: the user's, with the audit trail's found there."""
        labelled = replace(resource, audit_labels=previous.audit_labels)
        topic = {"name": self.names.topic_path(resource.name), "labels": self.ctx.labels_for(labelled)}
        self.gcp.call("pubsub", "update_topic", request={"topic": topic, "update_mask": {"paths": ["labels"]}})

    def delete(self, resource: Topic) -> None:
        self.tolerate_missing(
            lambda: self.gcp.call("pubsub", "delete_topic", request={"topic": self.names.topic_path(resource.name)})
        )


class PublisherGrants(Applier[PublisherGrant]):
    """The app's account in the topic's `roles/pubsub.publisher` binding."""

    def create(self, resource: PublisherGrant) -> None:
        self.until_known(resource, lambda: grant(self.gcp, "pubsub", resource.topic, resource.role, resource.member))

    def update(self, resource: PublisherGrant, previous: PublisherGrant, changes: tuple[str, ...]) -> None:
        self.delete(previous)
        self.create(resource)

    def delete(self, resource: PublisherGrant) -> None:
        self.tolerate_missing(lambda: revoke(self.gcp, "pubsub", resource.topic, resource.role, resource.member))


class DelayQueues(Applier[DelayQueue]):
    """The app's Cloud Tasks queue, with Cloud Tasks' own defaults (rate limits, retries with backoff). One that
    exists (a run that failed after making it) is adopted. A create is confirmed by reading the queue back: in a
    deleted queue's tombstone window (up to 3 days) Cloud Tasks may answer as if it made it, and did not."""

    def create(self, resource: DelayQueue) -> None:
        path = self.names.queue_path(resource.name)
        try:
            self.gcp.call("tasks", "create_queue", request={"parent": self.names.location, "queue": {"name": path}})
        except AlreadyExists:
            self.gcp.progress(f"      Cloud Tasks queue {resource.name} exists already: adopted")
        try:
            self.gcp.call("tasks", "get_queue", request={"name": path})
        except NotFound as exc:
            raise DeployError(
                f"Deploying to gcp: Cloud Tasks answered that it made the delay queue {path}, but it is not there: "
                "a queue of that name was deleted recently (`portable-fn remove`), and Cloud Tasks keeps the name "
                "for up to 3 days. Deploy again once they have passed, or deploy under another stage name."
            ) from exc

    def delete(self, resource: DelayQueue) -> None:
        path = self.names.queue_path(resource.name)
        self.tolerate_missing(lambda: self.gcp.call("tasks", "delete_queue", request={"name": path}))


class EnqueuerGrants(Applier[EnqueuerGrant]):
    """The app's account in the delay queue's `roles/cloudtasks.enqueuer` binding."""

    def create(self, resource: EnqueuerGrant) -> None:
        self.until_known(resource, lambda: grant(self.gcp, "tasks", resource.queue, resource.role, resource.member))

    def update(self, resource: EnqueuerGrant, previous: EnqueuerGrant, changes: tuple[str, ...]) -> None:
        self.delete(previous)
        self.create(resource)

    def delete(self, resource: EnqueuerGrant) -> None:
        self.tolerate_missing(lambda: revoke(self.gcp, "tasks", resource.queue, resource.role, resource.member))


class TokenGrants(Applier[TokenGrant]):
    """The app's account in its own `roles/iam.serviceAccountUser` binding. A caller Google refuses (403) is told
    the gcloud command."""

    def create(self, resource: TokenGrant) -> None:
        self.edit(resource, grant, "add")

    def delete(self, resource: TokenGrant) -> None:
        self.edit(resource, revoke, "remove")

    def edit(self, resource: TokenGrant, change: Callable[..., bool], verb: str) -> None:
        account = self.names.account_path(resource.name)
        try:
            self.until_known(resource, lambda: change(self.gcp, "iam", account, resource.role, resource.member))
        except NotFound:
            if verb == "add":
                raise
        except Forbidden as exc:
            raise not_enabled(exc, self.names.project) or DeployError(
                f"Deploying to gcp: a delayed send's task carries a token of {resource.name}, and Google refused to "
                f"let deploy {verb} its {resource.role} on itself ({type(exc).__name__}: {exc}). Have a project owner "
                f"run this once:\n    gcloud iam service-accounts {verb}-iam-policy-binding {resource.name} "
                f"--member={resource.member} --role={resource.role}\nthen run `portable-fn` again."
            ) from exc


class Buckets(Applier[Bucket]):
    def create(self, resource: Bucket) -> None:
        storage = self.gcp.service("storage")
        bucket = storage.bucket(resource.name)
        bucket.labels = self.ctx.labels_for(resource)
        bucket.iam_configuration.uniform_bucket_level_access_enabled = True
        bucket.iam_configuration.public_access_prevention = "enforced"
        try:
            self.gcp.call(
                "storage",
                "create_bucket",
                bucket_or_name=bucket,
                project=self.names.project,
                location=resource.location,
            )
        except AlreadyExists:  # ours from a run that failed before labelling it, or someone else's name
            self.adopt(resource)

    def adopt(self, resource: Bucket) -> None:
        try:
            found = self.gcp.call("storage", "get_bucket", bucket_or_name=resource.name)
        except Forbidden as exc:
            raise DeployError(
                f"Deploying to gcp: the bucket name {resource.name!r} is taken by another project (bucket names "
                "are global). Map the trigger's bucket to a bucket you own with `buckets = {...}` under "
                "[tool.portable-fn.gcp], or rename the stage or app."
            ) from exc
        found.labels = {**(found.labels or {}), **self.ctx.labels_for(resource)}
        self.gcp.record("storage", "patch_bucket", resource.name)
        found.patch()

    def update(self, resource: Bucket, previous: Bucket, changes: tuple[str, ...]) -> None:
        """Only the labels change in place (the location never does): set them all again."""
        found = self.gcp.call("storage", "get_bucket", bucket_or_name=resource.name)
        found.labels = self.ctx.labels_for(replace(resource, audit_labels=previous.audit_labels))
        self.gcp.record("storage", "patch_bucket", resource.name)
        found.patch()

    def delete(self, resource: Bucket) -> None:
        """Delete the bucket; one found holding objects is only planned for deletion with `--delete-data`, which
        empties it first (Cloud Storage deletes only an empty bucket)."""
        if resource.objects:
            emptied = self.gcp.empty_bucket(resource.name)
            self.gcp.progress(f"      bucket {resource.name}: {emptied} objects deleted (--delete-data)")
        try:
            self.gcp.delete_bucket(resource.name)
        except NotFound:
            return
        except AlreadyExists as exc:  # 409: the bucket still holds objects
            raise DeployError(
                f"bucket {resource.name!r} still holds objects and deploy never deletes data; empty it "
                f"(gcloud storage rm --recursive gs://{resource.name}/**) if its objects can go, then run "
                "`portable-fn remove` again"
            ) from exc


class BucketGrants(Applier[BucketGrant]):
    """The account in its role's binding in the bucket's own IAM policy (read-modify-write at version 3, so
    conditional bindings go back as read; the etag guards it). A caller Google refuses (403) is told the gcloud
    command."""

    def create(self, resource: BucketGrant) -> None:
        self.edit(resource, add=True)

    def update(self, resource: BucketGrant, previous: BucketGrant, changes: tuple[str, ...]) -> None:
        self.delete(previous)
        self.create(resource)

    def delete(self, resource: BucketGrant) -> None:
        try:
            self.edit(resource, add=False)
        except NotFound:  # the bucket is gone, and its policy with it
            return

    def edit(self, resource: BucketGrant, add: bool) -> None:
        try:
            self.until_known(resource, lambda: self.change(resource, add))
        except Forbidden as exc:
            verb = "add" if add else "remove"
            raise not_enabled(exc, self.names.project) or DeployError(
                f"Deploying to gcp: Google refused to let deploy {verb} {resource.member}'s {resource.role} on bucket "
                f"{resource.bucket!r} ({type(exc).__name__}: {exc}). Have the bucket's owner run this once:\n"
                f"    gcloud storage buckets {verb}-iam-policy-binding gs://{resource.bucket} "
                f"--member={resource.member} --role={resource.role}\nthen run `portable-fn` again."
            ) from exc

    def change(self, resource: BucketGrant, add: bool) -> bool:
        """Add or take out the member; False when it was (or was not) there already, and nothing was sent."""
        policy = self.gcp.bucket_policy(resource.bucket)
        binding = bucket_binding(policy, resource.role)
        if (binding is not None and resource.member in binding["members"]) == add:
            return False
        if binding is None:
            binding = {"role": resource.role, "members": []}
            policy.bindings.append(binding)
        members = set(binding["members"])  # a list as read, a set as the client builds one
        binding["members"] = members | {resource.member} if add else members - {resource.member}  # none: not sent
        policy.version = 3
        self.gcp.set_bucket_policy(resource.bucket, policy)
        return True


class Functions(Applier[Function]):
    def create(self, resource: Function) -> None:
        request = {
            "parent": self.names.location,
            "function_id": resource.name,
            "function": self.message(resource, self.upload(resource)),
        }
        self.until_granted(
            resource,
            lambda: self.gcp.wait(
                self.gcp.call("functions", "create_function", request=request), f"creating function {resource.name}"
            ),
        )

    def update(self, resource: Function, previous: Function, changes: tuple[str, ...]) -> None:
        resource = replace(resource, audit_labels=previous.audit_labels)  # set again with the labels
        self.until_granted(resource, lambda: self.send(resource, changes))

    def send(self, resource: Function, changes: tuple[str, ...]) -> None:
        if "state" in changes:  # a failed deploy left it broken: send everything again
            changes = tuple(FUNCTION_MASK)
        paths = sorted({path for field in changes for path in FUNCTION_MASK.get(field, ())})
        if "service_account" in changes and resource.event_type:  # Eventarc delivers as the same account
            paths = sorted({*paths, "event_trigger"})
        source = self.upload(resource) if "build_config.source" in paths else None
        request = {"function": self.message(resource, source), "update_mask": {"paths": paths}}
        operation = self.gcp.call("functions", "update_function", request=request)
        self.gcp.wait(operation, f"updating function {resource.name}")

    def until_granted(self, resource: Function, deploy: Callable[[], None]) -> None:
        """`deploy()`; when Eventarc refuses the storage trigger because the storage agent's grant this run
        made (a step this one waits for) has not reached it yet, the function is left FAILED and is deployed
        again, whole (`redeploy`), until `grant_wait_s` after the grant (`StorageAgentGrants.settles`)."""
        self.until_settled(deploy, f"function {resource.name}'s storage trigger", again=lambda: self.redeploy(resource))

    def redeploy(self, resource: Function) -> None:
        """The whole function again: it is FAILED now (or, had the refusal come before it was made, new)."""
        try:
            self.send(resource, ("state",))
        except NotFound:
            self.create(resource)

    def delete(self, resource: Function) -> None:
        operation = self.tolerate_missing(
            lambda: self.gcp.call(
                "functions", "delete_function", request={"name": self.names.function_path(resource.name)}
            )
        )
        if operation is not None:
            self.gcp.wait(operation, f"deleting function {resource.name}")

    def upload(self, resource: Function) -> Any:
        """Upload the zip to a fresh signed URL; return the storage source the build reads it from."""
        found = self.gcp.call("functions", "generate_upload_url", request={"parent": self.names.location})
        self.gcp.upload(found.upload_url, Path(resource.zip_path))
        return found.storage_source

    def message(self, resource: Function, storage_source: Any | None) -> dict[str, Any]:
        """The Function message (a dict the client turns into its proto)."""
        build: dict[str, Any] = {"runtime": resource.runtime, "entry_point": resource.entry_point}
        if storage_source is not None:
            build["source"] = {"storage_source": storage_source}
        service: dict[str, Any] = {
            "available_memory": f"{resource.memory_mb}Mi",
            "timeout_seconds": resource.timeout_s,
            "environment_variables": dict(resource.env),
            "min_instance_count": resource.min_instances,
            "max_instance_count": resource.max_instances,
            "ingress_settings": resource.ingress,
            "all_traffic_on_latest_revision": True,
        }
        if resource.service_account:
            service["service_account_email"] = resource.service_account
        function = {
            "name": self.names.function_path(resource.name),
            "environment": "GEN_2",
            "labels": {**self.ctx.labels_for(resource), LABEL_SOURCE: resource.source_sha},
            "build_config": build,
            "service_config": service,
        }
        if resource.event_type:
            function["event_trigger"] = self.trigger(resource)
        return function

    def trigger(self, resource: Function) -> dict[str, Any]:
        trigger: dict[str, Any] = {
            "event_type": resource.event_type,
            "retry_policy": resource.retry_policy,
            "trigger_region": self.names.region,
        }
        if resource.pubsub_topic:
            trigger["pubsub_topic"] = resource.pubsub_topic
        if resource.event_filters:
            trigger["event_filters"] = [{"attribute": a, "value": v} for a, v in resource.event_filters]
        if resource.service_account:
            trigger["service_account_email"] = resource.service_account
        return trigger


class DeadLetterRoutes(Applier[DeadLetterRoute]):
    """The publisher grant on the dead-letter topic, then the trigger subscription's dead-letter policy
    with the Pub/Sub service agent's two grants (`routes`). Every step is a no-op when already done."""

    def create(self, resource: DeadLetterRoute) -> None:
        found = self.function(resource)
        account = found.service_config.service_account_email
        member = f"serviceAccount:{account}"
        self.until_known(resource, lambda: grant(self.gcp, "pubsub", resource.dead_letter_topic, PUBLISHER, member))
        if resource.trigger_source:
            self.route_subscription(resource, found, account)

    def update(self, resource: DeadLetterRoute, previous: DeadLetterRoute, changes: tuple[str, ...]) -> None:
        self.create(resource)
        if previous.publisher and previous.publisher != resource.publisher:  # the function runs as another account
            self.revoke(previous)
        no_longer_retries = previous.trigger_source and not resource.trigger_source
        if no_longer_retries and (subscription := trigger_subscription(self.gcp, self.function(resource))):
            self.set_policy(subscription, None)

    def delete(self, resource: DeadLetterRoute) -> None:
        """The trigger subscription goes with the function. The publisher grant goes with the topic, or is taken
        back here when the topic stays (another function dead-letters there) unless it is the app's
        `service_account`'s, which the functions left may still publish there as."""
        if resource.publisher and resource.publisher != self.ctx.settings.service_account:
            self.revoke(resource)

    def revoke(self, resource: DeadLetterRoute) -> None:
        """Take the route's publisher out of the dead-letter topic's policy (a topic gone took it along)."""
        member = f"serviceAccount:{resource.publisher}"
        self.tolerate_missing(lambda: revoke(self.gcp, "pubsub", resource.dead_letter_topic, PUBLISHER, member))

    def function(self, resource: DeadLetterRoute) -> Any:
        return self.gcp.call("functions", "get_function", request={"name": self.names.function_path(resource.name)})

    def route_subscription(self, resource: DeadLetterRoute, found: Any, account: str) -> None:
        subscription = self.subscription(resource, found)
        if number := project_number(self.ctx.settings.project_number, account) or self.number_of_project():
            grant(self.gcp, "pubsub", resource.dead_letter_topic, PUBLISHER, pubsub_agent(number))
            grant(self.gcp, "subscriber", subscription, SUBSCRIBER, pubsub_agent(number))
        else:
            self.gcp.progress(
                f"      {resource.name}: set project_number in [tool.portable-fn.gcp] so deploy can let the Pub/Sub "
                f"service agent publish to {resource.dead_letter_topic} and subscribe to {subscription}; "
                "until then messages that keep failing are not moved to the dead-letter topic"
            )
        self.set_policy(subscription, resource)

    def number_of_project(self) -> str:
        """The project's number, read from its Cloud Storage service agent's address (`service-<number>@...`), as
        no account of a function names it when each runs as its own; '' when Google will not say."""
        try:
            agent = storage_agent(self.gcp, self.names.project, "")
        except (Forbidden, NotFound):
            return ""
        found = AGENT_NUMBER.match(agent)
        return found.group(1) if found else ""

    def subscription(self, resource: DeadLetterRoute, found: Any) -> str:
        """The subscription the function's Eventarc trigger names. Eventarc names it once it has made it, which
        can be after the function's operation is done: an empty name is read again every `poll_s`, up to
        `subscription_wait_s`."""
        wait_s, started = self.ctx.settings.subscription_wait_s, time.monotonic()
        trigger = found.event_trigger.trigger
        while not (subscription := trigger_subscription(self.gcp, found)):
            if time.monotonic() - started >= wait_s:
                raise DeployError(
                    f"Deploying {resource.name!r} to gcp: Eventarc trigger {trigger or '(none yet)'} of the function "
                    f"named no Pub/Sub subscription (transport.pubsub.subscription) within {wait_s:.0f} s, so no "
                    f"dead-letter policy could be set for {resource.trigger_source}. Check the trigger with `gcloud "
                    f"eventarc triggers describe {short(trigger) or '...'} --location={self.names.region}`, then run "
                    "`portable-fn deploy` again (raise subscription_wait_s under [tool.portable-fn.gcp] to wait "
                    "longer)."
                )
            self.gcp.progress(
                f"      {resource.name}: waiting for Eventarc to name the subscription of trigger "
                f"{trigger or '(none yet)'}"
            )
            time.sleep(self.gcp.poll_s)
            found = self.function(resource)
            trigger = found.event_trigger.trigger
        return subscription

    def set_policy(self, subscription: str, resource: DeadLetterRoute | None) -> None:
        """The subscription's dead-letter and retry policies from `resource`; None takes both away."""
        dead_letter: dict[str, Any] = {}
        retry: dict[str, Any] = {}
        if resource is not None:
            dead_letter = {
                "dead_letter_topic": resource.dead_letter_topic,
                "max_delivery_attempts": resource.max_delivery_attempts,
            }
            retry = {
                "minimum_backoff": {"seconds": resource.minimum_backoff_s},
                "maximum_backoff": {"seconds": resource.maximum_backoff_s},
            }
        subscription_message = {"name": subscription, "dead_letter_policy": dead_letter, "retry_policy": retry}
        self.gcp.call(
            "subscriber",
            "update_subscription",
            request={
                "subscription": subscription_message,
                "update_mask": {"paths": ["dead_letter_policy", "retry_policy"]},
            },
        )


ACK_DEADLINE_S = 60  # how long `portable-fn dead-letters` holds what it pulled before it acks or releases it


class DeadLetterSubscriptions(Applier[DeadLetterSubscription]):
    """The pull subscription that keeps a dead-letter topic's messages. One that exists (a failed run, or a
    second function sharing the topic) is kept as it is."""

    def create(self, resource: DeadLetterSubscription) -> None:
        subscription = {
            "name": self.names.subscription_path(resource.name),
            "topic": resource.topic,
            "labels": self.ctx.labels_for(resource),
            "message_retention_duration": {"seconds": resource.retention_s},
            "retain_acked_messages": False,
            "ack_deadline_seconds": ACK_DEADLINE_S,
            "expiration_policy": {},  # no ttl: never expires, however long nobody pulls
        }
        try:
            self.gcp.call("subscriber", "create_subscription", request=subscription)
        except AlreadyExists:
            return

    def update(
        self, resource: DeadLetterSubscription, previous: DeadLetterSubscription, changes: tuple[str, ...]
    ) -> None:
        subscription = {
            "name": self.names.subscription_path(resource.name),
            "message_retention_duration": {"seconds": resource.retention_s},
            "labels": self.ctx.labels_for(replace(resource, audit_labels=previous.audit_labels)),
        }
        paths = ["labels"] if "tags" in changes else []
        paths += ["message_retention_duration"] if "retention_s" in changes else []
        request = {"subscription": subscription, "update_mask": {"paths": paths}}
        self.gcp.call("subscriber", "update_subscription", request=request)

    def delete(self, resource: DeadLetterSubscription) -> None:
        path = self.names.subscription_path(resource.name)
        self.tolerate_missing(
            lambda: self.gcp.call("subscriber", "delete_subscription", request={"subscription": path})
        )


class PublicInvokers(Applier[PublicInvoker]):
    """Read-modify-write of the Cloud Run service's IAM policy (its etag guards concurrent edits)."""

    def create(self, resource: PublicInvoker) -> None:
        self.edit(resource, add=True)

    def delete(self, resource: PublicInvoker) -> None:
        self.edit(resource, add=False)

    def edit(self, resource: PublicInvoker, add: bool) -> None:
        try:
            name = self.names.function_path(resource.name)
            found = self.gcp.call("functions", "get_function", request={"name": name})
        except NotFound:
            if add:
                raise
            return  # the function and its service are gone, and the binding with them
        service = found.service_config.service
        policy = self.gcp.call("run", "get_iam_policy", request={"resource": service})
        binding = next((b for b in policy.bindings if b.role == resource.role), None)
        if add and binding is None:
            binding = policy.bindings.add(role=resource.role)
        if binding is None or (resource.member in binding.members) == add:
            return
        if add:
            binding.members.append(resource.member)
        else:
            binding.members.remove(resource.member)
            if not binding.members:
                policy.bindings.remove(binding)
        self.gcp.call("run", "set_iam_policy", request={"resource": service, "policy": policy})


class TriggerInvokers(Applier[TriggerInvoker]):
    """The app's account may invoke an event function's Cloud Run service (read-modify-write of its policy)."""

    def create(self, resource: TriggerInvoker) -> None:
        service = self.service(resource)
        self.until_known(resource, lambda: grant(self.gcp, "run", service, resource.role, resource.member))

    def update(self, resource: TriggerInvoker, previous: TriggerInvoker, changes: tuple[str, ...]) -> None:
        self.delete(previous)
        self.create(resource)

    def delete(self, resource: TriggerInvoker) -> None:
        try:
            revoke(self.gcp, "run", self.service(resource), resource.role, resource.member)
        except NotFound:  # the function and its service are gone, and the binding with them
            return

    def service(self, resource: TriggerInvoker) -> str:
        found = self.gcp.call("functions", "get_function", request={"name": self.names.function_path(resource.name)})
        return str(found.service_config.service)


class EventReceiverGrants(Applier[EventReceiverGrant]):
    """The app's account in the project's `roles/eventarc.eventReceiver` binding (policy version 3, so
    conditional bindings go back untouched). A caller Google refuses (403) is told the gcloud command."""

    def create(self, resource: EventReceiverGrant) -> None:
        self.edit(resource, grant, "add")

    def delete(self, resource: EventReceiverGrant) -> None:
        self.edit(resource, revoke, "remove")

    def edit(self, resource: EventReceiverGrant, change: Callable[..., bool], verb: str) -> None:
        project, member = f"projects/{resource.project}", f"serviceAccount:{resource.name}"
        try:
            self.until_known(
                resource, lambda: change(self.gcp, "resourcemanager", project, resource.role, member, POLICY_V3)
            )
        except Forbidden as exc:
            raise not_enabled(exc, resource.project) or DeployError(
                f"Deploying to gcp: storage triggers receive events as {resource.name}, and Google refused to let "
                f"deploy {verb} its {resource.role} on project {resource.project!r} ({type(exc).__name__}: {exc}). "
                f"Have a project owner run this once:\n    gcloud projects {verb}-iam-policy-binding "
                f"{resource.project} --member={member} --role={resource.role}\nthen run `portable-fn` again."
            ) from exc


class StateDatabases(Applier[StateDatabase]):
    """A state's Firestore database (native mode, in the resource's location), then the TTL policy on its
    `expires_at` field; both long-running. One that exists (a run that failed before its TTL policy) is
    adopted. A delete is only planned for an empty database, or with `--delete-data`."""

    def create(self, resource: StateDatabase) -> None:
        database = {
            "location_id": resource.location,
            "type_": "FIRESTORE_NATIVE",
            "concurrency_mode": "OPTIMISTIC",
            "delete_protection_state": "DELETE_PROTECTION_DISABLED",
        }
        request = {"parent": f"projects/{self.names.project}", "database": database, "database_id": resource.name}
        try:
            operation = self.gcp.call("firestore", "create_database", request=request)
            self.gcp.wait(operation, f"creating Firestore database {resource.name}")
        except AlreadyExists:
            self.gcp.progress(f"      Firestore database {resource.name} exists already: adopted")
        if resource.ttl:
            self.set_ttl(resource)

    def update(self, resource: StateDatabase, previous: StateDatabase, changes: tuple[str, ...]) -> None:
        self.set_ttl(resource)

    def set_ttl(self, resource: StateDatabase) -> None:
        name = f"{self.names.database_path(resource.name)}/collectionGroups/{STATE_COLLECTION}/fields/{EXPIRES_AT}"
        request = {
            "field": {"name": name, "ttl_config": {} if resource.ttl else None},
            "update_mask": {"paths": ["ttl_config"]},
        }
        operation = self.gcp.call("firestore", "update_field", request=request)
        self.gcp.wait(operation, f"TTL policy on {resource.name}")

    def delete(self, resource: StateDatabase) -> None:
        operation = self.tolerate_missing(
            lambda: self.gcp.call(
                "firestore", "delete_database", request={"name": self.names.database_path(resource.name)}
            )
        )
        if operation is not None:
            self.gcp.wait(operation, f"deleting Firestore database {resource.name}")


class StateGrants(Applier[StateGrant]):
    """The account's conditional binding on the project (policy version 3, every other binding sent back as
    read). A caller Google refuses (403) is told the gcloud command."""

    def create(self, resource: StateGrant) -> None:
        self.edit(resource, grant_conditional, "add")

    def update(self, resource: StateGrant, previous: StateGrant, changes: tuple[str, ...]) -> None:
        self.delete(previous)
        self.create(resource)

    def delete(self, resource: StateGrant) -> None:
        self.edit(resource, revoke_conditional, "remove")

    def edit(self, resource: StateGrant, change: Callable[..., bool], verb: str) -> None:
        try:
            project = f"projects/{resource.project}"
            self.until_known(
                resource, lambda: change(self.gcp, project, resource.role, resource.member, resource.condition)
            )
        except Forbidden as exc:
            condition = resource.condition
            raise not_enabled(exc, resource.project) or DeployError(
                f"Deploying to gcp: Google refused to let deploy {verb} {resource.member}'s {resource.role} on state "
                f"database {resource.database} ({type(exc).__name__}: {exc}). Have a project owner run this once:\n"
                f"    gcloud projects {verb}-iam-policy-binding {resource.project} --member={resource.member} "
                f"--role={resource.role} --condition='expression={condition['expression']},title={condition['title']}'"
                "\nthen run `portable-fn` again."
            ) from exc


class SecretContainers(Applier[SecretContainer]):
    """A declared secret's Secret Manager secret, without a version (values come from `portable-fn secrets set`),
    replicated automatically. One that exists unlabelled (made by hand) is adopted: its labels are set."""

    def create(self, resource: SecretContainer) -> None:
        body = {"replication": {"automatic": {}}, "labels": self.ctx.labels_for(resource)}
        request = {"parent": f"projects/{self.names.project}", "secret_id": resource.name, "secret": body}
        try:
            self.gcp.call("secretmanager", "create_secret", request=request)
        except AlreadyExists:
            self.set_labels(resource)

    def update(self, resource: SecretContainer, previous: SecretContainer, changes: tuple[str, ...]) -> None:
        self.set_labels(replace(resource, audit_labels=previous.audit_labels))

    def set_labels(self, resource: SecretContainer) -> None:
        secret = {"name": self.names.secret_path(resource.name), "labels": self.ctx.labels_for(resource)}
        self.gcp.call(
            "secretmanager", "update_secret", request={"secret": secret, "update_mask": {"paths": ["labels"]}}
        )

    def delete(self, resource: SecretContainer) -> None:
        path = self.names.secret_path(resource.name)
        self.tolerate_missing(lambda: self.gcp.call("secretmanager", "delete_secret", request={"name": path}))


class SecretGrants(Applier[SecretGrant]):
    """The accessor role's members in the secret's own IAM policy (read-modify-write, the etag guarding it): those
    wanted added, those no longer wanted taken out."""

    def create(self, resource: SecretGrant) -> None:
        for member in resource.members:
            self.add(resource, member)

    def add(self, resource: SecretGrant, member: str) -> None:
        self.until_known(resource, lambda: grant(self.gcp, "secretmanager", resource.secret, resource.role, member))

    def update(self, resource: SecretGrant, previous: SecretGrant, changes: tuple[str, ...]) -> None:
        for member in sorted(set(previous.members) - set(resource.members)):
            revoke(self.gcp, "secretmanager", resource.secret, resource.role, member)
        self.create(resource)

    def delete(self, resource: SecretGrant) -> None:
        for member in resource.members:
            self.revoke(resource, member)

    def revoke(self, resource: SecretGrant, member: str) -> None:
        """Take `member` out (a secret already deleted took its policy with it)."""
        self.tolerate_missing(lambda: revoke(self.gcp, "secretmanager", resource.secret, resource.role, member))


class SchedulerJobs(Applier[SchedulerJob]):
    def create(self, resource: SchedulerJob) -> None:
        try:
            request = {"parent": self.names.location, "job": self.job(resource)}
            self.gcp.call("scheduler", "create_job", request=request)
        except AlreadyExists:
            self.update(resource, resource, tuple(JOB_MASK))

    def update(self, resource: SchedulerJob, previous: SchedulerJob, changes: tuple[str, ...]) -> None:
        paths = sorted({JOB_MASK[field] for field in changes})
        self.gcp.call("scheduler", "update_job", request={"job": self.job(resource), "update_mask": {"paths": paths}})

    def delete(self, resource: SchedulerJob) -> None:
        self.tolerate_missing(
            lambda: self.gcp.call("scheduler", "delete_job", request={"name": self.names.job_path(resource.name)})
        )

    def job(self, resource: SchedulerJob) -> dict[str, Any]:
        return {
            "name": self.names.job_path(resource.name),
            "description": resource.description,
            "schedule": resource.schedule,
            "time_zone": resource.time_zone,
            "pubsub_target": {"topic_name": resource.topic, "data": resource.data.encode("utf-8")},
        }


APPLIERS: dict[type[Resource], type[Applier[Any]]] = {
    ServiceAccount: ServiceAccounts,
    LeftoverBinding: LeftoverBindings,
    UnreadBindings: UnreadBindingsKept,
    StorageAgentGrant: StorageAgentGrants,
    Topic: Topics,
    Bucket: Buckets,
    BucketGrant: BucketGrants,
    Function: Functions,
    DeadLetterRoute: DeadLetterRoutes,
    DeadLetterSubscription: DeadLetterSubscriptions,
    PublicInvoker: PublicInvokers,
    SchedulerJob: SchedulerJobs,
    TriggerInvoker: TriggerInvokers,
    EventReceiverGrant: EventReceiverGrants,
    StateDatabase: StateDatabases,
    StateGrant: StateGrants,
    PublisherGrant: PublisherGrants,
    DelayQueue: DelayQueues,
    EnqueuerGrant: EnqueuerGrants,
    TokenGrant: TokenGrants,
    SecretContainer: SecretContainers,
    SecretGrant: SecretGrants,
}

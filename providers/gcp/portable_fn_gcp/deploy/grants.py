"""What an app's IAM bindings grant on Google Cloud, as `Grant`s: one per binding resource `desired` builds
(`resources`), each predefined role expanded to its permissions (`PERMISSIONS`). Pure: no Google call.

Each function runs as a service account of its own unless the app names one (`service_account`), so a grant
to an account one function alone runs as is that function's (`owners_of`); the grants to an account its
functions share are the app's as a whole (`function` None; each function's own declaration is still enforced at
run time, `check_access`). The bindings that go with one function (its public or trigger invoker, its
dead-letter route, its secrets) are that function's. Members deploy learns only when it applies (the default
compute account of a function deployed before, the Pub/Sub service agent) are spelled with `PROJECT_NUMBER` in
their place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from portable_fn.deploy import Resource
from portable_fn.deploy.grants import Grant

from .resources import (
    AGENT_DOMAIN,
    BucketGrant,
    DeadLetterRoute,
    EnqueuerGrant,
    EventReceiverGrant,
    Function,
    LeftoverBinding,
    PublicInvoker,
    PublisherGrant,
    SecretGrant,
    StateGrant,
    StorageAgentGrant,
    TokenGrant,
    TriggerInvoker,
)
from .routes import pubsub_agent

PUBLISHER, SUBSCRIBER, INVOKER = "roles/pubsub.publisher", "roles/pubsub.subscriber", "roles/run.invoker"
DEFAULT_ACCOUNT = "serviceAccount:PROJECT_NUMBER-compute@developer.gserviceaccount.com"
STORAGE_AGENT = f"serviceAccount:service-PROJECT_NUMBER@{AGENT_DOMAIN}"

# The permissions of each predefined role deploy grants, as Google's role reference lists them
# (https://cloud.google.com/iam/docs/roles-permissions/pubsub, .../cloudtasks, .../iam, .../datastore,
# .../run, .../eventarc, .../secretmanager; read 2026-12-06; .../storage and
# https://cloud.google.com/storage/docs/access-control/iam-roles, read 2026-12-07).
#
# A declared bucket's roles are granted on that one bucket. What the store calls needs storage.objects.get and
# .list to read, and .create and .delete besides to write (a put over an existing object needs both). The
# predefined roles hold a little more: objectViewer the managed folders' get and list; objectUser also
# storage.objects.update (an object's metadata), the managed folders' create/delete/get/list and
# storage.multipartUploads.* (listed expanded below, so no wildcard is granted), all on that bucket alone.
# A custom role of exactly those permissions would be narrower, at the price of a project-level role for
# deploy to make and keep.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    PUBLISHER: ("pubsub.topics.publish",),
    SUBSCRIBER: ("pubsub.snapshots.seek", "pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"),
    "roles/cloudtasks.enqueuer": ("cloudtasks.tasks.create",),
    "roles/iam.serviceAccountUser": (
        "iam.serviceAccounts.actAs",
        "iam.serviceAccounts.get",
        "iam.serviceAccounts.list",
        "resourcemanager.projects.get",
        "resourcemanager.projects.list",
    ),
    "roles/datastore.user": (
        "appengine.applications.get",
        "datastore.databases.get",
        "datastore.databases.getMetadata",
        "datastore.databases.list",
        "datastore.entities.allocateIds",
        "datastore.entities.create",
        "datastore.entities.delete",
        "datastore.entities.get",
        "datastore.entities.list",
        "datastore.entities.update",
        "datastore.indexes.list",
        "datastore.namespaces.get",
        "datastore.namespaces.list",
        "datastore.statistics.get",
        "datastore.statistics.list",
        "resourcemanager.projects.get",
        "resourcemanager.projects.list",
    ),
    "roles/datastore.viewer": (
        "appengine.applications.get",
        "datastore.databases.get",
        "datastore.databases.getMetadata",
        "datastore.databases.list",
        "datastore.entities.get",
        "datastore.entities.list",
        "datastore.indexes.get",
        "datastore.indexes.list",
        "datastore.namespaces.get",
        "datastore.namespaces.list",
        "datastore.statistics.get",
        "datastore.statistics.list",
        "resourcemanager.projects.get",
        "resourcemanager.projects.list",
    ),
    INVOKER: ("run.jobs.run", "run.routes.invoke"),
    "roles/secretmanager.secretAccessor": (
        "resourcemanager.projects.get",
        "resourcemanager.projects.list",
        "secretmanager.versions.access",
    ),
    "roles/eventarc.eventReceiver": ("eventarc.events.receiveAuditLogWritten", "eventarc.events.receiveEvent"),
    "roles/storage.objectViewer": (
        "resourcemanager.projects.get",
        "resourcemanager.projects.list",
        "storage.managedFolders.get",
        "storage.managedFolders.list",
        "storage.objects.get",
        "storage.objects.list",
    ),
    "roles/storage.objectUser": (
        "orgpolicy.policy.get",
        "resourcemanager.projects.get",
        "resourcemanager.projects.list",
        "storage.managedFolders.create",
        "storage.managedFolders.delete",
        "storage.managedFolders.get",
        "storage.managedFolders.list",
        "storage.multipartUploads.abort",
        "storage.multipartUploads.create",
        "storage.multipartUploads.list",
        "storage.multipartUploads.listParts",
        "storage.objects.create",
        "storage.objects.delete",
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.update",
    ),
}


def grants(desired: Sequence[Resource]) -> list[Grant]:
    """Every binding in `desired`, as a `Grant` with its role's permissions."""
    functions = {r.name: r for r in desired if isinstance(r, Function)}
    owners = owners_of(functions.values())
    out: list[Grant] = []
    for resource in desired:
        out += _grants_of(resource, functions, owners)
    return out


def owners_of(functions: Iterable[Function]) -> dict[str, str]:
    """Each IAM member one function alone runs as -> that function's name (an account functions share is the
    app's: not in the map)."""
    found: dict[str, list[str]] = {}
    for function in functions:
        found.setdefault(f"serviceAccount:{function.service_account}", []).append(function_name(function) or "")
    return {member: names[0] for member, names in found.items() if len(names) == 1 and names[0]}


def _grants_of(resource: Resource, functions: dict[str, Function], owners: dict[str, str]) -> list[Grant]:
    if isinstance(resource, LeftoverBinding):  # any role: its permissions are listed only when deploy grants it
        actions = PERMISSIONS.get(resource.role, ())
        return [
            Grant(owners.get(resource.member), resource.member, actions, f"projects/{resource.project}", resource.role)
        ]
    if isinstance(resource, PublisherGrant):
        return [grant(owners.get(resource.member), resource.member, resource.role, resource.topic)]
    if isinstance(resource, EnqueuerGrant):
        return [grant(owners.get(resource.member), resource.member, resource.role, resource.queue)]
    if isinstance(resource, TokenGrant):
        account = f"projects/-/serviceAccounts/{resource.name}"
        return [grant(owners.get(resource.member), resource.member, resource.role, account)]
    if isinstance(resource, SecretGrant):  # one per function that reads the secret, as the account it runs as
        # a member no function declares reading as (an account the app is leaving) is its function's, if one
        readers = [(fn or owners.get(member), member) for fn, member in resource.readers]
        return [grant(fn, member, resource.role, resource.secret) for fn, member in readers]
    if isinstance(resource, StateGrant):  # bound on the project, its condition naming this one database
        return [grant(owners.get(resource.member), resource.member, resource.role, resource.database)]
    if isinstance(resource, BucketGrant):  # in the bucket's own policy
        return [grant(owners.get(resource.member), resource.member, resource.role, bucket_path(resource.bucket))]
    if isinstance(resource, EventReceiverGrant):
        member = f"serviceAccount:{resource.name}"
        return [grant(owners.get(member), member, resource.role, f"projects/{resource.project}")]
    if isinstance(resource, StorageAgentGrant):
        # named by its pattern whether read or wanted: deploy learns the project number only when it applies,
        # and a plan compares the grants it reads back with those it wants
        return [grant(None, STORAGE_AGENT, PUBLISHER, f"projects/{resource.name}")]
    if isinstance(resource, (PublicInvoker, TriggerInvoker)) and resource.name in functions:
        function = functions[resource.name]
        return [grant(function_name(function), resource.member, resource.role, service_path(function))]
    if isinstance(resource, DeadLetterRoute) and resource.name in functions:
        return route_grants(resource, functions[resource.name])
    return []


def route_grants(route: DeadLetterRoute, function: Function) -> list[Grant]:
    """The runtime account's publisher role on the dead-letter topic; for a retrying trigger, the Pub/Sub
    service agent's publisher role there and subscriber role on the subscription Eventarc made for it."""
    fn, publisher = function_name(function), f"serviceAccount:{route.publisher}" if route.publisher else DEFAULT_ACCOUNT
    out = [grant(fn, publisher, PUBLISHER, route.dead_letter_topic)] if route.granted else []
    if route.trigger_source:
        agent, project = pubsub_agent("PROJECT_NUMBER"), route.dead_letter_topic.split("/")[1]
        out.append(grant(fn, agent, PUBLISHER, route.dead_letter_topic))
        out.append(grant(fn, agent, SUBSCRIBER, eventarc_subscriptions(project, function)))
    return out


def grant(function: str | None, member: str, role: str, resource: str) -> Grant:
    return Grant(function, member, PERMISSIONS[role], resource, role)


def bucket_path(bucket: str) -> str:
    """A Cloud Storage bucket as IAM names it (its full resource name: `_` for the project, as buckets are global)."""
    return f"projects/_/buckets/{bucket}"


def function_name(function: Function) -> str | None:
    """The app's name of the function (its id may be cut or folded)."""
    return dict(function.env).get("PORTABLE_FN_FUNCTION")


def service_path(function: Function) -> str:
    """The Cloud Run service behind a 2nd gen function: same id, in the function's project and region."""
    env = dict(function.env)
    return f"projects/{env['GOOGLE_CLOUD_PROJECT']}/locations/{env['PORTABLE_FN_REGION']}/services/{function.name}"


def eventarc_subscriptions(project: str, function: Function) -> str:
    """The subscription Eventarc makes for the function's trigger: its name is Eventarc's, known only once made."""
    region = dict(function.env)["PORTABLE_FN_REGION"]
    return f"projects/{project}/subscriptions/eventarc-{region}-{function.name}-*"

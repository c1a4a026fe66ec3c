"""Reading what an app and stage already have on Azure: found by tags, never by a local file.

Resource groups are listed by the app tag (and the stage tag checked), then the resources in them (and
in a group the settings name) by the same tags: storage account, plan, function app. What cannot be
tagged is read through its tagged parent: the queues, containers and role assignments of the app's storage account, its
state tables (told from the host's own tables by `naming.STATE_TABLE`, and read for whether they hold
entities: a table that does keeps itself, its account and its group on `remove`; see
`resources.StateTable`) and their role assignments, the blobs of its packages container, the function
app's web config and application settings (and, from its
`portable-fn-release` tag, the package its host took last), the event
subscriptions of its (system) topics (a webhook's host, when it is the function app's, read back as the
marker `APP_HOST`). A bucket's container (`naming.is_bucket_container`) is read for whether it holds blobs
(one that does keeps itself, its account and its group on `remove`, as a state table does). Role assignments
are read on the account, each state table, each queue and bucket container of the account and each custom
topic, and on the Service Bus entities the app's functions send to (`grant_scopes`, outside
its group); those kept are deploy's (`ROLE_DESCRIPTION`) and any other of the app's identity. The app's
custom roles (`roles`) are read by their ids in the subscription, where ARM keeps them. The functions' own
identities (`ManagedIdentity`) are read first, so a role assignment naming one reads back as that function's
(`FUNCTION_IDENTITY`) and a setting holding one's client id as its marker (`IDENTITY_CLIENT_ID`). A sender's
topic endpoint and key settings are read back as their markers. Only reads are made here (GET, list, and
the POSTs that list keys and settings and give a webhook subscription's full URL).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from portable_fn.deploy import RemoteState, Resource
from portable_fn.deploy.tags import user_tags, with_tags

from ..identity import IDENTITY_ENV_PREFIX
from ..publish import EVENT_GRID
from .appliers import Identities
from .client import AzureClient, arm_json, missing
from .desired import BLOBS_CONNECTION_SETTING, TABLES_CONNECTION_SETTING
from .naming import (
    FUNCTION_TAG,
    PACKAGES_CONTAINER,
    ROLE_DESCRIPTION,
    STATE_TABLE,
    STORAGE_ROLES,
    TAG_APP,
    TAG_RECORD,
    Names,
    has_tags,
    is_bucket_container,
)
from .resources import (
    APP_HOST,
    APP_IDENTITY,
    DEPLOYER,
    DEPLOYMENT_CONNECTION,
    FUNCTION_IDENTITY,
    IDENTITY_CLIENT_ID,
    RELEASE_TAG,
    STORAGE_CONNECTION,
    TOPIC_ENDPOINT,
    TOPIC_KEY,
    AppSettings,
    BlobContainer,
    EventGridTopic,
    EventSubscription,
    FunctionApp,
    FunctionPlan,
    KeyVault,
    ManagedIdentity,
    PackageBlob,
    Release,
    ResourceGroup,
    RoleAssignment,
    StateTable,
    StorageAccount,
    StorageQueue,
    SystemTopic,
    in_order,
)
from .roles import USES, definition, definition_guid, labels

ACCOUNTS, PLANS, SITES = "microsoft.storage/storageaccounts", "microsoft.web/serverfarms", "microsoft.web/sites"
VAULTS = "microsoft.keyvault/vaults"
IDENTITIES = "microsoft.managedidentity/userassignedidentities"
TOPICS, SYSTEM_TOPICS = "microsoft.eventgrid/topics", "microsoft.eventgrid/systemtopics"
ROLE_NAMES = {guid: role for role, guid in STORAGE_ROLES.items()}
TOPIC_SETTING = "PORTABLE_FN_TOPIC_"  # `channels.locator_env` of a topic
# The settings that may hold the storage connection string (read back as its marker, `STORAGE_CONNECTION`)
CONNECTION_SETTINGS = (
    "AzureWebJobsStorage",
    DEPLOYMENT_CONNECTION,
    TABLES_CONNECTION_SETTING,
    BLOBS_CONNECTION_SETTING,
)


class RemoteReader:
    """Reads one app and stage's resources into a `RemoteState`, in dependency order.

    `flex` is whether the settings want Flex Consumption (None: not known). A function app on the other
    side of that line is about to be replaced (Azure cannot move it), so what hangs on it is read as if it
    were gone already: its role assignments as another principal's, a webhook on its host name as on a
    foreign host, a subscription delivering to its functions without a destination. The plan then writes
    them again for the new app, and a rerun after a failure half-way finds the same differences."""

    def __init__(
        self,
        azure: AzureClient,
        names: Names,
        flex: bool | None = None,
        grant_scopes: tuple[tuple[str, str], ...] = (),
        deployer: str = "",
    ) -> None:
        self.azure = azure
        self.names = names
        self.flex = flex
        # (scope, label) read apart: Service Bus entities (outside the app's group), the app's declared secrets
        self.grant_scopes = grant_scopes
        self.deployer = deployer  # the deploying principal's object id: its role on the vault is `DEPLOYER`
        self._sites: dict[str, dict[str, Any]] = {}
        self._identities: dict[str, list[ManagedIdentity]] = {}  # the functions' identities, by group
        self._topics: dict[tuple[str, str], dict[str, Any]] = {}

    def read(self) -> RemoteState:
        resources: list[Resource] = []
        groups = self.groups()
        resources += [g for g in groups if isinstance(g, ResourceGroup)]
        for group in sorted({g.name for g in groups} | {self.names.resource_group}):
            resources += self.group_contents(group)
        for scope, label in self.grant_scopes:
            resources += self.role_assignments(self.names.resource_group, scope, label)
        resources += self.role_definitions()
        return RemoteState(in_order(kept_with_their_tables(resources)))

    def tag_filter(self) -> str:
        return f"tagName eq '{TAG_APP}' and tagValue eq '{self.names.app}'"

    def groups(self) -> list[ResourceGroup]:
        found = []
        for item in self.azure.resources.resource_groups.list(filter=self.tag_filter()):
            group = arm_json(item)
            if has_tags(group.get("tags"), self.names.app, self.names.stage):
                found.append(
                    ResourceGroup(
                        group["name"], location=group.get("location", ""), tags=user_tags(group.get("tags"), TAG_RECORD)
                    )
                )
        return found

    def group_contents(self, group: str) -> list[Resource]:
        try:
            items = [
                arm_json(i)
                for i in self.azure.resources.resources.list_by_resource_group(group, filter=self.tag_filter())
            ]
        except Exception as exc:
            if missing(exc):
                return []
            raise
        out: list[Resource] = []
        items = [i for i in items if has_tags(i.get("tags"), self.names.app, self.names.stage)]
        self._identities[group] = [self.identity(group, i) for i in items if i.get("type", "").lower() == IDENTITIES]
        for item in items:
            out += with_found_tags(self.item(group, item), item["name"], user_tags(item.get("tags"), TAG_RECORD))
        return out

    def item(self, group: str, item: dict[str, Any]) -> list[Resource]:
        """What one tagged resource of the group is, with what hangs off it."""
        kind = item.get("type", "").lower()
        if kind == ACCOUNTS:
            return self.storage_account(group, item["name"])
        if kind == PLANS:
            return [self.plan(group, item["name"])]
        if kind == SITES:
            return self.function_app(group, item["name"])
        if kind == TOPICS:
            return self.topic(group, item["name"])
        if kind == SYSTEM_TOPICS:
            return self.system_topic(group, item["name"])
        if kind == VAULTS:
            return self.vault(group, item["name"])
        if kind == IDENTITIES:
            return [i for i in self._identities.get(group, []) if i.name == item["name"]]
        return []

    def identity(self, group: str, item: dict[str, Any]) -> ManagedIdentity:
        """A function's identity: the function from its tag, its principal and client id as ARM answers them."""
        found = Identities(self.azure, group).get(item["name"])
        props = found.get("properties") or {}
        return ManagedIdentity(
            item["name"],
            resource_group=group,
            location=found.get("location", ""),
            function=(item.get("tags") or {}).get(FUNCTION_TAG, ""),
            principal_id=str(props.get("principalId") or ""),
            client_id=str(props.get("clientId") or ""),
        )

    def vault(self, group: str, name: str) -> list[Resource]:
        """The app's Key Vault and the roles at its scope (the deploying principal's); those on its secrets are
        read at the declared secrets' scopes (`grant_scopes`)."""
        found = arm_json(self.azure.keyvault.vaults.get(group, name))
        props = found.get("properties") or {}
        vault = KeyVault(
            name,
            resource_group=group,
            location=found.get("location", ""),
            sku=(props.get("sku") or {}).get("name", ""),
            rbac=bool(props.get("enableRbacAuthorization")),
            soft_delete=bool(props.get("enableSoftDelete")),
            retention_days=int(props.get("softDeleteRetentionInDays") or 0),
        )
        return [vault, *self.role_assignments(group, found["id"], name)]

    # -- storage: the account, its queues and containers, and the package blobs ----------------------
    def storage_account(self, group: str, name: str) -> list[Resource]:
        storage = self.azure.storage
        account = arm_json(storage.storage_accounts.get_properties(group, name))
        props = account.get("properties", {})
        out: list[Resource] = [
            StorageAccount(
                name,
                resource_group=group,
                location=account.get("location", ""),
                sku=account.get("sku", {}).get("name", ""),
                account_kind=account.get("kind", ""),
                https_only=bool(props.get("supportsHttpsTrafficOnly", False)),
                minimum_tls=props.get("minimumTlsVersion", ""),
                public_blob_access=bool(props.get("allowBlobPublicAccess", False)),
            )
        ]
        for item in storage.blob_containers.list(group, name):
            container = arm_json(item)["name"]
            found = BlobContainer(f"{name}/{container}", resource_group=group, account=name, container=container)
            if name == self.names.storage_account and is_bucket_container(container):
                out.append(replace(found, blobs=self.has_blobs(group, name, container)))
                scope = f"{account['id']}/blobServices/default/containers/{container}"
                out += self.role_assignments(group, scope, found.name)  # a function's role on its bucket
            else:
                out.append(found)
        for item in storage.queue.list(group, name):
            queue = arm_json(item)["name"]
            out.append(StorageQueue(f"{name}/{queue}", resource_group=group, account=name, queue=queue))
            if name == self.names.storage_account:  # a sender's role on the queue
                scope = f"{account['id']}/queueServices/default/queues/{queue}"
                out += self.role_assignments(group, scope, f"{name}/{queue}")
        if name == self.names.storage_account:
            out += self.package_blobs(group, name)
            out += self.role_assignments(group, account["id"])
            out += self.state_tables(group, name, account["id"])
        return out

    def state_tables(self, group: str, account: str, account_id: str) -> list[Resource]:
        """Deploy's tables in the account (by name), whether each holds entities, and their roles."""
        out: list[Resource] = []
        for item in self.azure.storage.table.list(group, account):
            table = arm_json(item)["name"]
            if not STATE_TABLE.fullmatch(table):
                continue  # the Functions host's own (AzureFunctionsDiagnosticEvents...), or the user's
            entities = self.has_entities(group, account, table)
            out.append(
                StateTable(f"{account}/{table}", resource_group=group, account=account, table=table, entities=entities)
            )
            scope = f"{account_id}/tableServices/default/tables/{table}"
            out += self.role_assignments(group, scope, f"{account}/{table}")
        return out

    def has_entities(self, group: str, account: str, table: str) -> bool:
        """Whether the table holds an entity, asked on the data plane (one entity at most is read)."""
        service = self.azure.tables(self.azure.storage_connection_string(group, account))
        try:
            return any(True for _ in service.get_table_client(table).list_entities(results_per_page=1, select=["key"]))
        except Exception as exc:
            if missing(exc):
                return False
            raise

    def has_blobs(self, group: str, account: str, container: str) -> bool:
        """Whether a bucket's container holds a blob, asked on the data plane (one name at most is read)."""
        service = self.azure.blobs(self.azure.storage_connection_string(group, account))
        try:
            return any(True for _ in service.get_container_client(container).list_blob_names(results_per_page=1))
        except Exception as exc:
            if missing(exc):  # made through ARM only (an emulator that does not share ARM's view): empty
                return False
            raise

    def role_assignments(self, group: str, scope: str, label: str | None = None) -> list[Resource]:
        """Role assignments at `scope` itself (the account, or a state table named `label`) that deploy made
        or that name the app's identity. One of another principal (the app was recreated) is named apart,
        so the planner replaces it."""
        principal, account = self.app_principal(group), label or scope.rsplit("/", 1)[-1]
        functions = {i.principal_id: i for i in self._identities.get(group, []) if i.principal_id}
        out: list[Resource] = []
        try:
            found_here = list(self.azure.authorization.role_assignments.list_for_scope(scope, filter="atScope()"))
        except Exception as exc:
            if missing(exc):  # the scope is gone (a Service Bus entity deleted by its owner): nothing on it
                return []
            raise
        for item in found_here:
            found = arm_json(item)
            props = found.get("properties", {})
            ours = principal and props.get("principalId") == principal
            if props.get("scope", "").lower() != scope.lower() or not (
                ours or props.get("principalId") in functions or props.get("description") == ROLE_DESCRIPTION
            ):
                continue
            role_id = props.get("roleDefinitionId", "")
            guid = role_id.rsplit("/", 1)[-1]
            role = ROLE_NAMES.get(guid) or labels(self.names).get(guid, guid)
            deployer = bool(self.deployer) and props.get("principalId") == self.deployer
            marker = APP_IDENTITY if ours else DEPLOYER if deployer else str(props.get("principalId"))
            name = f"{account}/{role}" if ours or deployer else f"{account}/{role} ({props.get('principalId')})"
            own = functions.get(str(props.get("principalId")))
            if own is not None:  # a function's own identity
                marker, name = FUNCTION_IDENTITY + own.name, f"{account}/{role} for {own.function}"
            out.append(
                RoleAssignment(
                    name,
                    scope=scope,
                    role_definition_id=role_id,
                    principal=marker,
                    assignment_id=found["name"],
                    function=own.function if own is not None else "",
                )
            )
        return out

    def role_definitions(self) -> list[Resource]:
        """The app and stage's custom roles (`roles`), each read by its id: ARM keeps them in the subscription,
        outside the app's group, and their GUIDs are known from the names alone."""
        found: list[Resource] = []
        scope = f"/subscriptions/{self.names.subscription}"
        for use in USES:
            try:
                item = arm_json(self.azure.authorization.role_definitions.get(scope, definition_guid(self.names, use)))
            except Exception as exc:
                if missing(exc):
                    continue
                raise
            props = item.get("properties") or {}
            permissions = (props.get("permissions") or [{}])[0]
            found.append(
                replace(
                    definition(self.names, use),
                    name=str(props.get("roleName", "")),
                    description=str(props.get("description", "")),
                    actions=tuple(permissions.get("actions") or ()),
                    data_actions=tuple(permissions.get("dataActions") or ()),
                    assignable_scopes=tuple(props.get("assignableScopes") or ()),
                )
            )
        return found

    def app_principal(self, group: str) -> str:
        """The principal id of the function app's identity, or "" when there is no app (yet)."""
        return str((self.site(group).get("identity") or {}).get("principalId") or "")

    def app_host(self, group: str) -> str:
        """The function app's default host name as ARM answers it, or "" when there is no app (yet)."""
        return str(self.site(group).get("properties", {}).get("defaultHostName") or "")

    def site(self, group: str) -> dict[str, Any]:
        """The function app in `group` as ARM answers it, read once per group; {} when there is none or
        it is about to be replaced."""
        if group not in self._sites:
            try:
                self._sites[group] = arm_json(self.azure.web.web_apps.get(group, self.names.function_app))
            except Exception as exc:
                if not missing(exc):
                    raise
                self._sites[group] = {}
        found = self._sites[group]
        flex = bool(found.get("properties", {}).get("functionAppConfig"))
        return {} if self.flex is not None and found and flex != self.flex else found

    def package_blobs(self, group: str, account: str) -> list[Resource]:
        service = self.azure.blobs(self.azure.storage_connection_string(group, account))
        try:
            container = service.get_container_client(PACKAGES_CONTAINER)
            names = [b["name"] for b in container.list_blobs(name_starts_with=self.names.package_prefix)]
        except Exception as exc:
            if missing(exc):
                return []
            raise
        return [PackageBlob(f"{PACKAGES_CONTAINER}/{blob}", container=PACKAGES_CONTAINER, blob=blob) for blob in names]

    # -- web: the plan, the function app and its settings --------------------------------------------
    def plan(self, group: str, name: str) -> FunctionPlan:
        plan = arm_json(self.azure.web.app_service_plans.get(group, name))
        sku = plan.get("sku", {})
        return FunctionPlan(
            name,
            resource_group=group,
            location=plan.get("location", ""),
            sku=sku.get("name", ""),
            tier=sku.get("tier", ""),
            reserved=bool(plan.get("properties", {}).get("reserved")),
        )

    def function_app(self, group: str, name: str) -> list[Resource]:
        web = self.azure.web.web_apps
        site = arm_json(web.get(group, name))
        props = site.get("properties", {})
        config = arm_json(web.get_configuration(group, name)).get("properties", {})
        identity = site.get("identity") or {}
        flex = props.get("functionAppConfig") or {}
        storage = (flex.get("deployment") or {}).get("storage") or {}
        scale = flex.get("scaleAndConcurrency") or {}
        app = FunctionApp(
            name,
            resource_group=group,
            location=site.get("location", ""),
            plan_id=props.get("serverFarmId", ""),
            site_kind=site.get("kind", ""),
            https_only=bool(props.get("httpsOnly")),
            identity=identity.get("type", "None"),
            user_identities=tuple(sorted(i.rsplit("/", 1)[-1] for i in identity.get("userAssignedIdentities") or {})),
            linux_fx_version=config.get("linuxFxVersion") or "",
            deployment_storage=storage.get("value") or "",
            deployment_auth=(storage.get("authentication") or {}).get("type") or "",
            runtime_version=(flex.get("runtime") or {}).get("version") or "",
            instance_memory_mb=int(scale.get("instanceMemoryMB") or 0),
            maximum_instance_count=int(scale.get("maximumInstanceCount") or 0),
            host_name=props.get("defaultHostName", ""),
            principal_id=identity.get("principalId", ""),
        )
        settings = arm_json(web.list_application_settings(group, name)).get("properties") or {}
        normalized = self.topic_markers(
            group, {key: self.normalize(group, key, value) for key, value in settings.items()}
        )
        found: list[Resource] = [
            app,
            AppSettings(name, resource_group=group, settings=tuple(sorted(normalized.items()))),
        ]
        released = (site.get("tags") or {}).get(RELEASE_TAG)
        if released:
            found.append(Release(name, resource_group=group, package=released, flex=bool(flex)))
        return found

    def normalize(self, group: str, key: str, value: str) -> str:
        """Secrets back to what `desired` says: the storage connection string to its marker, the package
        URL without its SAS query."""
        if key == "WEBSITE_RUN_FROM_PACKAGE":
            return urlunsplit(urlsplit(value)._replace(query=""))
        if key.startswith(IDENTITY_ENV_PREFIX):  # a function's identity's client id, when it is one of the app's
            named = {i.client_id: i.name for i in self._identities.get(group, []) if i.client_id}
            return IDENTITY_CLIENT_ID + named[value] if value in named else value
        if key not in CONNECTION_SETTINGS:
            return value
        try:
            current = self.azure.storage_connection_string(group, self.names.storage_account)
        except Exception as exc:
            if missing(exc):  # the account is gone: the setting no longer matches anything deploy made
                return value
            raise
        return STORAGE_CONNECTION if value == current else value

    def topic_markers(self, group: str, settings: dict[str, str]) -> dict[str, str]:
        """A sender's topic settings back to what `desired` says: the endpoint of a topic of the app's group
        (`event-grid:https://<topic>.<region>-1.eventgrid.azure.net/api/events`) to `TOPIC_ENDPOINT`, and its
        key beside it to `TOPIC_KEY`, when they are that topic's."""
        out = dict(settings)
        for key, value in settings.items():
            if not (key.startswith(TOPIC_SETTING) and value.startswith(f"{EVENT_GRID}:")):
                continue
            endpoint = value.split(":", 1)[1]
            topic = (urlsplit(endpoint).hostname or "").split(".")[0]
            found = self.custom_topic(group, topic)
            if not topic or found.get("properties", {}).get("endpoint") != endpoint:
                continue
            out[key] = TOPIC_ENDPOINT + topic
            if out.get(key + "_KEY") and out[key + "_KEY"] == self.topic_key(group, topic):
                out[key + "_KEY"] = TOPIC_KEY + topic
        return out

    def custom_topic(self, group: str, topic: str) -> dict[str, Any]:
        """A custom topic of `group` as ARM answers it, read once; {} when there is none."""
        if (group, topic) not in self._topics:
            try:
                self._topics[group, topic] = arm_json(self.azure.eventgrid.topics.get(group, topic))
            except Exception as exc:
                if not missing(exc):
                    raise
                self._topics[group, topic] = {}
        return self._topics[group, topic]

    def topic_key(self, group: str, topic: str) -> str:
        return str(arm_json(self.azure.eventgrid.topics.list_shared_access_keys(group, topic)).get("key1") or "")

    # -- Event Grid: the topics and their subscriptions -------------------------------------------
    def topic(self, group: str, name: str) -> list[Resource]:
        grid = self.azure.eventgrid
        topic = self.custom_topic(group, name)
        props = topic.get("properties", {})
        found: list[Resource] = [
            EventGridTopic(
                name,
                resource_group=group,
                location=topic.get("location", ""),
                input_schema=props.get("inputSchema", ""),
                endpoint=props.get("endpoint", ""),
            )
        ]
        for item in grid.topic_event_subscriptions.list(group, name):
            found.append(self.subscription(group, name, False, arm_json(item)))
        return found + self.role_assignments(group, topic["id"], name)  # a sender's role on the topic

    def system_topic(self, group: str, name: str) -> list[Resource]:
        grid = self.azure.eventgrid
        topic = arm_json(grid.system_topics.get(group, name))
        props = topic.get("properties", {})
        found: list[Resource] = [
            SystemTopic(
                name,
                resource_group=group,
                location=topic.get("location", ""),
                source=props.get("source", ""),
                topic_type=props.get("topicType", ""),
            )
        ]
        for item in grid.system_topic_event_subscriptions.list_by_system_topic(group, name):
            found.append(self.subscription(group, name, True, arm_json(item)))
        return found

    def subscription(self, group: str, topic: str, system: bool, found: dict[str, Any]) -> EventSubscription:
        props = found.get("properties", {})
        destination = props.get("destination") or {}
        endpoint_type = destination.get("endpointType", "")
        target = (destination.get("properties") or {}).get("resourceId", "")
        if endpoint_type == "WebHook":
            target = self.webhook_url(group, topic, system, found["name"])
        elif target.lower().startswith(f"{self.names.site_id.lower()}/") and not self.site(self.names.resource_group):
            target = ""  # its function app is gone or about to be replaced: deliver to the new one
        filters = props.get("filter") or {}
        dead_letter = (props.get("deadLetterDestination") or {}).get("properties") or {}
        return EventSubscription(
            f"{topic}/{found['name']}",
            resource_group=group,
            topic=topic,
            system_topic=system,
            endpoint_type=endpoint_type,
            destination=target,
            event_types=tuple(filters.get("includedEventTypes") or ()),
            subject_begins_with=filters.get("subjectBeginsWith") or "",
            subject_ends_with=filters.get("subjectEndsWith") or "",
            delivery_schema=props.get("eventDeliverySchema", ""),
            max_delivery_attempts=int((props.get("retryPolicy") or {}).get("maxDeliveryAttempts") or 30),
            dead_letter_account=dead_letter.get("resourceId") or "",
            dead_letter_container=dead_letter.get("blobContainerName") or "",
        )

    def webhook_url(self, group: str, topic: str, system: bool, name: str) -> str:
        """A webhook subscription's URL without its `code` key (ARM only shows the full URL on request), on
        `APP_HOST` when it is the function app's host."""
        grid = self.azure.eventgrid
        operations = grid.system_topic_event_subscriptions if system else grid.topic_event_subscriptions
        url = str(arm_json(operations.get_full_url(group, topic, name)).get("endpointUrl", ""))
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "code"]
        host = self.app_host(group)
        netloc = APP_HOST if host and parts.netloc.lower() == host.lower() else parts.netloc
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe=".")))


def kept_with_their_tables(resources: list[Resource]) -> list[Resource]:
    """A state table holding entities or a bucket's container holding blobs lives in the app's storage account,
    in its group: removing either would delete it, so both hold data too when it does. The Key Vault (which
    holds data) lives in the group: the group holds data too."""
    tables = any(isinstance(r, (StateTable, BlobContainer)) and r.holds_data() for r in resources)
    vault = any(isinstance(r, KeyVault) for r in resources)
    out: list[Resource] = []
    for r in resources:
        if (isinstance(r, StorageAccount) and tables) or (isinstance(r, ResourceGroup) and (tables or vault)):
            out.append(replace(r, holds_state=True))
        else:
            out.append(r)
    return out


def with_found_tags(resources: list[Resource], name: str, tags: tuple[tuple[str, str], ...]) -> list[Resource]:
    """`resources` read for the tagged resource `name`, it carrying the user's tags found on it (what hangs
    off it, its queues, settings or subscriptions, takes no tags)."""
    return [with_tags([r], tags)[0] if r.name == name else r for r in resources]

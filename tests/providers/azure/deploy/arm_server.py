"""A small HTTPS endpoint on 127.0.0.1 that answers like Azure Resource Manager for the subset deploy uses.

It is strict where ARM is: every request must carry the bearer token and the api-version the official
client of that namespace sends, bodies must use ARM's camelCase field names (a snake_case key, which a
hand-written dict or a mis-serialized model would send, is refused) and carry the fields the real service
requires. It answers as ARM does: 200/201 for synchronous PUTs, 202 + `Location` for storage account
creation and resource group deletion, 202 + `Azure-AsyncOperation` for function app creation (polled twice
before it succeeds), 201/202 + `Azure-AsyncOperation` for Event Grid topics, system topics and event
subscriptions. Event Grid's own checks are played too: one system topic per source, in the source's
location; a subscription's function must exist, and a webhook to the blobs extension must reach a site's
`defaultHostName` (`<app>-<hash>.<region>-01.azurewebsites.net` for Flex sites, and for all new sites when
`state.unique_host_names` is set) with the host's `blobs_extension` key (the validation handshake would
fail otherwise); a CloudEvents topic delivers CloudEvents only. Role assignments are checked as ARM checks
them: a GUID name, a built-in role of the subscription, a principal that exists, no second assignment of
one role to one principal at one scope, and no change to an existing one. Flex Consumption is checked as
the platform checks it: an FC1/FlexConsumption plan, a site with `functionAppConfig` (deployment
container, runtime, scale) and no `linuxFxVersion`, none of the app settings Flex refuses, and neither a
plan nor a site moves to or from Flex Consumption in place (a plan holding a site cannot be deleted). A Flex
app takes its package as the platform documents it (and `az functionapp deployment source config-zip`, the
functions action and Core Tools send it): the zip POSTed to its SCM host's `/api/publish` (Kudu's One
Deploy, reached here at `url` with the SCM host in `Host`), which answers 202 with the deployment's id and
a `Location` to poll at `/api/deployments/<id>` until `status` is 4 (success) or 3 (failed); the platform
writes the package into the deployment container, which it reaches with the app's identity (a blob data
role; until then Kudu answers 400 BlobUploadFailedException) or the named connection string.
`state.failed_deployments` makes the next publishes end failed. Every ARM request is held to the published
API description of its namespace and api-version (`arm_spec`, the excerpts in tests/data/azure/
azure-rest-api-specs): it must be an operation the excerpt holds, and its body (a site PUT is a `Site`, a
site PATCH a `SitePatchResource`, OneDeploy's PUT takes none) may hold no property the schema does not
define, no value of another type or outside its enum, and must hold what it requires, or it is refused with
the words ARM's deserializer uses (InvalidRequestContent, "Could not find member ..."); the fake's own
answers are held to the operation's status codes and response schema. A
PUT of an existing site keeps its identity, its app settings unless `siteConfig.appSettings` is given, and
its config unless given, and replaces its tags. On the other
plans syncing triggers mounts `WEBSITE_RUN_FROM_PACKAGE` (a SAS URL fetched for real, a URL without SAS
only with `WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID` and a blob data role of the app's identity; without
it the host cannot start, and syncing answers 400 "Encountered an error (ServiceUnavailable) from host
runtime", as Azure does). Event Grid reaches a function or the blobs webhook only on a host that runs a
package. With `state.role_delay` set, a new role assignment takes effect only after that many checks of it
failed, as Azure applies them after a while; with `state.host_start_delay`, a host that took a package
answers Event Grid only after that many tries, as it takes a while to start. The Tags API (`Merge`, `Replace`, `Delete`)
is played at a site's scope. A Key Vault gets its spec's defaults and its `vaultUri`; deleting it keeps it
soft-deleted (its name refused, ConflictError) until purged; its secrets are resources here once the fake Key
Vault has them, so a role scoped to a missing secret is ResourceNotFound, as ARM answers; `state.directory`
holds the users and service principals (a deployer) a role may name besides the sites' identities. Paths are
case-insensitive, as in ARM. Every request is kept in `requests`
for the tests (`mutating` and `tagged` list those that change something and the Tags API's), and
`fail_once` makes the next matching request answer with an error.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import ssl
import threading
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from urllib.request import urlopen


def _load_arm_spec() -> Any:
    """The spec checker beside this file (test directories are not packages here)."""
    import importlib.util
    import sys

    name = "portable_fn_tests_arm_spec"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("arm_spec.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


arm_spec = _load_arm_spec()

SUB = r"/subscriptions/(?P<sub>[^/]+)"
GROUP = SUB + r"/resourcegroups/(?P<group>[^/]+)"
ACCOUNT = GROUP + r"/providers/microsoft\.storage/storageaccounts/(?P<account>[^/]+)"
SITE = GROUP + r"/providers/microsoft\.web/sites/(?P<site>[^/]+)"
GRID = GROUP + r"/providers/microsoft\.eventgrid/(?P<topickind>topics|systemtopics)/(?P<topic>[^/]+)"
TABLE = ACCOUNT + r"/tableservices/default/tables/(?P<table>[^/]+)"
ROLES = ACCOUNT + r"/providers/microsoft\.authorization/roleassignments"
TABLE_ROLES = TABLE + r"/providers/microsoft\.authorization/roleassignments"
# a sender's roles: on a queue, a custom topic, a Service Bus entity (which tests put in `state.resources`)
QUEUE_ROLES = ACCOUNT + r"/queueservices/default/queues/[^/]+/providers/microsoft\.authorization/roleassignments"
CONTAINER_ROLES = ACCOUNT + r"/blobservices/default/containers/[^/]+/providers/microsoft\.authorization/roleassignments"
TOPIC_ROLES = GRID + r"/providers/microsoft\.authorization/roleassignments"
VAULT = GROUP + r"/providers/microsoft\.keyvault/vaults/(?P<vault>[^/]+)"
IDENTITY = GROUP + r"/providers/microsoft\.managedidentity/userassignedidentities/(?P<identity>[^/]+)"
# Microsoft.ManagedIdentity's rule for an identity's name: 3-128, a letter or digit first, then also - and _
IDENTITY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,127}")
VAULT_ROLES = VAULT + r"(/secrets/[^/]+)?/providers/microsoft\.authorization/roleassignments"
PURGE = SUB + r"/providers/microsoft\.keyvault/locations/(?P<location>[^/]+)/deletedvaults/(?P<vault>[^/]+)/purge"
BUS_ROLES = (
    SUB + r"/resourcegroups/[^/]+/providers/microsoft\.servicebus/namespaces/[^/]+/(queues|topics)/[^/]+"
    r"/providers/microsoft\.authorization/roleassignments"
)
DEFINITION = SUB + r"/providers/microsoft\.authorization/roledefinitions/(?P<definition>[^/]+)"
BUS_ENTITY = (
    SUB + r"/resourcegroups/[^/]+/providers/microsoft\.servicebus/namespaces/[^/]+"
    r"/(queues/[^/]+|topics/[^/]+/subscriptions/[^/]+)"
)
BUILT_IN_ROLES = {  # from the Azure built-in roles reference, independent of the code under test
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
    "d5a91429-5739-47e2-a06b-3470a27159e7": "EventGrid Data Sender",
    "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
}
VAULT_NAME = re.compile(r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]")  # Key Vault's naming rule, 3-24
# Table_Create's tableName parameter, as the storage spec defines it (the excerpt keeps body schemas only)
TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NAMESPACE = re.compile(r"/providers/(microsoft\.[a-z]+)/")
SNAKE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")
FREE_FORM = {"tags", "metadata"}  # maps whose keys are the user's, not ARM field names
TAGS_API = "/providers/microsoft.resources/tags/default"  # a scope's tags, lowercase
KUDU_SUCCESS, KUDU_FAILED = 4, 3  # Kudu's DeployStatus: 0 pending, 1 building, 2 deploying, 3 failed, 4 success


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Failure:
    method: str
    path_suffix: str
    status: int
    code: str
    message: str


@dataclass
class ArmState:
    """What the fake ARM holds: resources by lowercase id, pending operations, the request log."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # webhook URLs ARM never shows, by subscription id
    host_keys: dict[str, dict[str, str]] = field(default_factory=dict)  # system keys by site id
    deployed: dict[str, list[str]] = field(default_factory=dict)  # Flex: sha256 of each OneDeploy, by site id
    mounted: dict[str, str] = field(default_factory=dict)  # Linux Consumption: the package URL or sha256, by site
    unique_host_names: bool = False  # new sites get <app>-<hash>.<region>-01.azurewebsites.net (Flex always)
    role_delay: int = 0  # a new role assignment takes effect only after this many checks of it have failed
    principal_delay: int = 0  # this many role assignment PUTs are answered PrincipalNotFound (not replicated)
    host_start_delay: int = 0  # a host that took a package answers Event Grid only after this many tries
    starting: dict[str, int] = field(default_factory=dict)  # tries left until the host is up, by site id
    pending_roles: dict[str, int] = field(default_factory=dict)  # checks left, by role assignment id
    failed_deployments: int = 0  # the next this many Kudu publishes end failed (status 3)
    kudu_deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by deployment id
    directory: set[str] = field(default_factory=set)  # object ids of users and service principals (not identities)
    deleted_vaults: dict[str, dict[str, Any]] = field(default_factory=dict)  # soft-deleted, by lowercase name
    incarnations: dict[str, str] = field(default_factory=dict)  # a vault made anew gets a new one, by its id


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeArm:
    """The endpoint: `start()` it with a certificate; `url` is its base URL."""

    def __init__(self, cert_file: str, key_file: str, token: str, api_versions: dict[str, str]) -> None:
        self.token = token
        self.api_versions = api_versions  # "resources" | "microsoft.storage" | "microsoft.web" -> version
        self.state = ArmState()
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"arm": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> FakeArm:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.state = ArmState()

    def fail_once(
        self,
        method: str,
        path_suffix: str,
        status: int = 400,
        code: str = "InjectedFailure",
        message: str = "injected outage",
    ) -> None:
        self.state.failures.append(Failure(method, path_suffix.lower(), status, code, message))

    def find(self, suffix: str) -> dict[str, Any] | None:
        """A stored resource whose id ends with `suffix` (case-insensitive)."""
        return next((r for k, r in self.state.resources.items() if k.endswith(suffix.lower())), None)

    def mutating(self, since: int = 0) -> list[tuple[str, str]]:
        """(method, path) of each PUT, PATCH, DELETE or POST from request `since` on (`len(state.requests)`
        taken before)."""
        requests = self.state.requests[since:]
        return [(r.method, r.path) for r in requests if r.method in {"PUT", "PATCH", "DELETE", "POST"}]

    def tagged(self, since: int = 0) -> list[tuple[str, str, dict[str, str]]]:
        """(operation, scope, tags) of each Tags API PATCH from request `since` on: the audit trail's tags on
        the function app (`pfn-audit-*`, merged) are named by these, apart from the deploy's release tag."""
        return [
            (r.body["operation"], r.path.rsplit("/providers/", 1)[0], dict(r.body["properties"]["tags"]))
            for r in self.state.requests[since:]
            if r.method == "PATCH" and r.path.lower().endswith(TAGS_API)
        ]

    # -- dispatch -----------------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, query: dict[str, str], headers: Any, body: Any
    ) -> tuple[int, dict[str, str], Any]:
        path = unquote(raw_path).rstrip("/")
        low = path.lower()
        self.state.requests.append(Recorded(method, path, query, body, headers=dict(headers.items())))
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise ArmError(401, "AuthenticationFailed", "The bearer token is missing or wrong.")
        if low.startswith("/_poll/"):
            return self.poll(low.rsplit("/", 1)[-1])
        kudu_host = low.startswith("/api/")  # a site's SCM host (Kudu), named by the Host header
        if not kudu_host:
            self.check_api_version(low, query)
        for failure in list(self.state.failures):
            if failure.method == method and low.endswith(failure.path_suffix):
                self.state.failures.remove(failure)
                raise ArmError(failure.status, failure.code, failure.message)
        if kudu_host:
            return kudu(self, method, low, query, headers, body)
        if body is not None:
            check_field_names(body)
        operation = held_to_spec(namespace_of(low), method, path, body)
        for pattern, route in ROUTES:
            match = re.fullmatch(pattern, low)
            if match:
                answer = route(self, method, path, match.groupdict(), query, body)
                if operation is not None:
                    with spec_words():
                        arm_spec.check_response(operation, answer[0], answer[2])
                return answer
        raise ArmError(404, "NoRegisteredProviderFound", f"No route for {method} {path}.")

    def check_api_version(self, low: str, query: dict[str, str]) -> None:
        namespace = namespace_of(low)
        expected = self.api_versions[namespace]
        if query.get("api-version") != expected:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"api-version {query.get('api-version')!r} is not {expected!r} for {namespace}.",
            )

    # -- long-running operations ---------------------------------------------------------------------
    def operation(self, kind: str, polls: int, on_done: dict[str, Any] | None = None) -> str:
        op = uuid.uuid4().hex
        self.state.operations[op] = {"kind": kind, "left": polls, "done": on_done}
        return f"{self.url}/_poll/{op}"

    def poll(self, op: str) -> tuple[int, dict[str, str], Any]:
        record = self.state.operations[op]
        record["left"] -= 1
        finished = record["left"] <= 0
        if record["kind"] == "async":  # Azure-AsyncOperation: always 200 with a status
            return 200, {}, {"status": "Succeeded" if finished else "InProgress"}
        if not finished:  # Location: 202 while running, then 200 with the final body (or 204)
            return 202, {"Location": f"{self.url}/_poll/{op}"}, None
        return (200, {}, record["done"]) if record["done"] is not None else (204, {}, None)

    # -- helpers for routes -----------------------------------------------------------------------
    def get(self, path: str, code: str = "ResourceNotFound") -> dict[str, Any]:
        found = self.state.resources.get(path.lower())
        if found is None:
            raise ArmError(404, code, f"The resource '{path}' was not found.")
        return found

    def put(self, path: str, resource: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status = 200 if path.lower() in self.state.resources else 201
        self.state.resources[path.lower()] = resource
        return status, resource

    def delete(self, path: str) -> int:
        gone = [k for k in self.state.resources if k == path.lower() or k.startswith(path.lower() + "/")]
        for key in gone:
            del self.state.resources[key]
        return 200 if gone else 204

    def children(self, path: str, kind: str) -> list[dict[str, Any]]:
        prefix = path.lower() + "/"
        return [
            r
            for k, r in sorted(self.state.resources.items())
            if k.startswith(prefix) and r.get("type", "").lower() == kind.lower()
        ]

    def require_group(self, sub: str, group: str) -> None:
        self.get(f"/subscriptions/{sub}/resourceGroups/{group}", "ResourceGroupNotFound")


def check_field_names(value: Any, key: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if SNAKE.match(k) and key not in FREE_FORM:
                raise ArmError(400, "InvalidRequestContent", f"Unknown field {k!r}: ARM field names are camelCase.")
            if k not in FREE_FORM:
                check_field_names(v, k)
    elif isinstance(value, list):
        for item in value:
            check_field_names(item, key)


def require(body: Any, *paths: str) -> None:
    for dotted in paths:
        value = body
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            raise ArmError(400, "InvalidRequestContent", f"The request body has no '{dotted}'.")


def namespace_of(low: str) -> str:
    """The resource provider a path is served by: the last one named (role assignments sit on accounts), and
    `resources` for groups, their resources and the Tags API."""
    found = NAMESPACE.findall(low)
    return found[-1] if found and found[-1] != "microsoft.resources" else "resources"


@contextmanager
def spec_words() -> Iterator[None]:
    """A refusal of the published description, answered as ARM answers it."""
    try:
        yield
    except arm_spec.SpecViolation as exc:
        raise ArmError(exc.status, exc.code, exc.message) from None


def held_to_spec(namespace: str, method: str, path: str, body: Any) -> Any:
    """The operation of the namespace's excerpt that `method path` is, its request body checked against it
    (None for a namespace without an excerpt)."""
    owner = arm_spec.spec(namespace)
    if owner is None:
        return None
    with spec_words():
        operation = owner.operation(method, path)
        arm_spec.check_request(operation, body)
    return operation


SITE_OPERATION = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Web/sites/{name}"
)


def check_body(template: str, method: str, body: Any) -> None:
    """`body` held to the body parameter of the Microsoft.Web operation at `template`, `method`."""
    owner = arm_spec.spec("microsoft.web")
    with spec_words():
        arm_spec.check_request(
            arm_spec.Operation(
                "microsoft.web", template, method.lower(), owner.document["paths"][template][method.lower()]
            ),
            body,
        )


def readonly(definition: str, key: str) -> bool:
    """Whether the Microsoft.Web excerpt marks `key` of `definition` read-only (ARM ignores it in a request)."""
    owner = arm_spec.spec("microsoft.web")
    found = owner.definition(f"#/definitions/{definition}") if owner else None
    properties = arm_spec.Checker(owner, request=False).members(found)[0] if owner and found else {}
    return bool((properties.get(key) or {}).get("readOnly"))


def tag_filter(query: dict[str, str]) -> tuple[str, str] | None:
    text = query.get("$filter", "")
    match = re.fullmatch(r"tagName eq '([^']*)' and tagValue eq '([^']*)'", text)
    if text and not match:
        raise ArmError(400, "InvalidFilterInQueryString", f"Unsupported $filter {text!r}.")
    return (match.group(1), match.group(2)) if match else None


def matches(resource: dict[str, Any], wanted: tuple[str, str] | None) -> bool:
    return wanted is None or (resource.get("tags") or {}).get(wanted[0]) == wanted[1]


Answer = tuple[int, dict[str, str], Any]


# -- resource groups and the generic resource list ------------------------------------------------------
def groups(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    wanted = tag_filter(query)
    kind = "Microsoft.Resources/resourceGroups"
    found = [r for r in arm.children(path.rsplit("/", 1)[0], kind) if matches(r, wanted)]
    return 200, {}, {"value": found}


def group(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    name = path.rsplit("/", 1)[-1]
    if method == "PUT":
        require(body, "location")
        status, stored = arm.put(
            path,
            {
                "id": path,
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": body["location"],
                "tags": body.get("tags") or {},
                "properties": {"provisioningState": "Succeeded"},
            },
        )
        return status, {}, stored
    if method == "DELETE":
        arm.get(path, "ResourceGroupNotFound")
        arm.delete(path)
        return 202, {"Location": arm.operation("location", 2)}, None
    return 200, {}, arm.get(path, "ResourceGroupNotFound")


def group_resources(
    arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any
) -> Answer:
    arm.require_group(ids["sub"], ids["group"])
    wanted = tag_filter(query)
    prefix = path.lower().rsplit("/resources", 1)[0] + "/providers/"
    tracked = [
        r
        for k, r in sorted(arm.state.resources.items())
        if k.startswith(prefix) and "location" in r and matches(r, wanted)
    ]
    return (
        200,
        {},
        {"value": [{k: r[k] for k in ("id", "name", "type", "location", "tags", "kind") if k in r} for r in tracked]},
    )


# -- storage ------------------------------------------------------------------------------------------
def account(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    name = path.rsplit("/", 1)[-1]
    if method == "PUT":
        arm.require_group(ids["sub"], ids["group"])
        require(body, "location", "kind", "sku.name")
        stored = {
            "id": path,
            "name": name,
            "type": "Microsoft.Storage/storageAccounts",
            "location": body["location"],
            "kind": body["kind"],
            "sku": {"name": body["sku"]["name"], "tier": "Standard"},
            "tags": body.get("tags") or {},
            "properties": {
                **body.get("properties", {}),
                "provisioningState": "Succeeded",
                "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
            },
        }
        arm.put(path, stored)
        return 202, {"Location": arm.operation("location", 2, stored)}, None
    if method == "PATCH":
        stored = arm.get(path)
        if on_flex(arm, stored) and "functionAppConfig" in body.get("properties", {}):
            check_flex_site({"properties": {**stored["properties"], **body["properties"]}})
        stored["properties"].update(body.get("properties", {}))
        stored["tags"] = body.get("tags", stored["tags"])
        return 200, {}, stored
    if method == "DELETE":
        return arm.delete(path), {}, None
    return 200, {}, arm.get(path)


def list_keys(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    arm.get(path.rsplit("/", 1)[0])
    return 200, {}, {"keys": [{"keyName": "key1", "value": "a2V5MQ==", "permissions": "FULL"}]}


def child_collection(kind: str) -> Any:
    def route(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
        arm.get(re.split(r"/(?:blob|queue|table)services", path, flags=re.IGNORECASE)[0])
        return 200, {}, {"value": arm.children(path, kind)}

    return route


def child(kind: str, not_found: str, created: int, deleted: int) -> Any:
    def route(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
        if "table" in ids and not TABLE_NAME.fullmatch(ids["table"]):
            raise ArmError(400, "OutOfRangeInput", f"The table name {ids['table']!r} is not valid.")
        if method == "PUT":
            arm.get(
                f"/subscriptions/{ids['sub']}/resourceGroups/{ids['group']}/providers/Microsoft.Storage/"
                f"storageAccounts/{ids['account']}"
            )
            require(body, "properties")
            status, stored = arm.put(
                path, {"id": path, "name": path.rsplit("/", 1)[-1], "type": kind, "properties": body["properties"]}
            )
            return (created if status == 201 else 200), {}, stored
        if method == "DELETE":
            arm.delete(path)
            return deleted, {}, None
        return 200, {}, arm.get(path, not_found)

    return route


# -- web ----------------------------------------------------------------------------------------------
def plan(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    name = path.rsplit("/", 1)[-1]
    if method == "PUT":
        arm.require_group(ids["sub"], ids["group"])
        require(body, "location", "sku.name", "sku.tier", "properties.reserved")
        if PLAN_TIERS.get(body["sku"]["name"]) != body["sku"]["tier"]:
            raise ArmError(400, "BadRequest", f"The sku {body['sku']} is not a valid SKU for a function app.")
        existing = arm.state.resources.get(path.lower())
        if existing is not None and (existing["sku"]["name"] == "FC1") != (body["sku"]["name"] == "FC1"):
            raise ArmError(
                400,
                "BadRequest",
                f"The plan {name} cannot be changed from {existing['sku']['name']} to "
                f"{body['sku']['name']}: Flex Consumption plans are not convertible.",
            )
        _, stored = arm.put(
            path,
            {
                "id": path,
                "name": name,
                "type": "Microsoft.Web/serverfarms",
                "location": body["location"],
                "kind": body.get("kind", "app"),
                "tags": body.get("tags") or {},
                "sku": body["sku"],
                "properties": {**body["properties"], "provisioningState": "Succeeded"},
            },
        )
        return 200, {}, stored  # the spec: 200, or 202 while provisioning
    if method == "DELETE":
        hosted = [
            r["name"]
            for r in arm.state.resources.values()
            if r.get("type") == "Microsoft.Web/sites" and r["properties"]["serverFarmId"].lower() == path.lower()
        ]
        if hosted:
            raise ArmError(
                409,
                "Conflict",
                f"Server farm '{name}' cannot be deleted because it has web app(s) {', '.join(hosted)} assigned to it.",
            )
        return arm.delete(path), {}, None
    return 200, {}, arm.get(path)


PLAN_TIERS = {
    "Y1": "Dynamic",
    "FC1": "FlexConsumption",
    "EP1": "ElasticPremium",
    "EP2": "ElasticPremium",
    "EP3": "ElasticPremium",
}
FLEX_REFUSED = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
}
BLOB_DATA_ROLES = {"b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"}
BLOB_READ_ROLES = BLOB_DATA_ROLES | {"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"}  # what fetching a package needs
PACKAGE_IDENTITY = "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"


def on_flex(arm: FakeArm, site_body: dict[str, Any]) -> bool:
    farm = arm.find(site_body["properties"]["serverFarmId"])
    return farm is not None and farm["sku"]["name"] == "FC1"


def check_flex_site(body: dict[str, Any]) -> None:
    """What the platform requires of a Flex Consumption app."""
    require(
        body,
        "properties.functionAppConfig.deployment.storage.value",
        "properties.functionAppConfig.deployment.storage.authentication.type",
        "properties.functionAppConfig.runtime.name",
        "properties.functionAppConfig.runtime.version",
        "properties.functionAppConfig.scaleAndConcurrency.instanceMemoryMB",
        "properties.functionAppConfig.scaleAndConcurrency.maximumInstanceCount",
    )
    config = body["properties"]["functionAppConfig"]
    storage, scale = config["deployment"]["storage"], config["scaleAndConcurrency"]
    auth = storage["authentication"]
    if storage.get("type") != "blobContainer":
        raise ArmError(400, "BadRequest", "functionAppConfig.deployment.storage.type must be 'blobContainer'.")
    if auth["type"] not in ("SystemAssignedIdentity", "UserAssignedIdentity", "StorageAccountConnectionString"):
        raise ArmError(400, "BadRequest", f"Unknown deployment storage authentication {auth['type']!r}.")
    if auth["type"] == "StorageAccountConnectionString" and not auth.get("storageAccountConnectionStringName"):
        raise ArmError(400, "BadRequest", "storageAccountConnectionStringName is required with a connection string.")
    if (config["runtime"]["name"], config["runtime"]["version"]) not in {
        ("python", v) for v in ("3.10", "3.11", "3.12")
    }:
        raise ArmError(400, "BadRequest", f"Runtime {config['runtime']} is not available on Flex Consumption.")
    if scale["instanceMemoryMB"] not in (512, 2048, 4096) or not 40 <= scale["maximumInstanceCount"] <= 1000:
        raise ArmError(400, "BadRequest", f"Invalid scaleAndConcurrency {scale}.")
    if (body["properties"].get("siteConfig") or {}).get("linuxFxVersion"):
        raise ArmError(
            400, "BadRequest", "LinuxFxVersion is not supported on Flex Consumption; use functionAppConfig.runtime."
        )


def site(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    name = path.rsplit("/", 1)[-1]
    if method == "PUT":
        arm.require_group(ids["sub"], ids["group"])
        existing = arm.state.resources.get(path.lower())
        require(
            body,
            "location",
            "kind",
            "identity.type",
            "properties.serverFarmId",
            "properties.httpsOnly",
            *(() if existing else ("properties.siteConfig",)),
        )
        if arm.find(body["properties"]["serverFarmId"]) is None:
            raise ArmError(404, "NotFound", f"Server farm {body['properties']['serverFarmId']} not found.")
        if on_flex(arm, body):
            check_flex_site(body)
        else:
            require(body, "properties.siteConfig.linuxFxVersion")
        if existing is not None and bool(existing["properties"].get("functionAppConfig")) != on_flex(arm, body):
            raise ArmError(
                400,
                "BadRequest",
                f"The site {name} cannot be moved between Flex Consumption and "
                "other plans; delete it and create it again.",
            )
        site_config = body["properties"].get("siteConfig") or {}
        props = {
            k: v
            for k, v in body["properties"].items()
            if k not in ("siteConfig", "hostNameSslStates") and not readonly("SiteProperties", k)
        }
        identity = {**body["identity"], "principalId": str(uuid.uuid4()), "tenantId": str(uuid.uuid4())}
        if (
            existing is not None
            and "SystemAssigned" in existing["identity"]["type"]
            and "SystemAssigned" in body["identity"]["type"]
        ):  # the system-assigned identity stays while the type keeps it
            identity = {**body["identity"], **{k: existing["identity"][k] for k in ("principalId", "tenantId")}}
        identity = attached_identities(arm, identity, {})
        host = default_host_name(arm, path, body)
        scm = host.replace(".", ".scm.", 1)
        stored = {
            "id": path,
            "name": name,
            "type": "Microsoft.Web/sites",
            "location": body["location"],
            "kind": body["kind"],
            "tags": body.get("tags") or {},
            "identity": identity,
            "properties": {
                **props,
                "defaultHostName": host,
                "state": "Running",
                "enabledHostNames": [host, scm],
                "hostNameSslStates": [
                    {"name": host, "hostType": "Standard", "sslState": "Disabled"},
                    {"name": scm, "hostType": "Repository", "sslState": "Disabled"},
                ],
                "siteConfig": None,
            },
        }
        arm.put(path, stored)
        web = arm.state.resources.get(path.lower() + "/config/web", {}).get("properties") if existing else None
        arm.put(
            path + "/config/web",
            {
                "id": path + "/config/web",
                "name": "web",
                "type": "Microsoft.Web/sites/config",
                "properties": {
                    **(web or {"linuxFxVersion": ""}),
                    **{k: v for k, v in site_config.items() if k != "appSettings"},
                },
            },
        )
        if existing is None or "appSettings" in site_config:
            arm.put(
                path + "/config/appsettings",
                {
                    "id": path + "/config/appsettings",
                    "name": "appsettings",
                    "type": "Microsoft.Web/sites/config",
                    "properties": {s["name"]: s["value"] for s in site_config.get("appSettings", [])},
                },
            )
        return 202, {"Azure-AsyncOperation": arm.operation("async", 2)}, None
    if method == "PATCH":
        stored = arm.get(path)
        stored["properties"].update(
            {k: v for k, v in body.get("properties", {}).items() if not readonly("SitePatchResourceProperties", k)}
        )
        for key in ("kind", "identity", "tags"):
            if key in body:
                stored[key] = {**stored.get(key, {}), **body[key]} if isinstance(body[key], dict) else body[key]
        if "identity" in body:
            before = (arm.get(path).get("identity") or {}).get("userAssignedIdentities") or {}
            stored["identity"] = attached_identities(arm, stored["identity"], before)
        return 200, {}, stored
    if method == "DELETE":
        for kept in (arm.state.host_keys, arm.state.mounted, arm.state.deployed):
            kept.pop(path.lower(), None)  # its keys and package go with it
        return arm.delete(path), {}, None
    return 200, {}, arm.get(path)


def attached_identities(arm: FakeArm, identity: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """A site's identity block as ARM answers it: each user-assigned identity named (by its id; a PATCH merges
    them into those `before`, a null taking one out) must exist and the type must say UserAssigned; each is
    answered with its principalId and clientId."""
    wanted = {**before, **(identity.get("userAssignedIdentities") or {})}
    kept = {key: value for key, value in wanted.items() if value is not None}
    if not kept:
        return {k: v for k, v in identity.items() if k != "userAssignedIdentities"}
    if "UserAssigned" not in identity["type"]:
        raise ArmError(400, "BadRequest", f"userAssignedIdentities given with identity type {identity['type']!r}.")
    answered = {}
    for key in kept:
        found = arm.get(key, "ResourceNotFound")
        answered[key] = {k: found["properties"][k] for k in ("principalId", "clientId")}
    return {**identity, "userAssignedIdentities": answered}


def default_host_name(arm: FakeArm, path: str, body: dict[str, Any]) -> str:
    """`<app>.azurewebsites.net`, or as Flex Consumption apps and apps with unique default host names get
    it, `<app>-<hash>.<region>-01.azurewebsites.net`; a site keeps its host name when PUT again."""
    found = arm.state.resources.get(path.lower())
    if found is not None:
        return str(found["properties"]["defaultHostName"])
    name = path.rsplit("/", 1)[-1].lower()
    if not (arm.state.unique_host_names or on_flex(arm, body)):
        return f"{name}.azurewebsites.net"
    digest = hashlib.sha256(f"{path.lower()}|{uuid.uuid4()}".encode()).hexdigest()[:16]
    return f"{name}-{digest}.{body['location'].replace(' ', '').lower()}-01.azurewebsites.net"


def site_config(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    stored = arm.get(path)
    if method in ("PUT", "PATCH"):
        require(body, "properties")
        stored["properties"].update(body["properties"])
    return 200, {}, stored


def app_settings(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    stored = arm.get(path.removesuffix("/list").removesuffix("/LIST"))
    if method == "PUT":
        require(body, "properties")
        if not all(isinstance(v, str) for v in body["properties"].values()):
            raise ArmError(400, "BadRequest", "Application setting values must be strings.")
        refused = (
            sorted(FLEX_REFUSED & set(body["properties"])) if on_flex(arm, arm.get(path.split("/config/")[0])) else []
        )
        if refused:
            raise ArmError(400, "BadRequest", f"The app settings {refused} are not supported on Flex Consumption.")
        stored["properties"] = dict(body["properties"])
    return 200, {}, stored


def sync_triggers(
    arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any
) -> Answer:
    """Syncing triggers starts the host, which mounts `WEBSITE_RUN_FROM_PACKAGE`: a SAS URL is fetched for
    real (from Azurite); a URL fetched with the app's identity needs that identity to hold a blob data role
    that reads (and no SAS, which the platform would not need)."""
    site_path = path.rsplit("/", 1)[0]
    stored = arm.get(site_path)
    settings = arm.get(site_path + "/config/appsettings")["properties"]
    url = settings.get("WEBSITE_RUN_FROM_PACKAGE", "")
    if not url.startswith("http"):
        return 204, {}, None
    if settings.get(PACKAGE_IDENTITY):
        if settings[PACKAGE_IDENTITY] != "SystemAssigned" or urlsplit(url).query:
            raise ArmError(
                400, "BadRequest", f"{PACKAGE_IDENTITY} must be SystemAssigned here, with a URL without a query."
            )
        if not holds_role(arm, stored["identity"]["principalId"], BLOB_READ_ROLES):  # the host cannot start
            raise ArmError(400, "BadRequest", "Encountered an error (ServiceUnavailable) from host runtime.")
        arm.state.mounted[stored["id"].lower()] = url
        start_host(arm, stored)
        return 204, {}, None
    try:
        with urlopen(url, timeout=10) as response:
            arm.state.mounted[stored["id"].lower()] = hashlib.sha256(response.read()).hexdigest()
    except OSError as exc:
        raise ArmError(400, "BadRequest", f"The host could not fetch WEBSITE_RUN_FROM_PACKAGE: {exc}.") from None
    start_host(arm, stored)
    return 204, {}, None


def start_host(arm: FakeArm, site: dict[str, Any]) -> None:
    """The host restarts with the package: up after `host_start_delay` tries to reach it."""
    if arm.state.host_start_delay:
        arm.state.starting[site["id"].lower()] = arm.state.host_start_delay


def host_up(arm: FakeArm, site: dict[str, Any]) -> bool:
    """Whether Event Grid reaches the site's host: it runs a package and has finished starting."""
    key = site["id"].lower()
    left = arm.state.starting.get(key, 0)
    if left:
        arm.state.starting[key] = left - 1
        return False
    return key in arm.state.mounted or key in arm.state.deployed


def holds_role(arm: FakeArm, principal: str, roles: set[str]) -> bool:
    """Whether `principal` holds one of `roles` yet: a new assignment counts only once `role_delay` checks
    of it have failed (Azure applies role assignments after a while)."""
    held = False
    for key, r in arm.state.resources.items():
        if (
            r.get("type") == ROLE_TYPE
            and r["properties"]["principalId"] == principal
            and r["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] in roles
        ):
            left = arm.state.pending_roles.get(key, 0)
            if left:
                arm.state.pending_roles[key] = left - 1
            else:
                held = True
    return held


def one_deploy(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    """WebApps_CreateOneDeployOperation as the spec defines it: no request body, 200. Deploy does not release
    a package this way (see `kudu`); a body, such as the `packageUri` one, is refused."""
    arm.get(path.split("/extensions/")[0])
    return 200, {}, {}


# -- Kudu (a site's SCM host) ------------------------------------------------------------------------------
def kudu(arm: FakeArm, method: str, low: str, query: dict[str, str], headers: Any, body: Any) -> Answer:
    """`POST /api/publish` (One Deploy: the zip is the body) and `GET /api/deployments/<id>|latest`, on the
    site whose Repository host name is the request's `Host`."""
    host = (headers.get("Host") or "").split(":")[0].lower()
    site = next(
        (
            r
            for r in arm.state.resources.values()
            if r.get("type") == "Microsoft.Web/sites"
            and any(
                s["hostType"] == "Repository" and s["name"].lower() == host
                for s in r["properties"]["hostNameSslStates"]
            )
        ),
        None,
    )
    if site is None:
        raise ArmError(404, "NotFound", f"No site has the SCM host {host!r}.")
    if low == "/api/publish" and method == "POST":
        return publish(arm, site, host, query, headers, body)
    if low.startswith("/api/deployments/") and method == "GET":
        wanted = low.rsplit("/", 1)[-1]
        mine = [d for d in arm.state.kudu_deployments.values() if d["site"] == site["id"].lower()]
        found = mine[-1] if wanted == "latest" and mine else arm.state.kudu_deployments.get(wanted)
        if found is None:
            raise ArmError(404, "NotFound", f"Deployment {wanted} not found.")
        found["polls"] -= 1
        if found["polls"] > 0:
            return 200, {}, {**found["view"], "status": 1, "status_text": "Building", "complete": False}
        return (
            200,
            {},
            {
                **found["view"],
                "status": found["final"],
                "complete": True,
                "status_text": (
                    "" if found["final"] == KUDU_SUCCESS else "Deployment failed: the package could not be installed."
                ),
            },
        )
    raise ArmError(405, "MethodNotAllowed", f"{method} {low} is not played here.")


def publish(arm: FakeArm, site: dict[str, Any], host: str, query: dict[str, str], headers: Any, body: Any) -> Answer:
    """One Deploy of a Flex app: the zip (Content-Type application/zip) into its deployment container,
    which the platform writes with the app's identity or the connection string the site names."""
    if (headers.get("Content-Type") or "").split(";")[0].strip() != "application/zip" or not isinstance(body, bytes):
        raise ArmError(
            415,
            "UnsupportedMediaType",
            "/api/publish takes the package as the body, with Content-Type application/zip.",
        )
    if not zipfile.is_zipfile(io.BytesIO(body)):
        raise ArmError(400, "BadRequest", "The request body is not a zip file.")
    if query.get("RemoteBuild", "").lower() not in ("true", "false"):
        raise ArmError(400, "BadRequest", f"RemoteBuild must be true or false, not {query.get('RemoteBuild')!r}.")
    config = site["properties"].get("functionAppConfig")
    if config is None:
        raise ArmError(400, "BadRequest", "This endpoint only plays One Deploy for Flex Consumption apps.")
    auth = config["deployment"]["storage"]["authentication"]
    if auth["type"] == "SystemAssignedIdentity":
        if not holds_role(arm, site["identity"]["principalId"], BLOB_DATA_ROLES):
            raise ArmError(
                400,
                "BlobUploadFailedException",
                "Failed to upload the package to the deployment storage: 403 AuthorizationPermissionMismatch.",
            )
    else:
        settings = arm.get(site["id"] + "/config/appsettings")["properties"]
        if auth["storageAccountConnectionStringName"] not in settings:
            raise ArmError(400, "BadRequest", f"App setting {auth['storageAccountConnectionStringName']} is missing.")
    deployment = uuid.uuid4().hex
    failed = arm.state.failed_deployments > 0
    arm.state.failed_deployments -= 1 if failed else 0
    arm.state.kudu_deployments[deployment] = {
        "site": site["id"].lower(),
        "polls": 2,
        "final": KUDU_FAILED if failed else KUDU_SUCCESS,
        "view": {
            "id": deployment,
            "deployer": query.get("Deployer", ""),
            "site_name": site["name"],
            "log_url": f"https://{host}/api/deployments/{deployment}/log",
        },
    }
    if not failed:
        arm.state.deployed.setdefault(site["id"].lower(), []).append(hashlib.sha256(body).hexdigest())
        start_host(arm, site)
    return 202, {"Location": f"https://{host}/api/deployments/{deployment}"}, deployment


def host_keys(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    site = arm.get(path.split("/host/")[0])
    keys = arm.state.host_keys.setdefault(site["id"].lower(), {})
    if method == "POST":
        return 200, {}, {"masterKey": "bWFzdGVy", "functionKeys": {"default": "ZGVmYXVsdA=="}, "systemKeys": keys}
    require(body, "value")
    name = path.rsplit("/", 1)[-1]
    status = 200 if name in keys else 201
    keys[name] = body["value"]
    return status, {}, {"name": name, "value": body["value"]}


# -- Event Grid ------------------------------------------------------------------------------------------
SCHEMAS = {"EventGridSchema", "CustomEventSchema", "CloudEventSchemaV1_0"}


def topic(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    system = ids["topickind"] == "systemtopics"
    if method == "PUT":
        arm.require_group(ids["sub"], ids["group"])
        require(body, "location", "properties.source", "properties.topicType") if system else require(
            body, "location", "properties.inputSchema"
        )
        props = system_topic_properties(arm, path, body) if system else custom_topic_properties(path, body)
        kind = "Microsoft.EventGrid/systemTopics" if system else "Microsoft.EventGrid/topics"
        stored = {
            "id": path,
            "name": path.rsplit("/", 1)[-1],
            "type": kind,
            "location": body["location"],
            "tags": body.get("tags") or {},
            "properties": {**props, "provisioningState": "Succeeded"},
        }
        status, _ = arm.put(path, stored)
        status = status if system else 201  # the spec: custom topics answer 201 to every PUT
        return (
            status,
            {"Azure-AsyncOperation": arm.operation("async", 2)},
            {**stored, "properties": {**props, "provisioningState": "Creating"}},
        )
    if method == "DELETE":
        arm.get(path)
        arm.delete(path)
        return 202, {"Azure-AsyncOperation": arm.operation("async", 2)}, None
    return 200, {}, arm.get(path)


def topic_keys(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    """Topics_ListSharedAccessKeys (POST .../topics/{name}/listKeys): custom topics only."""
    if ids["topickind"] != "topics":
        raise ArmError(404, "NotFound", "System topics have no access keys: only Azure services publish to them.")
    arm.get(path.rsplit("/", 1)[0])
    return 200, {}, {"key1": TOPIC_KEY, "key2": TOPIC_KEY[::-1]}


TOPIC_KEY = "dG9waWMta2V5LW9uZQ=="


def custom_topic_properties(path: str, body: Any) -> dict[str, Any]:
    schema = body["properties"]["inputSchema"]
    if schema not in SCHEMAS:
        raise ArmError(400, "InvalidRequest", f"inputSchema {schema!r} is not one of {sorted(SCHEMAS)}.")
    name = path.rsplit("/", 1)[-1]
    return {"inputSchema": schema, "endpoint": f"https://{name}.{body['location']}-1.eventgrid.azure.net/api/events"}


def system_topic_properties(arm: FakeArm, path: str, body: Any) -> dict[str, Any]:
    source, topic_type = body["properties"]["source"], body["properties"]["topicType"]
    if topic_type != "Microsoft.Storage.StorageAccounts":
        raise ArmError(400, "InvalidRequest", f"This endpoint only knows storage system topics, not {topic_type!r}.")
    account = arm.get(source)
    if account["location"] != body["location"]:
        raise ArmError(400, "InvalidRequest", "A system topic must be in its source's location.")
    for key, other in arm.state.resources.items():
        if (
            other.get("type") == "Microsoft.EventGrid/systemTopics"
            and key != path.lower()
            and other["properties"]["source"].lower() == source.lower()
        ):
            raise ArmError(400, "InvalidRequest", f"Only one system topic is allowed per source; {key} exists.")
    return {"source": source, "topicType": topic_type, "metricResourceId": str(uuid.uuid4())}


def subscriptions(
    arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any
) -> Answer:
    arm.get(path.rsplit("/", 1)[0])
    return 200, {}, {"value": arm.children(path, "Microsoft.EventGrid/eventSubscriptions")}


def subscription(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    parent = arm.get(path.split("/eventSubscriptions")[0].split("/eventsubscriptions")[0])
    if method == "PUT":
        require(body, "properties.destination.endpointType")
        props = body["properties"]
        destination = checked_destination(arm, path, props["destination"])
        checked_dead_letter(arm, props.get("deadLetterDestination"))
        schema = props.get("eventDeliverySchema", "EventGridSchema")
        if parent["properties"].get("inputSchema") == "CloudEventSchemaV1_0" and schema != "CloudEventSchemaV1_0":
            raise ArmError(400, "InvalidRequest", "A topic with the CloudEvents input schema delivers CloudEvents.")
        stored = {
            "id": path,
            "name": path.rsplit("/", 1)[-1],
            "type": "Microsoft.EventGrid/eventSubscriptions",
            "properties": {
                **props,
                "destination": destination,
                "eventDeliverySchema": schema,
                "topic": parent["id"],
                "provisioningState": "Succeeded",
            },
        }
        arm.put(path, stored)
        return 201, {"Azure-AsyncOperation": arm.operation("async", 2)}, stored  # the spec: 201, created or not
    if method == "DELETE":
        arm.get(path)
        arm.delete(path)
        arm.state.secrets.pop(path.lower(), None)
        return 202, {"Azure-AsyncOperation": arm.operation("async", 2)}, None
    return 200, {}, arm.get(path)


def checked_dead_letter(arm: FakeArm, dead_letter: dict[str, Any] | None) -> None:
    """A dead-letter container must be named in a storage account that exists (the spec holds the shape)."""
    if dead_letter is None:
        return
    require(dead_letter, "properties.resourceId", "properties.blobContainerName")
    account = dead_letter["properties"]["resourceId"]
    if arm.find(account) is None or "/storageaccounts/" not in account.lower():
        raise ArmError(400, "InvalidRequest", f"The dead letter destination {account} is not a storage account.")


def checked_destination(arm: FakeArm, path: str, destination: dict[str, Any]) -> dict[str, Any]:
    kind, props = destination["endpointType"], destination.get("properties") or {}
    if kind == "AzureFunction":
        require(props, "resourceId")
        site, _, function = props["resourceId"].rpartition("/functions/")
        found = arm.find(site)
        if not function or found is None:
            raise ArmError(400, "InvalidRequest", f"Function {props['resourceId']} does not exist.")
        if not host_up(arm, found):  # its functions are listed once the host indexed its package
            raise ArmError(
                400,
                "BadRequest",
                f"Destination endpoint not found. Resource details: resourceId: "
                f"{props['resourceId']}. Resource should pre-exist before "
                "attempting this operation.",
            )
        return {
            "endpointType": kind,
            "properties": {"maxEventsPerBatch": 1, "preferredBatchSizeInKilobytes": 64, **props},
        }
    if kind == "WebHook":
        require(props, "endpointUrl")
        url = urlsplit(props["endpointUrl"])
        if url.scheme != "https":
            raise ArmError(400, "InvalidRequest", "A webhook endpoint must be https.")
        handshake(arm, url)
        arm.state.secrets[path.lower()] = props["endpointUrl"]
        return {
            "endpointType": kind,
            "properties": {
                "endpointBaseUrl": f"https://{url.netloc}{url.path}",
                "maxEventsPerBatch": 1,
                "preferredBatchSizeInKilobytes": 64,
            },
        }
    raise ArmError(400, "InvalidRequest", f"endpointType {kind!r} is not supported here.")


def handshake(arm: FakeArm, url: Any) -> None:
    """Event Grid's validation of a webhook: the blobs extension answers only with its system key."""
    if url.path != "/runtime/webhooks/blobs" or not url.netloc.endswith(".azurewebsites.net"):
        return
    site = next(
        (
            r
            for r in arm.state.resources.values()
            if r.get("type") == "Microsoft.Web/sites"
            and r["properties"]["defaultHostName"].lower() == url.netloc.lower()
        ),
        None,
    )
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    expected = arm.state.host_keys.get(site["id"].lower(), {}).get("blobs_extension") if site else None
    if site is not None and not host_up(arm, site):
        raise ArmError(
            400,
            "Url validation",
            f"Webhook validation handshake failed for https://{url.netloc}"
            f"{url.path}. Http POST request failed with response code Unknown.",
        )
    if (
        expected is None
        or query.get("code") != expected
        or not query.get("functionName", "").startswith("Host.Functions.")
    ):
        raise ArmError(
            400, "InvalidRequest", f"Webhook validation handshake failed for https://{url.netloc}{url.path}."
        )


def full_url(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    subscription_path = path.rsplit("/", 1)[0]
    arm.get(subscription_path)
    return 200, {}, {"endpointUrl": arm.state.secrets.get(subscription_path.lower(), "")}


def tags(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    """The Tags API at a resource's scope: GET, or PATCH with `Merge`, `Replace` or `Delete`."""
    scope = path.rsplit("/providers/", 1)[0]
    stored = arm.get(scope)
    if method == "PATCH":
        require(body, "operation", "properties.tags")
        given, current = body["properties"]["tags"], stored.get("tags") or {}
        operation = body["operation"]
        if operation not in ("Merge", "Replace", "Delete"):
            raise ArmError(400, "InvalidTagOperation", f"operation {operation!r} is not Merge, Replace or Delete.")
        stored["tags"] = (
            {**current, **given}
            if operation == "Merge"
            else dict(given)
            if operation == "Replace"
            else {k: v for k, v in current.items() if k not in given}
        )
    elif method != "GET":
        raise ArmError(405, "MethodNotAllowed", f"{method} is not played here.")
    return (
        200,
        {},
        {
            "id": path,
            "name": "default",
            "type": "Microsoft.Resources/tags",
            "properties": {"tags": stored.get("tags") or {}},
        },
    )


# -- Key Vault --------------------------------------------------------------------------------------------
def vault(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    """A vault as Key Vault's resource provider keeps it: its spec's defaults filled in (soft delete on, 90 days,
    RBAC), its `vaultUri` on `vault.azure.net`, soft delete never turned off once on. Its secrets are resources
    of ARM too (the fake Key Vault adds them), what a role assignment can be scoped to."""
    name = path.rsplit("/", 1)[-1]
    if method == "PUT":
        arm.require_group(ids["sub"], ids["group"])
        if name.lower() in arm.state.deleted_vaults:
            raise ArmError(
                409,
                "ConflictError",
                "A vault with the same name already exists in deleted state. You need to either recover or purge "
                "existing key vault.",
            )
        if not VAULT_NAME.fullmatch(name):
            raise ArmError(
                400, "VaultNameNotValid", f"The vault name '{name}' is not valid: 3-24 letters, digits and hyphens."
            )
        existing = arm.state.resources.get(path.lower())
        props = {
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90,
            "enableRbacAuthorization": True,
            "enabledForDeployment": False,
            "enabledForDiskEncryption": False,
            "enabledForTemplateDeployment": False,
            "publicNetworkAccess": "Enabled",
            **{k: v for k, v in body["properties"].items() if v is not None},
            "vaultUri": f"https://{name.lower()}.vault.azure.net/",
            "provisioningState": "Succeeded",
        }
        if existing and existing["properties"]["enableSoftDelete"] and not props["enableSoftDelete"]:
            raise ArmError(400, "BadRequest", "Soft delete cannot be disabled once it has been enabled.")
        stored = {
            "id": path,
            "name": name,
            "type": "Microsoft.KeyVault/vaults",
            "location": body["location"],
            "tags": body.get("tags") or {},
            "properties": props,
        }
        status, _ = arm.put(path, stored)
        if status == 201:  # a new vault, empty (the fake Key Vault tells it from one deleted before by this)
            arm.state.incarnations[path.lower()] = uuid.uuid4().hex
        return status, {}, stored
    if method == "DELETE":
        found = arm.state.resources.get(path.lower())
        if found and found["properties"].get("enableSoftDelete"):  # kept deleted, its name taken, until purged
            arm.state.deleted_vaults[name.lower()] = found
        return arm.delete(path), {}, None
    return 200, {}, arm.get(path)


def purge_vault(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    found = arm.state.deleted_vaults.get(ids["vault"])
    if found is None or found["location"].lower() != ids["location"]:
        raise ArmError(
            404, "ResourceNotFound", f"The deleted vault '{ids['vault']}' was not found in {ids['location']}."
        )
    del arm.state.deleted_vaults[ids["vault"]]
    return 202, {"Location": arm.operation("location", 2)}, None


# -- role assignments -----------------------------------------------------------------------------------
ROLE_TYPE = "Microsoft.Authorization/roleAssignments"


def role_assignments(
    arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any
) -> Answer:
    scope = path.split("/providers/Microsoft.Authorization")[0].split("/providers/microsoft.authorization")[0]
    arm.get(scope)
    wanted = query.get("$filter")
    if wanted not in (None, "atScope()"):
        raise ArmError(400, "InvalidFilterInQueryString", f"Unsupported $filter {wanted!r}.")
    return (
        200,
        {},
        {"value": [r for r in arm.children(path, ROLE_TYPE) if r["properties"]["scope"].lower() == scope.lower()]},
    )


def role_assignment(
    arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any
) -> Answer:
    scope, name = path.rsplit("/providers/", 1)[0], path.rsplit("/", 1)[-1]
    if method == "DELETE":
        found = arm.state.resources.get(path.lower())
        arm.delete(path)
        return (200, {}, found) if found else (204, {}, None)
    if method == "GET":
        return 200, {}, arm.get(path, "RoleAssignmentNotFound")
    require(body, "properties.roleDefinitionId", "properties.principalId")
    props = body["properties"]
    if not GUID.fullmatch(name):
        raise ArmError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not a valid GUID.")
    arm.get(scope)
    role = re.fullmatch(
        rf"/subscriptions/{ids['sub']}/providers/Microsoft\.Authorization/roleDefinitions/(.+)",
        props["roleDefinitionId"],
    )
    custom = arm.state.resources.get(props["roleDefinitionId"].lower()) if role else None
    if role is None or (role.group(1) not in BUILT_IN_ROLES and custom is None):
        raise ArmError(400, "RoleDefinitionDoesNotExist", f"The role {props['roleDefinitionId']} does not exist.")
    if custom is not None and not assignable(custom, scope):
        raise ArmError(  # the fake's own code: ARM refuses it, under a code the reference does not list
            400,
            "RoleDefinitionNotAssignableAtScope",
            f"The role {props['roleDefinitionId']} is assignable at {custom['properties']['assignableScopes']}, "
            f"not at {scope}.",
        )
    principals = {(r.get("identity") or {}).get("principalId") for r in arm.state.resources.values()}
    principals |= {
        r["properties"]["principalId"] for r in arm.state.resources.values() if r.get("type") == IDENTITY_TYPE
    }
    principals |= arm.state.directory
    if arm.state.principal_delay > 0:  # the new identity has not reached the directory yet
        arm.state.principal_delay -= 1
        principals = set()
    if props["principalId"] not in principals - {None}:
        raise ArmError(400, "PrincipalNotFound", f"Principal {props['principalId']} does not exist in the directory.")
    stored = {"id": path, "name": name, "type": ROLE_TYPE, "properties": {**props, "scope": scope}}
    for key, other in arm.state.resources.items():
        if other.get("type") != ROLE_TYPE:
            continue
        same = all(other["properties"][k] == stored["properties"][k] for k in ("roleDefinitionId", "principalId"))
        if key == path.lower() and not same:
            raise ArmError(
                409,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        if key != path.lower() and same and other["properties"]["scope"].lower() == scope.lower():
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
    if path.lower() not in arm.state.resources and arm.state.role_delay:
        arm.state.pending_roles[path.lower()] = arm.state.role_delay
    arm.put(path, stored)
    return 201, {}, stored


def assignable(definition: dict[str, Any], scope: str) -> bool:
    """Whether a custom role may be assigned at `scope`: at or below one of its assignable scopes."""
    return any(
        scope.lower() == s.lower() or scope.lower().startswith(s.lower() + "/")
        for s in definition["properties"]["assignableScopes"]
    )


# -- user-assigned managed identities --------------------------------------------------------------------
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"


def managed_identity(
    arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any
) -> Answer:
    """A user-assigned identity as Microsoft.ManagedIdentity keeps one: a PUT of its location and tags (200 when
    it existed, keeping its principal and client id; 201 with new ones), GET, DELETE (200, or 204 when gone)."""
    if method == "GET":
        return 200, {}, arm.get(path)
    if method == "DELETE":
        found = arm.state.resources.get(path.lower())
        arm.delete(path)
        return (200, {}, None) if found else (204, {}, None)
    arm.require_group(ids["sub"], ids["group"])
    require(body, "location")
    name = path.rsplit("/", 1)[-1]
    if not IDENTITY_NAME.fullmatch(name):
        raise ArmError(400, "InvalidResourceName", f"The identity name {name!r} is not valid.")
    existing = arm.state.resources.get(path.lower())
    made = {k: str(uuid.uuid4()) for k in ("tenantId", "principalId", "clientId")}
    stored = {
        "id": path,
        "name": name,
        "type": IDENTITY_TYPE,
        "location": body["location"],
        "tags": body.get("tags") or {},
        "properties": existing["properties"] if existing else made,
    }
    status, _ = arm.put(path, stored)
    return status, {}, stored


# -- the user's Service Bus entities --------------------------------------------------------------------------
def bus_entity(arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    """A queue or topic subscription of a Service Bus namespace the test put there (deploy never creates one):
    GET; a PUT replaces its properties with the body's, as Queues_CreateOrUpdate / Subscriptions_CreateOrUpdate
    do (what the body leaves out is back at Service Bus's default, so an update must send them all)."""
    if method == "GET":
        return 200, {}, arm.get(path, "MessagingEntityNotFound")
    existing = arm.state.resources.get(path.lower())
    if existing is None:
        raise ArmError(404, "MessagingEntityNotFound", f"{path} is not there: the test did not make it.")
    stored = {**existing, "properties": dict((body or {}).get("properties") or {})}
    arm.put(path, stored)
    return 200, {}, stored


# -- custom role definitions ----------------------------------------------------------------------------
DEFINITION_TYPE = "Microsoft.Authorization/roleDefinitions"


def role_definition(
    arm: FakeArm, method: str, path: str, ids: dict[str, str], query: dict[str, str], body: Any
) -> Answer:
    """A custom role in the subscription, as ARM checks one: a GUID name, a role name no other role of the
    subscription has, assignable scopes that exist; deleting one still assigned is refused (the docs: "Remove
    any role assignments that use the custom role" first)."""
    if method == "GET":
        return 200, {}, arm.get(path, "RoleDefinitionDoesNotExist")
    if method == "DELETE":
        found = arm.state.resources.get(path.lower())
        if found is None:
            return 204, {}, None
        if any(
            r.get("type") == ROLE_TYPE and r["properties"]["roleDefinitionId"].lower() == path.lower()
            for r in arm.state.resources.values()
        ):
            raise ArmError(409, "RoleDefinitionHasAssignments", "There are existing role assignments referencing role.")
        arm.delete(path)
        return 200, {}, found
    require(body, "properties.roleName", "properties.permissions", "properties.assignableScopes")
    if not GUID.fullmatch(ids["definition"]):
        raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{ids['definition']}' is not a GUID.")
    props = body["properties"]
    for other in arm.state.resources.values():
        if (
            other.get("type") == DEFINITION_TYPE
            and other["id"].lower() != path.lower()
            and other["properties"]["roleName"] == props["roleName"]
        ):
            raise ArmError(409, "RoleDefinitionWithSameNameExists", f"A role named {props['roleName']!r} exists.")
    for scope in props["assignableScopes"]:  # a scope holding nothing does not exist (a namespace: its entities)
        if not any(k == scope.lower() or k.startswith(scope.lower() + "/") for k in arm.state.resources):
            raise ArmError(400, "InvalidAssignableScope", f"The assignable scope '{scope}' does not exist.")
    stored = {
        "id": path,
        "name": ids["definition"],
        "type": DEFINITION_TYPE,
        "properties": {**props, "type": "CustomRole"},
    }
    arm.put(path, stored)
    return 201, {}, stored  # the spec lists 201 alone, for a create and an update


CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"
QUEUES = "Microsoft.Storage/storageAccounts/queueServices/queues"
TABLES = "Microsoft.Storage/storageAccounts/tableServices/tables"
ROUTES: list[tuple[str, Any]] = [
    (SUB + r"/resourcegroups", groups),
    (GROUP, group),
    (GROUP + r"/resources", group_resources),
    (ACCOUNT, account),
    (ACCOUNT + r"/listkeys", list_keys),
    (ACCOUNT + r"/blobservices/default/containers", child_collection(CONTAINERS)),
    (ACCOUNT + r"/blobservices/default/containers/[^/]+", child(CONTAINERS, "ContainerNotFound", 201, 200)),
    (ACCOUNT + r"/queueservices/default/queues", child_collection(QUEUES)),
    (ACCOUNT + r"/queueservices/default/queues/[^/]+", child(QUEUES, "QueueNotFound", 200, 204)),  # as the spec says
    (ACCOUNT + r"/tableservices/default/tables", child_collection(TABLES)),
    (TABLE, child(TABLES, "TableNotFound", 200, 204)),  # Table_Create answers 200, Table_Delete 204
    (GROUP + r"/providers/microsoft\.web/serverfarms/[^/]+", plan),
    (SITE, site),
    (SITE + r"/config/web", site_config),
    (SITE + r"/config/appsettings(/list)?", app_settings),
    (SITE + r"/syncfunctiontriggers", sync_triggers),
    (SITE + r"/host/default/(listkeys|systemkeys/[^/]+)", host_keys),
    (SITE + r"/extensions/onedeploy", one_deploy),
    (SITE + r"/providers/microsoft\.resources/tags/default", tags),
    (ACCOUNT + r"/providers/microsoft\.resources/tags/default", tags),
    (GROUP + r"/providers/microsoft\.web/serverfarms/[^/]+/providers/microsoft\.resources/tags/default", tags),
    (GRID + r"/providers/microsoft\.resources/tags/default", tags),
    (ROLES, role_assignments),
    (ROLES + r"/[^/]+", role_assignment),
    (TABLE_ROLES, role_assignments),
    (TABLE_ROLES + r"/[^/]+", role_assignment),
    *((roles, role_assignments) for roles in (QUEUE_ROLES, CONTAINER_ROLES, TOPIC_ROLES, BUS_ROLES)),
    *((roles + r"/[^/]+", role_assignment) for roles in (QUEUE_ROLES, CONTAINER_ROLES, TOPIC_ROLES, BUS_ROLES)),
    (DEFINITION, role_definition),
    (BUS_ENTITY, bus_entity),
    (VAULT_ROLES, role_assignments),
    (VAULT_ROLES + r"/[^/]+", role_assignment),
    (VAULT, vault),
    (IDENTITY, managed_identity),
    (IDENTITY + r"/providers/microsoft\.resources/tags/default", tags),
    (PURGE, purge_vault),
    (VAULT + r"/providers/microsoft\.resources/tags/default", tags),
    (GRID, topic),
    (GRID + r"/listkeys", topic_keys),
    (GRID + r"/eventsubscriptions", subscriptions),
    (GRID + r"/eventsubscriptions/[^/]+", subscription),
    (GRID + r"/eventsubscriptions/[^/]+/getfullurl", full_url),
]


class _Handler(BaseHTTPRequestHandler):
    arm: FakeArm
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            zipped = (self.headers.get("Content-Type") or "").startswith("application/zip")
            body = raw if zipped else json.loads(raw) if raw else None
            with self.arm.lock:
                status, headers, answer = self.arm.handle(self.command, url.path, query, self.headers, body)
        except ArmError as exc:
            status, headers, answer = exc.status, {}, {"error": {"code": exc.code, "message": exc.message}}
        except json.JSONDecodeError as exc:
            status, headers, answer = 400, {}, {"error": {"code": "InvalidJson", "message": str(exc)}}
        self.arm.state.requests[-1].status = status if self.arm.state.requests else 0
        data = json.dumps(answer).encode() if answer is not None else b""
        self.send_response(status)
        for key, value in {
            **headers,
            "Content-Type": "application/json",
            "Content-Length": str(len(data)),
            "x-ms-request-id": str(uuid.uuid4()),
        }.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST = do_HEAD = _serve

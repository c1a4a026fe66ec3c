"""A small HTTPS endpoint on 127.0.0.1 that answers like Key Vault's secrets data plane, for the vaults it holds.

Held to the published description of the api-version the official client (azure-keyvault-secrets) sends:
the excerpt of `specification/keyvault/data-plane/Secrets/stable/<version>/secrets.json` in tests/data/azure
(see the NOTICE there). A request must be one of its operations (set, get, get versions, list, delete, get
deleted), its body of the operation's schema (no member the schema does not define, `value` present), a
secret's name of the path parameter's pattern (`^[0-9a-zA-Z-]+$`, at most 127 characters as the service
documents), and the fake's own answers of the operation's response schema.

It authenticates as Key Vault does: a request without a bearer token is answered 401 with a
`WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"` challenge,
which the SDK answers by asking its credential for a token of that resource and sending the request again
(its challenge policy sends the first request without a body, as the service expects); a wrong token is 401.
A token listed in `principals` stands for that principal, and is held to Key Vault's RBAC mode: the operation's
data action must be in a role the principal holds in the fake ARM on the vault or on that secret, else 403
ForbiddenByRbac (the suite's own token is not checked).
Vaults are told apart by the `Host` the request names (`<vault>.vault.azure.net`): a client reaches this
endpoint through `portable_fn_azure.secrets.make_client(..., endpoint=url)`. With a fake ARM given, a vault
is served only while ARM holds it (`Microsoft.KeyVault/vaults`, its `vaultUri` on that host; one made anew
starts empty), and each secret
set is a resource of ARM too (`<vault id>/secrets/<name>`), as it is on Azure: what a role assignment can be
scoped to. Soft delete is played: a deleted secret is listed under `/deletedsecrets` with its recovery id,
and setting its name again is refused (409 Conflict, ObjectIsDeletedButRecoverable) until it is purged.
Versions are 32 hex digits; times come from a counter that ticks once a write, so newer is always later.
"""

from __future__ import annotations

import importlib.util
import json
import re
import ssl
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def _load_arm_spec() -> Any:
    """The spec checker beside this file (test directories are not packages here)."""
    name = "portable_fn_tests_arm_spec"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("arm_spec.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


arm_spec = _load_arm_spec()
EXCERPT = arm_spec.SPECS / "keyvault/data-plane/Secrets/stable/{version}/secrets.excerpt.json"
AUTHORITY = "https://login.microsoftonline.com"
RESOURCE = "https://vault.azure.net"
MAX_NAME = 127  # a secret's name: 1-127 letters, digits and dashes (Key Vault's object naming rules)
START = 1_780_000_000  # the fake clock's first tick (unix seconds)


class VaultError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Version:
    version: str
    value: str
    created: int
    tags: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    enabled: bool = True


@dataclass
class Vault:
    host: str
    standalone: bool = False  # added by a test, not held by ARM
    incarnation: str = ""  # which creation of the ARM vault this is (a vault made anew starts empty)
    secrets: dict[str, list[Version]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    recoverable: dict[str, Version] = field(default_factory=dict)  # a deleted secret's latest version


class KeyVaultSpec(arm_spec.Spec):  # type: ignore[misc,name-defined]
    """The excerpt's paths, a path parameter matching an empty segment too (`GET /secrets/<name>/` is the
    current version: the SDK sends an empty `secret-version`)."""

    def __init__(self, path: Path) -> None:
        super().__init__("keyvault", path)
        self.patterns = [(re.compile(segments(t)), t) for t in self.document["paths"]]


def segments(template: str) -> str:
    """A path template as a regular expression, each parameter one segment, possibly empty."""
    parts = re.split(r"(\{[^}]+\})", template)
    return "".join("[^/]*" if p.startswith("{") else re.escape(p) for p in parts if p)


class FakeKeyVault:
    """The endpoint: `start()` it; `url` is its base URL; `requests` records (method, host, path, status)."""

    def __init__(self, cert_file: str, key_file: str, token: str, api_version: str, arm: Any = None) -> None:
        self.token = token
        self.api_version = api_version
        self.tenant = str(uuid.uuid4())
        self.spec = KeyVaultSpec(Path(str(EXCERPT).format(version=api_version)))
        self.arm = arm
        self.principals: dict[str, str] = {}  # bearer token -> the principal (object id) it stands for
        self.vaults: dict[str, Vault] = {}
        self.requests: list[tuple[str, str, str, int]] = []
        self.clock = START
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"vault": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> FakeKeyVault:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.vaults.clear()
            self.requests.clear()
            self.principals.clear()

    def add_vault(self, host: str) -> Vault:
        """A vault served without ARM (the runtime and store tests)."""
        return self.vaults.setdefault(host.lower(), Vault(host.lower(), standalone=True))

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    # -- dispatch -----------------------------------------------------------------------------------
    def handle(self, method: str, host: str, path: str, query: dict[str, str], auth: str | None, body: Any) -> Any:
        if not auth:
            raise Challenge(self.tenant)
        token = auth.removeprefix("Bearer ")
        if token != self.token and token not in self.principals:
            raise VaultError(401, "Unauthorized", "AKV10022: Invalid audience or token.")
        if query.get("api-version") != self.api_version:
            raise VaultError(
                400, "BadParameter", f"api-version {query.get('api-version')!r} is not {self.api_version!r}."
            )
        vault = self.vault(host)
        with spec_words():
            operation = self.spec.operation(method, path)
            self.check(operation, body, request=True)
        name = unquote(path.split("/")[2]) if path.count("/") >= 2 else ""
        if token in self.principals:
            self.authorize(self.principals[token], vault, operation.operation_id, name)
        status, answer = ROUTES[operation.operation_id](self, vault, name, path, body)
        with spec_words():
            if str(status) not in operation.spec["responses"]:
                raise arm_spec.SpecViolation(500, "FakeAnswerNotInSpec", f"{operation.operation_id} answered {status}")
            self.check(operation, answer, request=False, status=status)
        return status, answer

    def check(self, operation: Any, value: Any, request: bool, status: int = 200) -> None:
        checker = arm_spec.Checker(self.spec, request=request)
        if request:
            parameter = next((p for p in operation.spec.get("parameters", []) if p.get("in") == "body"), None)
            if parameter is None and value is not None:
                raise arm_spec.SpecViolation(400, "BadParameter", f"{operation.operation_id} takes no body.")
            if parameter is not None:
                if value is None:
                    raise arm_spec.SpecViolation(400, "BadParameter", "The request body is required.")
                checker.value(value, parameter["schema"], "")
            return
        schema = operation.spec["responses"][str(status)].get("schema")
        if schema and value is not None:
            checker.value(value, schema, "")

    def authorize(self, principal: str, vault: Vault, operation: str, name: str) -> None:
        """Key Vault's RBAC mode: the data action of `operation` must be in a role `principal` holds (in ARM) on
        the vault or on the secret itself; else 403 ForbiddenByRbac, as the service answers."""
        action, on_secret = DATA_ACTIONS[operation]
        secret = self.arm_id(vault, name) if self.arm is not None else None
        if secret is None:
            return  # a vault ARM does not hold: not checked
        vault_id = secret.rsplit("/secrets/", 1)[0]
        scopes = {vault_id.lower(), secret.lower()} if on_secret else {vault_id.lower()}
        for found in self.arm.state.resources.values():
            props = found.get("properties") or {}
            if found.get("type") != "Microsoft.Authorization/roleAssignments" or props.get("principalId") != principal:
                continue
            if props["scope"].lower() in scopes and action in self.data_actions(props["roleDefinitionId"]):
                return
        resource = secret if on_secret else vault_id
        raise VaultError(
            403,
            "Forbidden",
            f"Caller is not authorized to perform action on resource. Caller: ObjectId={principal}; Action: "
            f"'Microsoft.KeyVault/vaults/secrets/{action}'; Resource: '{resource.lower()}'; Vault: {vault.host}. "
            "(ForbiddenByRbac)",
        )

    def data_actions(self, role_id: str) -> tuple[str, ...]:
        """The secrets data actions a role allows: a built-in role's (`ROLE_DATA_ACTIONS`), or those of a custom
        role ARM holds (`Microsoft.KeyVault/vaults/secrets/<action>`; a wildcard there allows nothing here)."""
        assert self.arm is not None
        custom = self.arm.state.resources.get(role_id.lower())
        if custom is None:
            return ROLE_DATA_ACTIONS.get(role_id.rsplit("/", 1)[-1], ())
        allowed = [a for p in custom["properties"]["permissions"] for a in p.get("dataActions", [])]
        return tuple(a.removeprefix(SECRETS_ACTION) for a in allowed if a.startswith(SECRETS_ACTION))

    def vault(self, host: str) -> Vault:
        """The vault at `host`: one a test added, or one ARM holds (a vault ARM no longer holds is gone, with its
        secrets)."""
        host = host.split(":")[0].lower()
        found = self.vaults.get(host)
        if found is not None and found.standalone:
            return found
        secret = None if self.arm is None else self.arm_id(Vault(host), "")
        if secret is None:
            self.vaults.pop(host, None)
            raise VaultError(404, "VaultNotFound", f"No vault answers at {host}.")
        incarnation = self.arm.state.incarnations.get(secret.rsplit("/secrets/", 1)[0].lower(), "")
        if found is None or found.incarnation != incarnation:
            found = self.vaults[host] = Vault(host, incarnation=incarnation)
        return found

    def arm_id(self, vault: Vault, name: str) -> str | None:
        """The ARM id of secret `name` of `vault`, when ARM holds the vault."""
        if self.arm is None:
            return None
        for resource in self.arm.state.resources.values():
            uri = (resource.get("properties") or {}).get("vaultUri") or ""
            if resource.get("type") == "Microsoft.KeyVault/vaults" and urlsplit(uri).hostname == vault.host:
                return f"{resource['id']}/secrets/{name}"
        return None


# Each operation's data action, and whether it acts on one secret (a role on that secret may allow it) or the vault
# (https://learn.microsoft.com/azure/key-vault/general/rbac-guide, read 2026-12-06).
DATA_ACTIONS = {
    "SetSecret": ("setSecret/action", True),
    "GetSecret": ("getSecret/action", True),
    "GetSecretVersions": ("readMetadata/action", True),
    "GetSecrets": ("readMetadata/action", False),
    "DeleteSecret": ("delete", True),
    "GetDeletedSecret": ("readMetadata/action", True),
}
SECRETS_ACTION = "Microsoft.KeyVault/vaults/secrets/"  # a secrets data action, before the short form above
# The data actions of the two built-in roles deploy assigns (by role definition GUID; the Officer's are secrets/*).
ROLE_DATA_ACTIONS = {
    "4633458b-17de-408a-b874-0445c86b69e6": ("getSecret/action", "readMetadata/action"),  # Key Vault Secrets User
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": tuple(action for action, _ in DATA_ACTIONS.values()),  # ...Officer
}


class Challenge(Exception):
    def __init__(self, tenant: str) -> None:
        super().__init__("challenge")
        self.header = f'Bearer authorization="{AUTHORITY}/{tenant}", resource="{RESOURCE}"'


def spec_words() -> Any:
    from contextlib import contextmanager

    @contextmanager
    def refusing() -> Any:
        try:
            yield
        except arm_spec.SpecViolation as exc:
            raise VaultError(exc.status, "BadParameter" if exc.status < 500 else exc.code, exc.message) from None

    return refusing()


# -- operations ---------------------------------------------------------------------------------------
def secret_id(vault: Vault, name: str, version: str | None = None) -> str:
    return f"https://{vault.host}/secrets/{name}" + (f"/{version}" if version else "")


def attributes(version: Version) -> dict[str, Any]:
    return {
        "enabled": version.enabled,
        "created": version.created,
        "updated": version.created,
        "recoverableDays": 90,
        "recoveryLevel": "Recoverable+Purgeable",
    }


def bundle(vault: Vault, name: str, version: Version) -> dict[str, Any]:
    out = {
        "value": version.value,
        "id": secret_id(vault, name, version.version),
        "attributes": attributes(version),
        "tags": version.tags,
    }
    return {**out, "contentType": version.content_type} if version.content_type else out


def not_found(name: str, vault: Vault) -> VaultError:
    return VaultError(
        404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault ({vault.host})."
    )


def set_secret(kv: FakeKeyVault, vault: Vault, name: str, path: str, body: Any) -> tuple[int, Any]:
    pattern = next(
        p for p in kv.spec.document["paths"]["/secrets/{secret-name}"]["put"]["parameters"] if "pattern" in p
    )
    if not re.fullmatch(pattern["pattern"][1:-1], name) or len(name) > MAX_NAME:
        raise VaultError(
            400, "BadParameter", f"The secret name {name!r} is not valid: 1-127 letters, digits and dashes."
        )
    if name in vault.deleted:
        raise VaultError(
            409,
            "Conflict",
            f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be "
            "reused; in this state, the secret can only be recovered or purged. (ObjectIsDeletedButRecoverable)",
        )
    version = Version(uuid.uuid4().hex, body["value"], kv.tick(), body.get("tags") or {}, body.get("contentType"))
    vault.secrets.setdefault(name, []).append(version)
    scope = kv.arm_id(vault, name)
    if scope is not None:
        kv.arm.state.resources[scope.lower()] = {"id": scope, "name": name, "type": "Microsoft.KeyVault/vaults/secrets"}
    return 200, bundle(vault, name, version)


def get_secret(kv: FakeKeyVault, vault: Vault, name: str, path: str, body: Any) -> tuple[int, Any]:
    wanted = path.split("/")[3] if path.count("/") >= 3 else ""
    versions = vault.secrets.get(name) or []
    found = versions[-1] if versions and not wanted else next((v for v in versions if v.version == wanted), None)
    if found is None:
        raise not_found(name, vault)
    if not found.enabled:
        raise VaultError(403, "Forbidden", f"Operation get is not allowed on a disabled secret. ({name})")
    return 200, bundle(vault, name, found)


def item(vault: Vault, name: str, version: Version, versioned: bool) -> dict[str, Any]:
    return {
        "id": secret_id(vault, name, version.version if versioned else None),
        "attributes": attributes(version),
        "tags": version.tags,
        **({"contentType": version.content_type} if version.content_type else {}),
    }


def list_secrets(kv: FakeKeyVault, vault: Vault, name: str, path: str, body: Any) -> tuple[int, Any]:
    return 200, {"value": [item(vault, n, vs[-1], False) for n, vs in sorted(vault.secrets.items())], "nextLink": None}


def list_versions(kv: FakeKeyVault, vault: Vault, name: str, path: str, body: Any) -> tuple[int, Any]:
    if name not in vault.secrets:
        raise not_found(name, vault)
    # newest first, which Key Vault does not promise either: callers order by `created`
    return 200, {"value": [item(vault, name, v, True) for v in reversed(vault.secrets[name])], "nextLink": None}


def delete_secret(kv: FakeKeyVault, vault: Vault, name: str, path: str, body: Any) -> tuple[int, Any]:
    if name not in vault.secrets:
        raise not_found(name, vault)
    latest, now = vault.secrets.pop(name)[-1], kv.tick()
    vault.recoverable[name] = latest
    deleted = {
        **bundle(vault, name, latest),
        "recoveryId": f"https://{vault.host}/deletedsecrets/{name}",
        "deletedDate": now,
        "scheduledPurgeDate": now + 90 * 86400,
    }
    del deleted["value"]
    vault.deleted[name] = deleted
    scope = kv.arm_id(vault, name)
    if scope is not None:
        kv.arm.state.resources.pop(scope.lower(), None)
    return 200, deleted


def get_deleted(kv: FakeKeyVault, vault: Vault, name: str, path: str, body: Any) -> tuple[int, Any]:
    if name not in vault.deleted:
        raise VaultError(404, "DeletedSecretNotFound", f"Deleted Secret not found: {name}")
    return 200, vault.deleted[name]


def recover_deleted(kv: FakeKeyVault, vault: Vault, name: str, path: str, body: Any) -> tuple[int, Any]:
    """The deleted secret back with its versions' latest, as Key Vault recovers it (to its latest version)."""
    deleted = vault.deleted.pop(name, None)
    if deleted is None:
        raise VaultError(404, "DeletedSecretNotFound", f"Deleted Secret not found: {name}")
    version = vault.recoverable.pop(name)
    vault.secrets[name] = [version]
    scope = kv.arm_id(vault, name)
    if scope is not None:
        kv.arm.state.resources[scope.lower()] = {"id": scope, "name": name, "type": "Microsoft.KeyVault/vaults/secrets"}
    return 200, bundle(vault, name, version)


ROUTES = {
    "RecoverDeletedSecret": recover_deleted,
    "SetSecret": set_secret,
    "GetSecret": get_secret,
    "GetSecrets": list_secrets,
    "GetSecretVersions": list_versions,
    "DeleteSecret": delete_secret,
    "GetDeletedSecret": get_deleted,
}


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # see tests/json_server.py: answers go out at once, not 40 ms later
    vault: FakeKeyVault
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers: dict[str, str] = {"Content-Type": "application/json; charset=utf-8"}
        host = self.headers.get("Host") or ""
        try:
            body = json.loads(raw) if raw else None
            with self.vault.lock:
                status, answer = self.vault.handle(
                    self.command, host, url.path, query, self.headers.get("Authorization"), body
                )
        except Challenge as challenge:
            status, answer = (
                401,
                {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}},
            )
            headers["WWW-Authenticate"] = challenge.header
        except VaultError as exc:
            status, answer = exc.status, {"error": {"code": exc.code, "message": exc.message}}
        except json.JSONDecodeError as exc:
            status, answer = 400, {"error": {"code": "BadParameter", "message": str(exc)}}
        self.vault.requests.append((self.command, host.split(":")[0], url.path, status))
        data = json.dumps(answer).encode()
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = do_POST = do_PATCH = _serve

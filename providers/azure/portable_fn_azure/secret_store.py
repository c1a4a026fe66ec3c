"""`portable-fn secrets set|list|remove` on Azure (`AzureProvider.secret_store`): the app and stage's Key Vault,
written through the SDK with the deploying credential, which deploy grants its secrets officer role on the
vault (`deploy.roles`: set, list, delete, recover). Provider side: never shipped (the function reads through
`secrets.backend`).

ARM scopes a role to a secret only once the secret exists, so deploy cannot grant one that has no value yet;
`set` makes that grant right after storing the value (`ReaderGrant`, through deploy's own applier), so deploy
then `secrets set` is enough, and the next plan finds the grant made."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from portable_fn.runtime.secrets import SecretError
from portable_fn.secrets import SecretInfo

from .secrets import make_client, reason, vault_url

if TYPE_CHECKING:
    from portable_fn.app import App

    from .deploy import AzureDeployer
    from .deploy.appliers import RoleAssignments
    from .deploy.resources import RoleAssignment


def store_for(deployer: AzureDeployer, app: App, stage: str) -> KeyVaultStore:
    """The store of `app` in `stage`: its vault (`naming.Names.vault`), reached with the deploying credential
    (and `keyvault_endpoint`, `connection_verify` from the settings), granting each declared secret it sets to
    the function app's identity (`ReaderGrant`)."""
    vault, config = deployer.names(app, stage).vault, deployer.config
    client = make_client(
        vault_url(vault),
        deployer.client.credential,
        endpoint=config.keyvault_endpoint,
        connection_verify=config.connection_verify,
    )
    where = f"the Key Vault {vault} of {app.name!r} in stage {stage!r}"
    return KeyVaultStore(client, where, ReaderGrant(deployer, app, stage))


class KeyVaultStore:
    """`portable-fn secrets set|list|remove` on Azure: the app and stage's vault through one `SecretClient`.
    What `set` did beside storing (the grant to the app's identity) is in `notes`, for the CLI to show."""

    def __init__(self, client: Any, where: str, grant: ReaderGrant | None = None) -> None:
        self.client = client
        self.where = where  # "the Key Vault <name> of <app> in stage <stage>", for messages
        self.grant = grant
        self.notes: list[str] = []

    def set(self, name: str, value: str) -> str:
        """Store `value` as a new version of secret `name`; its version id. A secret removed before (kept
        recoverable by the vault's soft delete, its name unusable meanwhile) is recovered first. A declared
        secret is then granted to the deployed function app's identity (`ReaderGrant`)."""
        version = self._store(name, value)
        if self.grant is not None:
            self.notes += self.grant(name)
        return version

    def _store(self, name: str, value: str) -> str:
        from azure.core.exceptions import ResourceExistsError

        def put() -> Any:
            try:
                return self.client.set_secret(name, value)
            except ResourceExistsError as exc:
                if not _deleted_but_recoverable(exc):
                    raise
            self.client.begin_recover_deleted_secret(name).wait()
            return self.client.set_secret(name, value)

        return str(self._call(put).properties.version)

    def list(self) -> list[SecretInfo]:
        """Every secret of the vault, by name: its current version and when it was last set."""
        out = []
        for item in self._call(lambda: list(self.client.list_properties_of_secrets())):
            current = self.current(item.name)
            updated = current.updated_on if current is not None else item.updated_on
            version = current.version if current is not None else None
            out.append(SecretInfo(item.name, version, iso(updated)))
        return sorted(out, key=lambda info: str(info.name))

    def current(self, name: str) -> Any:
        """The newest enabled version of secret `name` (the vault lists versions in no set order)."""
        versions = [v for v in self._call(lambda: list(self.client.list_properties_of_secret_versions(name)))]
        enabled = [v for v in versions if v.enabled is not False]
        return max(enabled, key=lambda v: (v.created_on or datetime.min, v.version or ""), default=None)

    def remove(self, name: str) -> bool:
        """Delete secret `name` (the vault keeps it recoverable for its soft-delete retention); False when it
        had none."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._call(lambda: self.client.begin_delete_secret(name).wait(), missing_ok=True)
        except ResourceNotFoundError:
            return False
        return True

    def _call(self, action: Any, missing_ok: bool = False) -> Any:
        """`action()`, an Azure refusal said with where and what to do (not found passes when `missing_ok`)."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError, ServiceRequestError

        try:
            return action()
        except ResourceNotFoundError:
            if missing_ok:
                raise
            raise SecretError(f"{self.where}: not found; run `portable-fn deploy --provider azure` first.") from None
        except ServiceRequestError as exc:  # sent before any token is asked for: Key Vault's challenge comes first
            raise SecretError(
                f"{self.where} cannot be reached ({type(exc).__name__}). Either it does not exist "
                "yet (`portable-fn deploy --provider azure` makes it for this stage when a function declares a "
                "secret: deploy first), or this machine cannot reach *.vault.azure.net (network, proxy, firewall)."
            ) from None
        except AzureError as exc:
            raise SecretError(
                f"{self.where} refused ({reason(exc)}); the deploying principal gets portable-fn's secrets officer "
                "role on it at deploy time: deploy again, or ask for that role on the vault."
            ) from None


class ReaderGrant:
    """The secret reader's role on one secret for each function that declares it (its own identity), made by
    `set` once the secret exists: the grants `desired.secret_grants` plans, through deploy's own `RoleAssignments`
    applier, so the next plan reads them back as made. Nothing is granted for a secret no function declares, and
    nothing before the app is deployed (deploy grants every declared secret that has a value)."""

    def __init__(self, deployer: AzureDeployer, app: App, stage: str) -> None:
        self.deployer = deployer
        self.app = app
        self.stage = stage

    def __call__(self, name: str) -> list[str]:
        """Grant secret `name` to each function that declares it, if the app is deployed; what was done, as lines
        to show."""
        from .deploy.desired import secret_grants

        grants = secret_grants(self.app, self.deployer.names(self.app, self.stage), only=name)
        if not grants:
            return []
        applier = self._applier()
        return [self._grant(name, grant, applier) for grant in grants]

    def _grant(self, name: str, grant: RoleAssignment, applier: RoleAssignments) -> str:
        """Grant one reader function's identity secret `name`: what was done, as a line."""
        site = self.deployer.names(self.app, self.stage).function_app
        who = f"function {grant.function}'s identity in the function app {site}"
        deploy = f"`portable-fn deploy --provider azure --stage {self.stage}`"
        principal = self._call(name, lambda: self._principal(applier, grant.principal))
        if principal is None:
            return (
                f"{self.app.name!r} is not deployed in stage {self.stage!r}: the next {deploy} grants secret {name} "
                f"to function {grant.function}'s identity."
            )
        held = self._call(name, lambda: applier.held_at(grant.scope)) or []
        if (grant.role_definition_id.lower(), principal) in {(role.lower(), who) for role, who in held}:
            return f"Secret {name} was already granted to {who}."
        if self._call(name, lambda: applier.create(grant)) is False:
            return f"Azure does not show secret {name} to role assignments yet: the next {deploy} grants it."
        return (
            f"Secret {name} granted to {who} (portable-fn's secret reader role: getSecret on that secret alone); "
            "Azure applies a new role within minutes."
        )

    def _applier(self) -> RoleAssignments:
        from .deploy.appliers import RoleAssignments
        from .deploy.resources import RoleAssignment

        return cast(RoleAssignments, self.deployer.appliers(self.app, self.stage)[RoleAssignment])

    @staticmethod
    def _principal(applier: RoleAssignments, marker: str) -> str | None:
        """The function's identity, or None when it does not exist (not deployed)."""
        from .deploy.client import missing

        try:
            return applier.principal(marker)
        except Exception as exc:
            if missing(exc):
                return None
            raise

    def _call(self, name: str, action: Any) -> Any:
        """`action()`, an ARM refusal said as what was stored, what failed and what to run."""
        from azure.core.exceptions import AzureError

        try:
            return action()
        except (AzureError, LookupError) as exc:
            said = reason(exc) if isinstance(exc, AzureError) else str(exc)
            raise SecretError(
                f"Secret {name} is stored, but granting it to its functions' identities failed ({said}); "
                f"`portable-fn deploy --provider azure --stage {self.stage}` makes the grant, as a principal that may "
                "create role assignments (Owner or User Access Administrator on the app's resource group)."
            ) from None


def _deleted_but_recoverable(exc: Exception) -> bool:
    """Key Vault's refusal to reuse the name of a secret it keeps soft-deleted (ObjectIsDeletedButRecoverable)."""
    text = str(exc)
    return "ObjectIsDeletedButRecoverable" in text or "deleted but recoverable" in text


def iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None

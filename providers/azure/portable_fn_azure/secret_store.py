"""`portable-fn secrets set|list|remove` on Azure (`AzureProvider.secret_store`): the app and stage's Key Vault,
written through the SDK with the deploying credential, which deploy grants Key Vault Secrets Officer on the
vault. Provider side: never shipped (the function reads through `secrets.backend`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from portable_fn.runtime.secrets import SecretError
from portable_fn.secrets import SecretInfo

from .secrets import make_client, reason, vault_url

if TYPE_CHECKING:
    from portable_fn.app import App

    from .deploy import AzureDeployer


def store_for(deployer: AzureDeployer, app: App, stage: str) -> KeyVaultStore:
    """The store of `app` in `stage`: its vault (`naming.Names.vault`), reached with the deploying credential
    (and `keyvault_endpoint`, `connection_verify` from the settings)."""
    vault, config = deployer.names(app, stage).vault, deployer.config
    client = make_client(
        vault_url(vault),
        deployer.client.credential,
        endpoint=config.keyvault_endpoint,
        connection_verify=config.connection_verify,
    )
    return KeyVaultStore(client, f"the Key Vault {vault} of {app.name!r} in stage {stage!r}")


class KeyVaultStore:
    """`portable-fn secrets set|list|remove` on Azure: the app and stage's vault through one `SecretClient`."""

    def __init__(self, client: Any, where: str) -> None:
        self.client = client
        self.where = where  # "the Key Vault <name> of <app> in stage <stage>", for messages

    def set(self, name: str, value: str) -> str:
        """Store `value` as a new version of secret `name`; its version id. A secret removed before (kept
        recoverable by the vault's soft delete, its name unusable meanwhile) is recovered first."""
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
        except ServiceRequestError as exc:
            raise SecretError(
                f"{self.where} cannot be reached ({type(exc).__name__}); it is made by `portable-fn deploy "
                "--provider azure` for this stage when a function declares a secret: deploy first."
            ) from None
        except AzureError as exc:
            raise SecretError(
                f"{self.where} refused ({reason(exc)}); the deploying principal gets Key Vault Secrets Officer on "
                "it at deploy time: deploy again, or ask for that role on the vault."
            ) from None


def _deleted_but_recoverable(exc: Exception) -> bool:
    """Key Vault's refusal to reuse the name of a secret it keeps soft-deleted (ObjectIsDeletedButRecoverable)."""
    text = str(exc)
    return "ObjectIsDeletedButRecoverable" in text or "deleted but recoverable" in text


def iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None

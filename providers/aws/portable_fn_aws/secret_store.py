"""`portable-fn secrets set|list|remove --provider aws`: the app's secrets in SSM Parameter Store or Secrets
Manager (`AwsProvider.secret_store`; the setting `secrets` picks the store, SSM by default).

Provider side, never shipped. Names and prefixes are the runtime backend's (`portable_fn_aws.secrets`), so
what `set` writes is what a function reads:

| store            | set                                                  | list                    | remove          |
|------------------|------------------------------------------------------|-------------------------|-----------------|
| SSM (default)    | PutParameter SecureString, Overwrite (the AWS        | GetParametersByPath     | DeleteParameter |
|                  | managed key `aws/ssm`); the app's tags on first put  | (names, Version, date)  | (at once)       |
| Secrets Manager  | CreateSecret with the app's tags, then               | ListSecrets filtered by | DeleteSecret    |
|                  | PutSecretValue; a secret scheduled for deletion is   | name prefix (last       | with a recovery |
|                  | restored first                                       | changed date)           | window          |

Removing a Secrets Manager secret keeps it recoverable for `RECOVERY_DAYS` (`aws secretsmanager
restore-secret`; a `set` of the same name restores it too): deleting a credential by mistake should not
be final. Its functions cannot read it meanwhile. SSM has no recovery: DeleteParameter is final.
Values are only ever sent to AWS: never logged (the API log names the operation and the secret's name).
"""

from __future__ import annotations

import builtins
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .deploy.client import AwsClient, error_code, missing
from .deploy.naming import tag_list
from .secrets import SSM, prefix

if TYPE_CHECKING:
    from portable_fn.secrets import SecretInfo

RECOVERY_DAYS = 7  # the shortest recovery window Secrets Manager takes (7 to 30 days)


class AwsSecretStore:
    """The secrets of one app and stage in one store, through the deploy side's `AwsClient`."""

    def __init__(self, aws: AwsClient, store: str, app: str, stage: str) -> None:
        self.aws = aws
        self.store = store
        self.app, self.stage = app, stage
        self.prefix = prefix(store, app, stage)

    @property
    def where(self) -> str:
        """The store, for people: `SSM Parameter Store (/portable-fn/shop/dev/)` or `Secrets Manager (...)`."""
        return f"{'SSM Parameter Store' if self.store == SSM else 'Secrets Manager'} ({self.prefix})"

    def set(self, name: str, value: str) -> str:
        """Store `value` as secret `name`'s current value; its new version."""
        return self._ssm_set(name, value) if self.store == SSM else self._sm_set(name, value)

    def list(self) -> list[SecretInfo]:
        """The app and stage's secrets by name, with their versions and when they last changed."""
        found = self._ssm_list() if self.store == SSM else self._sm_list()
        return sorted(found, key=lambda info: info.name)

    def remove(self, name: str) -> bool:
        """Delete secret `name` (recoverable for `RECOVERY_DAYS` in Secrets Manager); False when it had none."""
        try:
            if self.store == SSM:
                self.aws.service("ssm").delete_parameter(Name=self.prefix + name)
            else:
                self.aws.service("secretsmanager").delete_secret(
                    SecretId=self.prefix + name, RecoveryWindowInDays=RECOVERY_DAYS
                )
        except Exception as exc:
            if missing(exc, "ParameterNotFound", "ResourceNotFoundException") or _pending_deletion(exc):
                return False
            raise
        return True

    # -- SSM Parameter Store ---------------------------------------------------------------------------
    def _ssm_set(self, name: str, value: str) -> str:
        ssm, physical = self.aws.service("ssm"), self.prefix + name
        try:  # tags cannot go with Overwrite, so a first put tags and a later one overwrites
            made = ssm.put_parameter(
                Name=physical, Value=value, Type="SecureString", Tags=tag_list(self.app, self.stage)
            )
        except Exception as exc:
            if error_code(exc) != "ParameterAlreadyExists":
                raise
            made = ssm.put_parameter(Name=physical, Value=value, Type="SecureString", Overwrite=True)
        return str(made["Version"])

    def _ssm_list(self) -> builtins.list[SecretInfo]:
        from portable_fn.secrets import SecretInfo

        ssm = self.aws.service("ssm")
        found = self.aws.pages(ssm, "get_parameters_by_path", "Parameters", Path=self.prefix, WithDecryption=False)
        return [
            SecretInfo(p["Name"].removeprefix(self.prefix), str(p["Version"]), _iso(p.get("LastModifiedDate")))
            for p in found
            if "/" not in p["Name"].removeprefix(self.prefix)
        ]

    # -- Secrets Manager -------------------------------------------------------------------------------
    def _sm_set(self, name: str, value: str) -> str:
        sm, physical = self.aws.service("secretsmanager"), self.prefix + name
        try:
            made = sm.create_secret(Name=physical, SecretString=value, Tags=tag_list(self.app, self.stage))
            return str(made["VersionId"])
        except Exception as exc:
            if error_code(exc) != "ResourceExistsException" and not _pending_deletion(exc):
                raise
        if "DeletedDate" in sm.describe_secret(SecretId=physical):  # removed, still in its recovery window
            sm.restore_secret(SecretId=physical)
        return str(sm.put_secret_value(SecretId=physical, SecretString=value)["VersionId"])

    def _sm_list(self) -> builtins.list[SecretInfo]:
        from portable_fn.secrets import SecretInfo

        sm = self.aws.service("secretsmanager")
        filters = [{"Key": "name", "Values": [self.prefix]}]
        out = []
        for secret in self.aws.pages(sm, "list_secrets", "SecretList", Filters=filters):
            name = str(secret["Name"])
            if not name.startswith(self.prefix) or "DeletedDate" in secret:
                continue
            versions = secret.get("SecretVersionsToStages") or {}
            current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), "")
            changed = secret.get("LastChangedDate") or secret.get("CreatedDate")
            out.append(SecretInfo(name.removeprefix(self.prefix), current, _iso(changed)))
        return out


def _pending_deletion(exc: BaseException) -> bool:
    """Secrets Manager refusing to act on a secret scheduled for deletion (it answers InvalidRequestException)."""
    text = str(exc).lower()
    return error_code(exc) == "InvalidRequestException" and "marked" in text and "delet" in text


def _iso(value: Any) -> str | None:
    """An AWS timestamp as ISO 8601 in UTC (botocore gives it in the machine's zone)."""
    return value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else None

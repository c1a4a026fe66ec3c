"""The AWS secret backend: what `stripe_key.value` reads on AWS Lambda.

Ships in the function zip beside the shim, but is imported only when a function first reads a secret
(`portable_fn.runtime.secrets` finds it by `PORTABLE_FN_PROVIDER=aws`); boto3, which the Lambda Python
runtime provides, is imported then too.

Deploy names where the app's secrets live in `PORTABLE_FN_SECRETS`, the locator (never a value):

| locator                                        | a secret `NAME` is                          | version    |
|------------------------------------------------|---------------------------------------------|------------|
| `ssm:/portable-fn/<app>/<stage>/` (default)    | the SSM SecureString `<path>NAME`, read     | Version    |
|                                                | with GetParameter WithDecryption            |            |
| `secretsmanager:portable-fn/<app>/<stage>/`    | the Secrets Manager secret `<prefix>NAME`,  | VersionId  |
|                                                | read with GetSecretValue (AWSCURRENT)       |            |

A secret with no value is a `SecretNotFoundError` naming the command that sets it (`runtime.secrets.not_found`);
any other refusal is a `SecretError` naming the store and what to check. Neither message ever holds a value.
The client honours `AWS_ENDPOINT_URL` (an emulator) as boto3 does.
"""

from __future__ import annotations

from typing import Any

from portable_fn.runtime.secrets import SecretError, not_found

SSM, SECRETS_MANAGER = "ssm", "secretsmanager"
STORES = (SSM, SECRETS_MANAGER)
# What each store answers when the secret has no value (a Secrets Manager secret scheduled for deletion
# answers InvalidRequestException: it has no value a function may read either).
NOT_FOUND = {SSM: ("ParameterNotFound",), SECRETS_MANAGER: ("ResourceNotFoundException", "InvalidRequestException")}


def locator(store: str, app: str, stage: str) -> str:
    """The `PORTABLE_FN_SECRETS` of an app and stage whose secrets are in `store` (`ssm`, `secretsmanager`)."""
    return f"{store}:{prefix(store, app, stage)}"


def prefix(store: str, app: str, stage: str) -> str:
    """What every secret name of the app and stage starts with in `store`: an SSM path, or a name prefix."""
    return f"/portable-fn/{app}/{stage}/" if store == SSM else f"portable-fn/{app}/{stage}/"


class AwsSecretBackend:
    """The secrets under one prefix of SSM Parameter Store or Secrets Manager, through one boto3 client."""

    def __init__(self, store: str, prefix: str, client: Any = None) -> None:
        self.store = store
        self.prefix = prefix
        self.client = client if client is not None else make_client(store)

    def fetch(self, name: str) -> tuple[str, str]:
        """The current value of secret `name` and its version (SSM's Version, Secrets Manager's VersionId)."""
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        physical = self.prefix + name
        try:
            if self.store == SSM:
                found = self.client.get_parameter(Name=physical, WithDecryption=True)["Parameter"]
                return str(found["Value"]), str(found["Version"])
            answer = self.client.get_secret_value(SecretId=physical)
            return str(answer["SecretString"]), str(answer["VersionId"])
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in NOT_FOUND[self.store]:
                raise not_found(name, self._where(physical)) from None
            raise SecretError(self._refused(name, physical, code)) from None
        except (BotoCoreError, KeyError) as exc:
            raise SecretError(self._refused(name, physical, type(exc).__name__)) from None

    def _refused(self, name: str, physical: str, code: str) -> str:
        return (
            f"secret {name!r} could not be read from {self._where(physical)} ({code}); check that the function "
            "declares it in uses= and was deployed since (its role may read that secret alone)."
        )

    @property
    def where(self) -> str:
        """The store, for the runtime's messages."""
        return f"SSM Parameter Store under {self.prefix}" if self.store == SSM else f"Secrets Manager ({self.prefix}*)"

    def _where(self, physical: str) -> str:
        return f"SSM parameter {physical}" if self.store == SSM else f"Secrets Manager secret {physical}"


def backend(locator: str, client: Any = None) -> AwsSecretBackend:
    """The backend `PORTABLE_FN_SECRETS` names: `ssm:<path>` or `secretsmanager:<name prefix>`."""
    store, _, where = locator.partition(":")
    if store not in STORES or not where:
        raise SecretError(
            f"PORTABLE_FN_SECRETS={locator!r} names no AWS secret store (expected 'ssm:/portable-fn/<app>/<stage>/' "
            "or 'secretsmanager:portable-fn/<app>/<stage>/'); deploy the function again with portable-fn."
        )
    return AwsSecretBackend(store, where, client)


def make_client(store: str) -> Any:
    """An SSM or Secrets Manager client for this function's region and endpoint (boto3 reads both from the
    environment), retrying throttling in botocore's standard mode."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    return boto3.client(store, config=Config(retries={"mode": "standard"}))

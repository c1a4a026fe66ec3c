"""`AwsClient`: the one boundary between deploy and AWS. Every call deploy makes goes through it.

It owns one boto3 session and the clients made from it (botocore's service models are read once per process,
see `new_session`), all sharing a retry policy (botocore's
"standard" mode: exponential backoff with jitter on throttling and transient errors), the endpoint
(`endpoint_url`, else whatever botocore resolves from `AWS_ENDPOINT_URL`/config: LocalStack, moto) and a
record of every operation called, taken from botocore's own `before-call` event. Tests read `calls`
and `mutating_calls()`, and can `register` their own botocore event handlers (to inject a failure, say)
without patching anything.

Every operation is also logged at DEBUG on the "portable_fn.api" logger (`--verbose` shows it) as
`aws <service> <operation> <resource>`, the resource read from the few parameters that name one
(`RESOURCE_PARAMS`); no other parameter is logged, as they carry environment values and policies.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import botocore.loaders  # type: ignore[import-untyped]
import botocore.session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

READ_PREFIXES = ("Describe", "Get", "List", "Scan")  # Scan: whether a state table holds items
Handler = Callable[..., Any]
API_LOG = logging.getLogger("portable_fn.api")
# The parameters that name what an operation acts on, joined with "/" in this order when several are
# given (a bucket and its key, a role and its inline policy, an API and its route).
RESOURCE_PARAMS = (
    "GroupName",
    "Name",
    "Bucket",
    "Key",
    "FunctionName",
    "StatementId",
    "RoleName",
    "PolicyName",
    "QueueUrl",
    "QueueName",
    "TopicArn",
    "SubscriptionArn",
    "TableName",
    "ApiId",
    "RouteId",
    "IntegrationId",
    "StageName",
    "logGroupName",
    "UUID",
    "ResourceArn",
    "resourceArn",
    "Resource",
)


class AwsClient:
    """Lazily made boto3 clients for one region and endpoint, with a shared call record."""

    def __init__(
        self, region: str, endpoint_url: str | None = None, profile: str | None = None, max_attempts: int = 8
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self.session = new_session(region, profile)
        self.config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            s3={"addressing_style": "path"} if self.endpoint_url else {},
        )
        self.calls: list[tuple[str, str]] = []
        self._clients: dict[str, Any] = {}
        self._account: str | None = None
        self._handlers: list[tuple[str, Handler]] = [
            ("before-call", self._record),
            ("before-parameter-build", self._name_resource),
        ]
        self._recording = threading.Lock()
        self._making = threading.Lock()

    # -- the services deploy uses ------------------------------------------------------------------
    @property
    def iam(self) -> Any:
        return self.service("iam")

    @property
    def lambda_(self) -> Any:
        return self.service("lambda")

    @property
    def logs(self) -> Any:
        return self.service("logs")

    @property
    def sqs(self) -> Any:
        return self.service("sqs")

    @property
    def sns(self) -> Any:
        return self.service("sns")

    @property
    def s3(self) -> Any:
        return self.service("s3")

    @property
    def scheduler(self) -> Any:
        return self.service("scheduler")

    @property
    def apigateway(self) -> Any:
        return self.service("apigateway")

    @property
    def apigatewayv2(self) -> Any:
        return self.service("apigatewayv2")

    @property
    def dynamodb(self) -> Any:
        return self.service("dynamodb")

    @property
    def tagging(self) -> Any:
        return self.service("resourcegroupstaggingapi")

    @property
    def sts(self) -> Any:
        return self.service("sts")

    def service(self, name: str) -> Any:
        """The client of service `name`, made on first use (under a lock: the remote read asks from several
        threads, and a boto3 session is not safe to make clients from in more than one at once)."""
        with self._making:
            if name not in self._clients:
                client = self.session.client(name, endpoint_url=self.endpoint_url, config=self.config)
                for event, handler in self._handlers:
                    client.meta.events.register(event, handler)
                self._clients[name] = client
            return self._clients[name]

    # -- helpers every reader needs ----------------------------------------------------------------
    def pages(self, client: Any, operation: str, key: str, **params: Any) -> Iterator[Any]:
        """The items under `key` across every page of a paginated List/Describe/Get operation."""
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])

    def account(self) -> str:
        """The account id of the credentials in use (asked once)."""
        if self._account is None:
            self._account = str(self.sts.get_caller_identity()["Account"])
        return self._account

    def caller(self) -> tuple[str, str]:
        """The account id and the ARN of the identity making the calls (STS GetCallerIdentity)."""
        identity = self.sts.get_caller_identity()
        self._account = str(identity["Account"])
        return self._account, str(identity["Arn"])

    @property
    def partition(self) -> str:
        return str(self.session.get_partition_for_region(self.region))

    def sibling(self) -> AwsClient:
        """A client on this one's session (credentials resolved once), region, endpoint and retry policy,
        logging on the same "portable_fn.api" logger, with a call record and handlers of its own: for
        calls that are not deploy's own (the audit trail's), so `calls` stays exactly the deploy's."""
        twin = copy.copy(self)
        twin.calls, twin._clients, twin._recording, twin._making = [], {}, threading.Lock(), threading.Lock()
        twin._handlers = [("before-call", twin._record), ("before-parameter-build", twin._name_resource)]
        return twin

    # -- observing and steering calls (tests, progress) --------------------------------------------
    def register(self, event: str, handler: Handler) -> None:
        """Register a botocore event handler on every client, made or yet to be made."""
        self._handlers.append((event, handler))
        for client in self._clients.values():
            client.meta.events.register(event, handler)

    def unregister(self, event: str, handler: Handler) -> None:
        self._handlers.remove((event, handler))
        for client in self._clients.values():
            client.meta.events.unregister(event, handler)

    def mutating_calls(self) -> list[tuple[str, str]]:
        """Recorded calls whose operation only reads (`READ_PREFIXES`) left out."""
        return [c for c in self.calls if not c[1].startswith(READ_PREFIXES)]

    def _name_resource(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """Before the parameters become a request: what the call names, for its log line."""
        context["portable_fn_resource"] = resource_named(params)

    def _record(self, model: Any = None, context: dict[str, Any] | None = None, **_: Any) -> None:
        """A call about to be sent: recorded and logged together, so that the log lines come in the order
        of `calls` also when the remote read sends calls from several threads."""
        if model is None:
            return
        service = model.service_model.service_name
        with self._recording:
            self.calls.append((service, model.name))
            API_LOG.debug("aws %s %s %s", service, model.name, (context or {}).get("portable_fn_resource", "-"))


_SESSIONS = threading.Lock()


@functools.cache
def _service_models() -> Any:
    """botocore's loader of service models (JSON files of up to a few MB each), one for the process."""
    return botocore.loaders.create_loader()


def new_session(region: str, profile: str | None) -> Any:
    """A boto3 session of its own (its credentials, profile and region), whose clients take their service
    models from the process's one loader, which keeps each model once read. A session with a loader of its
    own reads and parses every model again: ~0.4 s of CPU for the dozen services deploy uses, each time an
    `AwsClient` is made (the suite makes hundreds)."""
    core = botocore.session.Session(profile=profile)
    models = _service_models()
    core.register_component("data_loader", models)
    with _SESSIONS:
        session = boto3.session.Session(botocore_session=core, region_name=region)
        # boto3 adds its own data folder to the loader of every session it makes: keep it once
        models.search_paths[:] = dict.fromkeys(models.search_paths)
    return session


def resource_named(params: dict[str, Any]) -> str:
    """What the parameters of a call name ("-" when none of `RESOURCE_PARAMS` is given)."""
    names = [str(params[key]) for key in RESOURCE_PARAMS if isinstance(params.get(key), str)]
    return "/".join(names) or "-"


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, '' for anything else."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def missing(exc: BaseException, *codes: str) -> bool:
    """True when `exc` is a ClientError saying the thing asked about does not exist."""
    return error_code(exc) in codes or error_code(exc).endswith(("NotFound", "NotFoundException"))


# -- credentials: what a user can do about them -----------------------------------------------------
_REFUSED_KEYS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidAccessKeyId",
}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}


def explain(exc: BaseException) -> str | None:
    """Credentials that are missing, incomplete, expired or refused, said with what to do; None for the
    rest (AWS's own message says it)."""
    from botocore.exceptions import (
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        TokenRetrievalError,
    )

    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return (
            f"AWS could not be reached ({exc}). Check the network, a proxy (HTTPS_PROXY), and the region "
            "(a region that does not exist has no endpoint); for an emulator, pass --endpoint-url."
        )

    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials were found (environment, shared files, SSO, instance role). Run `aws "
            "configure`, or `aws sso login` with AWS_PROFILE set, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY; an emulator behind --endpoint-url takes any test keys."
        )
    if isinstance(exc, PartialCredentialsError):
        return f"the AWS credentials are incomplete ({exc}); set the missing part, or use a profile."
    if isinstance(exc, TokenRetrievalError):
        return f"the AWS SSO session could not give credentials ({exc}); run `aws sso login` again."
    error: dict[str, Any] = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
    code = error.get("Code", "")
    if code in _EXPIRED:
        return (
            f"the AWS credentials have expired ({code}); refresh them (`aws sso login`, or new session "
            "keys) and run the command again."
        )
    if code in _REFUSED_KEYS:
        return (
            f"AWS refused the credentials ({code}: {error.get('Message', '')}); check the access key and "
            "secret, and which profile is in use (AWS_PROFILE)."
        )
    return None

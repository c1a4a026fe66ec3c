"""`portable-fn export --provider aws`: the resources `desired` returns, as CloudFormation or Terraform.

The files must not depend on the account that runs `export`, so `desired` is built here with placeholder
ARNs (`PLACEHOLDER`) and no cloud call. Each format then spells every ARN or URL of a resource in the
export as a reference to that resource (`Exported.references`: CloudFormation's Ref / GetAtt,
Terraform's `aws_sqs_queue.orders.arn`), and what is left of the placeholders as the account, region
and partition the files are deployed to. The zips the functions run from are copied beside the files,
under `artifacts/`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portable_fn.deploy import Artifact, Resource
from portable_fn.export import Export, unsupported_format
from portable_fn.runtime.errors import ProviderError

from ..packaging import size_budget
from .desired import Target, desired
from .naming import Arns, Names
from .naming import tags as own_tags
from .resources import (
    ApiIntegration,
    ApiRoute,
    BucketNotification,
    CodeObject,
    DeploymentBucket,
    Function,
    Queue,
    Role,
    Table,
    Topic,
)

if TYPE_CHECKING:
    from portable_fn.app import App

    from . import AwsDeployer

CLOUDFORMATION, TERRAFORM = "cloudformation", "terraform"
FORMATS = (CLOUDFORMATION, TERRAFORM)
# Stand-ins for what only the deploying account knows; no name or ARN AWS makes can contain them.
PLACEHOLDER = Arns(partition="pfn-partition", region="pfn-region", account="pfn-account")
ARTIFACTS = "artifacts"
URL, ARN = "url", "arn"  # the two attributes a reference may point at (a queue has both)
NOT_IN_IDS = re.compile(r"[^A-Za-z0-9]+")
# What neither format writes yet (nothing, now the tenants' REST API is written): `export` refuses an app that
# needs one of them, naming it.
NOT_EXPORTED: frozenset[type[Resource]] = frozenset()


def export(deployer: AwsDeployer, app: App, stage: str, artifact: Artifact, fmt: str) -> Export:
    """The app's resources for `stage` as files of `fmt`, with the zips they refer to and the notes."""
    if fmt not in FORMATS:
        raise unsupported_format("aws", fmt, FORMATS)
    from .cloudformation import cloudformation
    from .terraform import terraform

    exported = Exported.of(deployer, app, stage, artifact)
    unwritten = [r for r in exported.resources if type(r) in NOT_EXPORTED]
    if unwritten:
        raise ProviderError(
            f"Provider 'aws' cannot export --format {fmt} for this app: its {unwritten[0].kind} "
            f"{unwritten[0].name!r} is not written to CloudFormation or Terraform yet. Deploy it with portable-fn "
            "deploy --provider aws."
        )
    return cloudformation(exported) if fmt == CLOUDFORMATION else terraform(exported)


@dataclass(frozen=True)
class Reference:
    """A resource of the export and which of its attributes a literal ARN or URL stands for."""

    resource: Resource
    attribute: str  # ARN or URL


@dataclass(frozen=True)
class Exported:
    """What both formats start from: the app, the resources `desired` returns (placeholder ARNs), and the
    region the settings name (when they do)."""

    app: App
    stage: str
    names: Names
    resources: tuple[Resource, ...]
    region: str | None

    @classmethod
    def of(cls, deployer: AwsDeployer, app: App, stage: str, artifact: Artifact) -> Exported:
        deployer.check(app)
        config, names = deployer.config, deployer.names(app, stage)
        target = Target(
            app,
            stage,
            names,
            PLACEHOLDER,
            artifact,
            config.log_retention_days,
            config.http,
            size_budget(config),
            config.secrets,
        )
        resources = tuple(desired(target))
        return cls(app, stage, names, resources, config.region)

    def short(self, resource: Resource) -> str:
        """The resource's name without what every name of the app and stage holds (`<app>-<stage>-`, the
        log groups' `/aws/lambda/`, the statements' `portable-fn-`): what its id in the files is made of."""
        if isinstance(resource, DeploymentBucket):  # its name ends in a digest of the (placeholder) account
            return "deploy"
        if isinstance(resource, CodeObject):  # `<function or app>/<sha256>.zip`
            return f"code-{resource.object_key.split('/')[0]}"
        name = resource.name.removeprefix("/aws/lambda/")
        parts = [part.removeprefix(f"{self.names.prefix}-").removeprefix("portable-fn-") for part in name.split("/")]
        return "-".join(part for part in parts if part != self.names.prefix) or "app"

    def tags(self, resource: Resource) -> dict[str, str]:
        """The tags deploy puts on `resource`: portable-fn's two, and the user's it carries (the app's tags,
        a stage's over them; only the types deploy tags have the field)."""
        return {**own_tags(self.app.name, self.stage), **dict(getattr(resource, "tags", ()))}

    def references(self) -> dict[str, Reference]:
        """Every ARN and URL `desired` spelled out for a resource the export holds: functions, roles, queues
        (ARN and URL), topics and tables."""
        arns, found = PLACEHOLDER, {}
        for resource in self.resources:
            if isinstance(resource, Function):
                found[resource.arn] = Reference(resource, ARN)
            elif isinstance(resource, Role):
                found[arns.role(self.names.role_path, resource.name)] = Reference(resource, ARN)
            elif isinstance(resource, Queue):
                found[arns.queue(resource.name)] = Reference(resource, ARN)
                found[arns.queue_url(resource.name)] = Reference(resource, URL)
            elif isinstance(resource, Topic):
                found[arns.topic(resource.name)] = Reference(resource, ARN)
            elif isinstance(resource, Table):
                found[arns.table(resource.name)] = Reference(resource, ARN)
        return found

    def policy(self, text: str, value: Callable[[str], Any]) -> Any:
        """A policy document of `desired` (canonical JSON) as an object, each string in it as `value` says it
        (an ARN of the export as a reference)."""
        return _strings(json.loads(text), value)

    def notifications(self, bucket: str) -> list[BucketNotification]:
        """The notification entries of the bucket named `bucket`, in desired's order."""
        return [n for n in self.resources if isinstance(n, BucketNotification) and n.bucket == bucket]

    def find(self, kind: type[Resource], name: str) -> Resource | None:
        """The resource of type `kind` named `name`, when the export holds it."""
        return next((r for r in self.resources if isinstance(r, kind) and r.name == name), None)

    def integration(self, route: ApiRoute) -> ApiIntegration:
        """The integration `route` targets: its API's proxy to the function it names."""
        found = (r for r in self.resources if isinstance(r, ApiIntegration) and r.api == route.api)
        return next(r for r in found if r.function_arn == route.function_arn)

    def zip_of(self, function: Function) -> str:
        """Where the function's zip is copied, relative to the files: `artifacts/<zip>`."""
        return f"{ARTIFACTS}/{Path(function.zip_path).name}"

    def artifacts(self) -> dict[str, Path]:
        return {self.zip_of(f): Path(f.zip_path) for f in self.resources if isinstance(f, Function)}


def _strings(node: Any, value: Callable[[str], Any]) -> Any:
    if isinstance(node, dict):
        return {k: _strings(v, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_strings(v, value) for v in node]
    return value(node) if isinstance(node, str) else node


def logical_id(short: str, suffix: str) -> str:
    """A CloudFormation logical id (letters and digits): `orders-dlq` and "Queue" make `OrdersDlqQueue`."""
    return "".join(part[:1].upper() + part[1:] for part in NOT_IN_IDS.split(short)) + suffix


def unused(base: str, taken: set[str]) -> str:
    """`base`, or `base` and the first number that makes it unique among `taken` (which it joins)."""
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    taken.add(candidate)
    return candidate

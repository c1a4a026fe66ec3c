"""`AwsProvider`: portable-fn on AWS Lambda, found through the `portable_fn.providers` entry point `aws`.

This module is the provider side and never ships in a function zip. It composes the parts: the runtime
shim (`shim.py`, what runs in Lambda), packaging for Lambda's platform (`packaging.py`) and the boto3
deploy side (`deploy/`, imported only when packaging, planning, deploying or removing).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portable_fn.config import typed_settings
from portable_fn.provider import Progress, Provider
from portable_fn.runtime.errors import UnsupportedTriggerError

from .records import CLOUDEVENT, EVENTBRIDGE, record_source
from .settings import AwsSettings
from .shim import deliver

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.cost import Sizing
    from portable_fn.deploy import Artifact, Resource
    from portable_fn.deploy.grants import Grant
    from portable_fn.export import Export
    from portable_fn.logread import LogEntry
    from portable_fn.provider import DeadLetterEntry
    from portable_fn.runtime.function import FunctionSpec
    from portable_fn.runtime.outcomes import Result

    from .deploy import AwsDeployer
    from .secret_store import AwsSecretStore

MAX_TIMEOUT_S = 900  # Lambda stops any invocation after 15 minutes
MAX_MEMORY_MB = 10240


class AwsProvider(Provider):
    """AWS Lambda. Settings (from `[tool.portable-fn.aws]`): `package` (one zip per app or per function,
    see `packaging`), `direct_upload_limit_mb` (zips above it go through S3, see `packaging`);
    `region`, `http`, ... (the deploy side, see `deploy`)."""

    name = "aws"
    settings_model = AwsSettings
    export_formats = ("cloudformation", "terraform")

    def make_deployer(self) -> AwsDeployer:
        """The boto3 side (imported here, so `invoke` never imports boto3)."""
        from .deploy import AwsDeployer

        return AwsDeployer(self.config, self.endpoint_url)

    @property
    def config(self) -> AwsSettings:
        """The settings as an `AwsSettings`, every default filled in (`settings` holds the keys given)."""
        return typed_settings(AwsSettings, self.settings, "tool.portable-fn.aws")

    def package(self, app: App, stage: str, out_dir: Path, progress: Progress) -> Artifact:
        """One zip per app, or per function (the setting `package`: "auto", "app" or "function"), checked
        against Lambda's size limits (the setting `direct_upload_limit_mb`: above it, through S3)."""
        from .packaging import build_package, size_budget

        return build_package(app, stage, out_dir, progress, layout=self.config.package, budget=size_budget(self.config))

    def check(self, app: App) -> None:
        """Reject what Lambda cannot run (timeouts over 15 minutes, memory over 10,240 MB) or bind."""
        self._check_limits(app)
        self.deployer.check(app)

    def _check_limits(self, app: App) -> None:
        for spec in app.functions:
            options = app.options(spec)
            if options.timeout_s is not None and options.timeout_s > MAX_TIMEOUT_S:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on aws: timeout_s={options.timeout_s} is over Lambda's limit of "
                    f"{MAX_TIMEOUT_S} seconds. Lower timeout_s, or split the work (a queue trigger "
                    "can hand it over in parts)."
                )
            if options.memory_mb is not None and options.memory_mb > MAX_MEMORY_MB:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on aws: memory_mb={options.memory_mb} is over Lambda's limit of "
                    f"{MAX_MEMORY_MB} MB. Lower memory_mb."
                )

    def offline_desired(self, app: App, stage: str, artifact: Artifact) -> list[Resource]:
        """`desired` with placeholder ARNs (`deploy.export.PLACEHOLDER`, as `export` writes them): the grants'
        actions and resources by name, without asking STS for the account."""
        from .deploy import AwsDeployer
        from .deploy.export import Exported

        deployer = self.deployer
        assert isinstance(deployer, AwsDeployer)
        return list(Exported.of(deployer, app, stage, artifact).resources)

    def dead_letters(self, app: App, stage: str, spec: FunctionSpec, redrive: bool = False) -> list[DeadLetterEntry]:
        """The messages of the function's dead-letter queue, oldest first; with `redrive`, each sent back to
        its queue or invoked again, then deleted (see `redrive`)."""
        from .deploy import AwsDeployer
        from .redrive import DeadLetters

        deployer = self.deployer
        assert isinstance(deployer, AwsDeployer)
        reader = DeadLetters(deployer.client, deployer.names(app, stage), deployer.arns(), spec, app.options(spec))
        return reader.read(redrive)

    def grants(self, desired: Sequence[Resource]) -> list[Grant]:
        """Each statement of the app's IAM roles, per resource (`deploy.grants`)."""
        from .deploy.grants import grants

        return grants(desired)

    def secret_store(self, app: App, stage: str) -> AwsSecretStore:
        """The app and stage's secrets in SSM Parameter Store or Secrets Manager (the setting `secrets`), for
        `portable-fn secrets` (see `secret_store`)."""
        from .secret_store import AwsSecretStore

        return AwsSecretStore(self.deployer.client, self.config.secrets, app.name, stage)

    def cost_sizing(self, app: App, stage: str, resources: Sequence[Resource]) -> dict[str, Sizing]:
        """Each function's sizing in `resources`, for `portable_fn.cost` (see `cost.sizing`)."""
        from .cost import sizing

        return sizing(app, stage, resources)

    def export(self, app: App, stage: str, artifact: Artifact, fmt: str) -> Export:
        """The app's resources as a CloudFormation template or Terraform for hashicorp/aws (`deploy.export`);
        no cloud call: ARNs are references or the deploying account's, region's and partition's."""
        from .deploy import AwsDeployer
        from .deploy.export import export

        deployer = self.deployer
        assert isinstance(deployer, AwsDeployer)
        return export(deployer, app, stage, artifact, fmt)

    def plan_notes(self, app: App, stage: str) -> list[str]:
        """What `plan` says beside its steps: the app's Python when Lambda has deprecated it (`runtimes`), each
        function whose retry policy AWS clamps or cannot honour (`deploy.retries`), each ANY route whose JWT
        authorizer would refuse CORS preflights (`deploy.edge`), and where each tenant-isolated function is
        reached (`deploy.rest_api`)."""
        from .deploy import rest_api
        from .deploy.edge import preflight_notes
        from .deploy.retries import retry_notes
        from .runtimes import runtime_note

        said = runtime_note(app.config.python, datetime.now(timezone.utc).date())
        return [
            *([said] if said else []),
            *retry_notes(app),
            *preflight_notes(app, self.config.http),
            *rest_api.notes(app, stage),
        ]

    def workflow_env(self, app: App, stage: str) -> dict[str, str]:
        """What deploy sets on the functions that use the workflow store (`desired.FunctionResources.env`:
        the store's table, the workflows' queue URLs, the delay group and role, the app's runtime settings),
        less what names one function; with the region, and the endpoint (an emulator) and profile when
        given, which boto3 reads from the environment as the state backend and the publisher open it."""
        from portable_fn.deploy import Artifact
        from portable_fn.runtime.workflow import STORE

        from .deploy import AwsDeployer
        from .deploy.desired import DEAD_LETTER_ENV, FunctionResources, Target
        from .visibility import QUEUE_URL_ENV

        deployer = self.deployer
        assert isinstance(deployer, AwsDeployer)
        not_built = Artifact(Path("not-built.zip"), "", 0, 0)  # a function's env names no package
        target = Target(app, stage, deployer.names(app, stage), deployer.arns(), not_built, secrets=self.config.secrets)
        env: dict[str, str] = {}
        for spec in app.functions:
            if any(use.resource == STORE for use in app.options(spec).uses):
                env.update(FunctionResources(target, spec).env())
        for own in ("PORTABLE_FN_FUNCTION", DEAD_LETTER_ENV, QUEUE_URL_ENV):
            env.pop(own, None)
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = deployer.region()
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.config.profile:
            env["AWS_PROFILE"] = self.config.profile
        return env

    def read_logs(self, app: App, stage: str, functions: Sequence[FunctionSpec], since: datetime) -> list[LogEntry]:
        """The functions' CloudWatch Logs events (see `logs`), through the deploy side's client."""
        from .logs import CloudWatchLogs

        return CloudWatchLogs(self.deployer.client, self.deployer.names(app, stage)).read(
            [spec.name for spec in functions], since
        )

    def invoke(self, app: App, spec: FunctionSpec, event: Any, stage: str | None = None) -> dict[str, Any]:
        """Run one native Lambda event through the shim, as Lambda would; a JSON-ready summary."""
        options = app.options(spec)
        context = InvokeContext(f"{app.name}-{spec.name}", options.timeout_s or 3, options.memory_mb or 128)
        event, skipped = _filtered(spec, event)
        if event is None and skipped:  # the S3 notification (or EventBridge rule) would not have invoked it
            return {"function": spec.name, "results": [], "skipped": skipped}
        delivery = deliver(spec, event, context)
        out: dict[str, Any] = {"function": spec.name, "source": delivery.source, "response": delivery.response}
        if spec.trigger.kind == "http":
            out["status"] = delivery.response["statusCode"]
            return out
        out["results"] = [_result_dict(r) for r in delivery.results]
        if delivery.error is not None:
            out["error"] = str(delivery.error)
        if skipped:
            out["skipped"] = skipped
        return out


class InvokeContext:
    """The Lambda context object for a local invocation: the attributes handlers and the shim read."""

    def __init__(self, function_name: str, timeout_s: float, memory_mb: int) -> None:
        import time

        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _filtered(spec: FunctionSpec, event: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The event without the records the deployed trigger filters out (`Trigger.skip_reason`: the S3
    notification's event type, prefix and suffix), and why each was left out; None when none is left.
    A record that cannot be read is kept, for the shim to fail alone."""
    if spec.trigger.kind != "storage" or not isinstance(event, Mapping):
        return event, []
    records = event.get("Records")
    batch = isinstance(records, list) and bool(records)
    items: list[Any] = records if isinstance(records, list) and batch else [event]
    kept, skipped = [], []
    for item in items:
        source = record_source(item) if batch else _single_source(item)
        try:
            decoded = source.to_cloudevent(item) if source is not None else None
        except Exception:  # unreadable: the shim says why
            decoded = None
        reason = spec.trigger.skip_reason(decoded) if decoded is not None else None
        if decoded is None or reason is None:
            kept.append(item)
        else:
            skipped.append({"id": decoded.id, "reason": reason})
    if not kept:
        return None, skipped
    return ({**event, "Records": kept} if batch else event), skipped


def _single_source(event: Any) -> Any:
    if not isinstance(event, Mapping):
        return None
    if "detail-type" in event and "source" in event:
        return EVENTBRIDGE
    return CLOUDEVENT if "specversion" in event else None


def _result_dict(result: Result) -> dict[str, Any]:
    out: dict[str, Any] = result.to_dict()
    if "value" in out and not isinstance(out["value"], (str, int, float, bool, list, dict)):
        out["value"] = repr(out["value"])
    return out

"""`GcpProvider`: portable-fn on Google Cloud Functions (2nd gen), found through the `portable_fn.providers`
entry point `gcp`.

This module is the provider side and never ships in a source zip. It composes the parts: the runtime shim
(`shim.py`, what functions-framework runs), packaging (`packaging.py`) and the deploy side (`deploy/`,
imported only when packaging, planning, deploying or removing).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from portable_fn.config import typed_settings
from portable_fn.provider import Progress, Provider
from portable_fn.runtime.channels import Channel
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.errors import InvalidEventError, UnsupportedTriggerError
from portable_fn.runtime.http import Headers
from portable_fn.runtime.http_binding import from_http, is_cloudevent
from portable_fn.runtime.triggers import Queue, Trigger

from .events import MESSAGE_PUBLISHED, from_sdk_event, not_delivered
from .settings import GcpSettings
from .shim import deliver_cloudevent, entry_point

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.cost import Sizing
    from portable_fn.deploy import Artifact, RemoteState, Resource
    from portable_fn.deploy.grants import Grant
    from portable_fn.export import Export
    from portable_fn.logread import LogEntry
    from portable_fn.provider import DeadLetterEntry
    from portable_fn.runtime.function import FunctionOptions, FunctionSpec
    from portable_fn.runtime.outcomes import Result

    from .deploy import GcpDeployer
    from .secret_store import SecretManagerStore

MAX_EVENT_TIMEOUT_S = 540  # event-driven functions; HTTP functions may run 3600 s, the longest timeout_s
ARCHITECTURES = ("x86_64",)  # Cloud Functions runs on x86_64 only
RESERVED_MODULE = "main"  # the generated entry-point module


class GcpProvider(Provider):
    """Google Cloud Functions (2nd gen). Settings (from `[tool.portable-fn.gcp]`): `project`, `region`, ...
    (used by the deploy side)."""

    name = "gcp"
    settings_model = GcpSettings
    export_formats = ("terraform",)

    def make_deployer(self) -> GcpDeployer:
        """The Google-client side (imported here, so `invoke` never imports the clients)."""
        from .deploy import GcpDeployer

        return GcpDeployer(self.config, self.endpoint_url)

    @property
    def config(self) -> GcpSettings:
        """The settings as a `GcpSettings`, every default filled in (`settings` holds the keys given)."""
        return typed_settings(GcpSettings, self.settings, "tool.portable-fn.gcp")

    def read_remote_to_remove(self, app: App, stage: str) -> RemoteState:
        """`read_remote` with every account deploy made counted as going: `remove`'s plan lists each project
        binding naming one, roles granted by hand included, before it asks or applies."""
        return cast("GcpDeployer", self.deployer).read_remote_to_remove(app, stage)

    def package(self, app: App, stage: str, out_dir: Path, progress: Progress) -> Artifact:
        from .packaging import build_package

        return build_package(app, stage, out_dir, progress)

    def check(self, app: App) -> None:
        """Reject what Cloud Functions cannot run or bind, naming the function and the fix."""
        for spec in app.functions:
            _check_function(spec, app.options(spec))
        self.deployer.check(app)

    def dead_letters(self, app: App, stage: str, spec: FunctionSpec, redrive: bool = False) -> list[DeadLetterEntry]:
        """The dead letters kept by the subscription on the function's dead-letter topic, oldest first; with
        `redrive`, each published back to its trigger topic and acknowledged (see `redrive`)."""
        from .redrive import DeadLetters

        deployer = cast("GcpDeployer", self.deployer)
        reader = DeadLetters(deployer.client, deployer.names(app, stage), spec, app.options(spec))
        return reader.read(redrive)

    def secret_store(self, app: App, stage: str) -> SecretManagerStore:
        """The app's secrets for `stage` in Secret Manager (`secret_store`), what its functions read."""
        from .secret_store import SecretManagerStore

        deployer = cast("GcpDeployer", self.deployer)
        return SecretManagerStore(deployer.client, deployer.names(app, stage))

    def grants(self, desired: Sequence[Resource]) -> list[Grant]:
        """Each IAM binding the app's resources make, its role's permissions spelled out (`deploy.grants`)."""
        from .deploy.grants import grants

        return grants(desired)

    def cost_sizing(self, app: App, stage: str, resources: Sequence[Resource]) -> dict[str, Sizing]:
        """Each function's sizing in `resources`, for `portable_fn.cost` (see `cost.sizing`)."""
        from .cost import sizing

        return sizing(app, stage, resources)

    def export(self, app: App, stage: str, artifact: Artifact, fmt: str) -> Export:
        """The app's resources for `stage` as a Terraform document for hashicorp/google (`deploy.export`), the
        source zip beside `main.tf`; what Terraform cannot hold is in the notes."""
        from portable_fn.export import TERRAFORM, terraform_export, unsupported_format

        from .deploy.export import terraform_document

        if fmt != TERRAFORM:
            raise unsupported_format(self.name, fmt, self.export_formats)
        names, zip_file = self.deployer.names(app, stage), artifact.path.name
        resources = self.desired(app, stage, artifact)
        document, notes = terraform_document(
            app, stage, resources, artifact, names=names, settings=self.config, artifact_file=zip_file
        )
        return terraform_export(self.name, document, {zip_file: artifact.path}, notes)

    def plan_notes(self, app: App, stage: str) -> list[str]:
        """What `plan` says beside its steps: each function whose retry policy Google clamps or cannot honour
        (`deploy.retries`), and that grants are per app when every function runs as `service_account`
        (`deploy.desired.account_notes`)."""
        from .deploy.desired import account_notes
        from .deploy.retries import retry_notes

        return [*retry_notes(app), *account_notes(app, self.config)]

    def workflow_env(self, app: App, stage: str) -> dict[str, str]:
        """What deploy sets on the functions that use the workflow store (`desired.FunctionResources.env`:
        the store's and the queues' locators, the delay queue and its account, project, region and the app's
        runtime settings), less what names one function. The clients reach the emulators by the variables
        they read themselves (`FIRESTORE_EMULATOR_HOST`, `PUBSUB_EMULATOR_HOST`), inherited from here."""
        from portable_fn.deploy import Artifact
        from portable_fn.runtime.workflow import STORE

        from .deploy.desired import DEAD_LETTER_ENV, TIMEOUT_ENV, FunctionResources, Target

        not_built = Artifact(Path("not-built.zip"), "", 0, 0)  # a function's env names no package
        target = Target(app, stage, self.deployer.names(app, stage), not_built, self.config)
        env: dict[str, str] = {}
        for spec in app.functions:
            if any(use.resource == STORE for use in app.options(spec).uses):
                env.update(FunctionResources(target, spec).env())
        for own in ("PORTABLE_FN_FUNCTION", TIMEOUT_ENV, DEAD_LETTER_ENV):
            env.pop(own, None)
        return env

    def read_logs(self, app: App, stage: str, functions: Sequence[FunctionSpec], since: datetime) -> list[LogEntry]:
        """The functions' Cloud Logging entries (see `logs`), from the endpoint `endpoints.logging` names,
        else the provider's endpoint, else Google's."""
        from .logs import CloudLogging

        names = self.deployer.names(app, stage)
        endpoint = (self.config.endpoints or {}).get("logging") or self.endpoint_url
        services = {names.function_id(spec.name): spec.name for spec in functions}
        credentials = cast("GcpDeployer", self.deployer).credentials
        return CloudLogging.connect(endpoint, credentials).read(names.project, names.region, services, since)

    def invoke(self, app: App, spec: FunctionSpec, event: Any, stage: str | None = None) -> dict[str, Any]:
        """Run one native event through the shim, as the deployed function would; a JSON-ready summary.

        An HTTP function takes a request: `{"method", "path", "query", "headers", "body" | "body_base64"}`.
        An event function takes what its deployed trigger can be sent (`google_event`): a Google
        CloudEvent in the JSON format (what Eventarc sends, such as a `messagePublished` or a
        `storage.object.v1.finalized`), an HTTP request carrying one in binary or structured mode
        (`{"headers": {"ce-id": ...}, "body": ...}`), a Pub/Sub push body (`{"message", "subscription"}`)
        or a legacy background event (`{"context": ..., "data": ...}`).

        The result's `status` is what the function would answer; `results` holds the handler's outcome,
        or a `dead_letter` outcome for an event the function refuses (4xx), so any outcome but `ack` is a
        failed invocation. An event the deployed trigger would not deliver (a delete event to
        `storage(on="created")`, a key outside its prefix) is in `skipped` (its id and why) with no
        results: nothing failed.
        """
        if spec.trigger.kind == "http":
            body, status, headers = entry_point(spec)(InvokeRequest.from_dict(event))
            response = {"status": status, "headers": headers, "body": body.decode("utf-8", "replace")}
            return {"function": spec.name, "status": status, "response": response}
        try:
            google = google_event(spec, event)
        except InvalidEventError as exc:
            return _refused(spec, str(exc))
        if (why := _not_delivered(spec.trigger, google)) is not None:
            return _skipped(spec, google, why)
        answer = deliver_cloudevent(spec, google, event, app.options(spec).timeout_s)
        if answer.status == 200 and answer.result is None and answer.reason:  # the prefix/suffix filter
            return _skipped(spec, google, answer.reason)
        if answer.result is None:
            return _refused(spec, answer.reason or "the event cannot be read", answer.status)
        out: dict[str, Any] = {"function": spec.name, "status": answer.status, "results": [_result_dict(answer.result)]}
        if answer.reason is not None:
            out["reason"] = answer.reason
        return out


def _check_function(spec: FunctionSpec, options: FunctionOptions) -> None:
    where = f"Function {spec.name!r} on gcp"
    if spec.module.split(".")[0] == RESERVED_MODULE:
        raise UnsupportedTriggerError(
            f"{where}: its module is named 'main', the name of the entry-point module functions-framework "
            "loads. Rename the module (and tool.portable-fn.modules)."
        )
    if options.architecture not in (None, *ARCHITECTURES):
        raise UnsupportedTriggerError(
            f"{where}: architecture={options.architecture!r} is not available; Cloud Functions runs on "
            "x86_64 only. Remove the option (or set it per provider)."
        )
    if spec.trigger.kind != "http" and options.timeout_s is not None and options.timeout_s > MAX_EVENT_TIMEOUT_S:
        raise UnsupportedTriggerError(
            f"{where}: timeout_s={options.timeout_s} is over the limit of {MAX_EVENT_TIMEOUT_S} seconds for "
            "event-driven functions. Lower timeout_s, or hand the work to an HTTP function (up to 3600 s)."
        )
    for channel in (use.resource for use in options.uses if isinstance(use.resource, Channel)):
        if channel.fifo:
            raise UnsupportedTriggerError(
                f"{where}: it sends to queue({channel.name!r}, fifo=True), which needs ordered delivery; the queue's "
                "Pub/Sub topic delivers without order. Drop fifo=True, or order by a key in your own store."
            )
    if isinstance(spec.trigger, Queue) and spec.trigger.fifo:
        raise UnsupportedTriggerError(
            f"{where}: queue({spec.trigger.name!r}, fifo=True) cannot be honoured: Eventarc's Pub/Sub "
            "subscriptions deliver without ordering. Drop fifo=True, or order by a key in your own store."
        )


def google_event(spec: FunctionSpec, event: Any) -> CloudEvent[Any]:
    """The Google CloudEvent the deployed function would get for an `invoke` input (see `invoke`)."""
    where = f"Invoking {spec.name!r} on gcp"
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"{where}: pass a JSON object, not a {type(event).__name__}. {ACCEPTED}")
    try:
        if "headers" in event and ("body" in event or "body_base64" in event):
            headers, body = _headers(event["headers"]), _body(event)
            if is_cloudevent(headers):
                return from_http(headers, body)
            return google_event(spec, json.loads(body))  # what functions-framework reads next: a legacy event
        if "specversion" in event:
            return CloudEvent.from_dict(event)
        if isinstance(event.get("message"), Mapping) and "subscription" in event:
            return _push_event(spec, event)
        if "context" in event or "eventType" in event:
            return _legacy_event(event)
    except InvalidEventError as exc:
        raise InvalidEventError(f"{where}: {exc}") from None
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise InvalidEventError(
            f"{where}: the event cannot be read ({type(exc).__name__}: {exc}). {ACCEPTED}"
        ) from None
    raise InvalidEventError(f"{where}: {ACCEPTED}")


ACCEPTED = (
    "An event function takes a CloudEvent in the JSON format (specversion, id, source, type, data), "
    'an HTTP request {"headers": {"ce-specversion": ...}, "body": ...} in binary or structured '
    'mode, a Pub/Sub push body {"message": ..., "subscription": ...}, or a legacy background '
    'event {"context": ..., "data": ...}.'
)


def _headers(found: Any) -> dict[str, str]:
    if not isinstance(found, Mapping) or not all(isinstance(v, str) for v in found.values()):
        raise InvalidEventError("'headers' must be an object of string values.")
    return {str(name): value for name, value in found.items()}


def _body(event: Mapping[str, Any]) -> bytes:
    if "body_base64" in event:
        return base64.b64decode(event["body_base64"], validate=True)
    body = event["body"]
    if body is None or isinstance(body, str):
        return (body or "").encode("utf-8")
    return json.dumps(body).encode("utf-8")  # a JSON body given as JSON


def _push_event(spec: FunctionSpec, push: Mapping[str, Any]) -> CloudEvent[Any]:
    """The messagePublished event Eventarc makes of a Pub/Sub push: the push body is its data."""
    message, subscription = push["message"], push["subscription"]
    project = subscription.split("/")[1] if isinstance(subscription, str) and subscription.count("/") == 3 else "-"
    topic = getattr(spec.trigger, "name", None) or spec.name
    return CloudEvent(
        id=message.get("messageId") or "invoke",
        source=f"//pubsub.googleapis.com/projects/{project}/topics/{topic}",
        type=MESSAGE_PUBLISHED,
        time=message.get("publishTime"),
        datacontenttype="application/json",
        data=dict(push),
    )


def _legacy_event(event: Mapping[str, Any]) -> CloudEvent[Any]:
    """A legacy background event, converted by functions-framework's own converter (as it does when a
    request holds no CloudEvent)."""
    try:
        from functions_framework import event_conversion
        from functions_framework.exceptions import EventConversionException
    except ImportError:
        raise InvalidEventError(
            "a legacy background event is converted by functions-framework, which is not "
            "installed: pip install functions-framework."
        ) from None

    class Request:  # what the converter reads of a flask request
        path = "/"

        @staticmethod
        def get_json() -> Any:
            return json.loads(json.dumps(event))  # a copy: the converter changes what it is given

    try:
        return from_sdk_event(event_conversion.background_event_to_cloud_event(Request()))
    except EventConversionException as exc:
        raise InvalidEventError(f"the legacy event cannot be converted ({exc}).") from None


def _not_delivered(trigger: Trigger, event: CloudEvent[Any]) -> str | None:
    """Why the deployed trigger's Eventarc filter would not deliver `event`, or None."""
    why = not_delivered(trigger, event.type)
    return None if why is None else f"{why}; Eventarc would not deliver it to the function, so it did not run."


def _skipped(spec: FunctionSpec, event: CloudEvent[Any], why: str) -> dict[str, Any]:
    """The function did not run, and nothing failed: as the other providers say it."""
    return {"function": spec.name, "status": 200, "results": [], "skipped": [{"id": event.id, "reason": why}]}


def _refused(spec: FunctionSpec, why: str, status: int = 400) -> dict[str, Any]:
    """An event the function refuses (the deployed function answers 4xx, and Pub/Sub redelivers it until
    the subscription's dead-letter policy takes it): a failed invocation."""
    return {
        "function": spec.name,
        "status": status,
        "reason": why,
        "results": [{"outcome": "dead_letter", "reason": why}],
    }


class InvokeRequest:
    """The attributes of functions-framework's flask request the shim reads, for a local invocation."""

    def __init__(self, method: str, path: str, query: str, headers: Headers, body: bytes) -> None:
        self.method = method
        self.path = path
        self.query_string = query.encode("utf-8")
        self.headers = headers
        self._body = body

    @classmethod
    def from_dict(cls, event: Any) -> InvokeRequest:
        shape = "An HTTP invocation takes a JSON object: {method, path, query, headers, body | body_base64}"
        if not isinstance(event, Mapping):
            raise InvalidEventError(f"{shape}, not a {type(event).__name__}.")
        if "path" not in event:  # another cloud's event, a queue message: never a request for GET /
            keys = ", ".join(sorted(map(str, event))[:8]) or "none"
            raise InvalidEventError(f"{shape}; this one has no path (its keys: {keys}).")
        try:
            body = _body(event) if "body" in event or "body_base64" in event else b""
            headers = _headers(event.get("headers") or {})
        except (InvalidEventError, ValueError, TypeError, binascii.Error) as exc:
            raise InvalidEventError(f"{shape}: {exc}") from None
        fields = {name: event.get(name, default) for name, default in (("method", "GET"), ("path", "/"), ("query", ""))}
        if not all(isinstance(value, str) for value in fields.values()):
            raise InvalidEventError(f"{shape}; method, path and query are strings.")
        return cls(fields["method"].upper(), fields["path"] or "/", fields["query"], Headers(headers), body)

    def get_data(self) -> bytes:
        return self._body


def _result_dict(result: Result) -> dict[str, Any]:
    out: dict[str, Any] = result.to_dict()
    if "value" in out and not isinstance(out["value"], (str, int, float, bool, list, dict)):
        out["value"] = repr(out["value"])
    return out

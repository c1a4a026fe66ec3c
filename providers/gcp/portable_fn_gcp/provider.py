"""`GcpProvider`: portable-fn on Google Cloud Functions (2nd gen), found through the `portable_fn.providers`
entry point `gcp`.

This module is the provider side and never ships in a source zip. It composes the parts: the runtime shim
(`shim.py`, what functions-framework runs), packaging (`packaging.py`) and the deploy side (`deploy/`,
imported only when packaging, planning, deploying or removing).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portable_fn.provider import Progress, Provider
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.errors import InvalidEventError, UnsupportedTriggerError
from portable_fn.runtime.http import Headers

from .settings import GcpSettings
from .shim import deliver_cloudevent, entry_point

if TYPE_CHECKING:
    from portable_fn.deploy import Artifact, Executor, RemoteState, Resource

    from .deploy import GcpDeployer

MAX_EVENT_TIMEOUT_S = 540  # event-driven functions; HTTP functions may run 3600 s, the longest timeout_s
ARCHITECTURES = ("x86_64",)  # Cloud Functions runs on x86_64 only
RESERVED_MODULE = "main"  # the generated entry-point module


class GcpProvider(Provider):
    """Google Cloud Functions (2nd gen). Settings (from `[tool.portable-fn.gcp]`): `project`, `region`, ...
    (used by the deploy side)."""

    name = "gcp"
    settings_model = GcpSettings

    def __init__(self, settings: dict[str, Any] | None = None, endpoint_url: str | None = None) -> None:
        super().__init__(settings, endpoint_url)
        self._deployer: GcpDeployer | None = None

    @property
    def deployer(self) -> GcpDeployer:
        """The Google-client side, created on first use (so `invoke` never imports the clients)."""
        if self._deployer is None:
            from .deploy import GcpDeployer

            self._deployer = GcpDeployer(self.settings, self.endpoint_url)
        return self._deployer

    def desired(self, app: Any, stage: str, artifact: Artifact) -> list[Resource]:
        return self.deployer.desired(app, stage, artifact)

    def read_remote(self, app: Any, stage: str) -> RemoteState:
        return self.deployer.read_remote(app, stage)

    def executor(self, app: Any, stage: str) -> Executor:
        return self.deployer.executor(app, stage)

    def explain(self, exc: BaseException) -> str | None:
        from .deploy.client import explain

        return explain(exc)

    def outputs(self, app: Any, stage: str, remote: RemoteState) -> dict[str, Any]:
        return self.deployer.outputs(app, stage, remote)

    def package(self, app: Any, stage: str, out_dir: Path, progress: Progress) -> Artifact:
        from .packaging import build_package

        return build_package(app, stage, out_dir, progress)

    def check(self, app: Any) -> None:
        """Reject what Cloud Functions cannot run or bind, naming the function and the fix."""
        for spec in app.functions:
            _check_function(spec, app.options(spec))
        self.deployer.check(app)

    def invoke(self, app: Any, spec: Any, event: Any) -> dict[str, Any]:
        """Run one native event through the shim, as functions-framework would; a JSON-ready summary.

        An HTTP function takes a request: `{"method", "path", "query", "headers", "body" | "body_base64"}`.
        An event function takes the Google CloudEvent in the JSON format (what Eventarc sends), such as
        a `google.cloud.pubsub.topic.v1.messagePublished` or `google.cloud.storage.object.v1.finalized`.
        """
        timeout = app.options(spec).timeout_s
        if spec.trigger.kind == "http":
            body, status, headers = entry_point(spec)(InvokeRequest.from_dict(event))
            response = {"status": status, "headers": headers, "body": body.decode("utf-8", "replace")}
            return {"function": spec.name, "status": status, "response": response}
        if not isinstance(event, Mapping) or "specversion" not in event:
            raise InvalidEventError(
                f"Invoking {spec.name!r} on gcp: pass the CloudEvent Eventarc would send, in the JSON format "
                "(with specversion, id, source, type and data)."
            )
        answer = deliver_cloudevent(spec, CloudEvent.from_dict(event), event, timeout)
        out: dict[str, Any] = {"function": spec.name, "status": answer.status}
        if answer.result is not None:
            out["results"] = [_result_dict(answer.result)]
        if answer.reason is not None:
            out["reason"] = answer.reason
        return out


def _check_function(spec: Any, options: Any) -> None:
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
    if spec.trigger.kind == "queue" and spec.trigger.fifo:
        raise UnsupportedTriggerError(
            f"{where}: queue({spec.trigger.name!r}, fifo=True) cannot be honoured: Eventarc's Pub/Sub "
            "subscriptions deliver without ordering. Drop fifo=True, or order by a key in your own store."
        )


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
        if not isinstance(event, Mapping):
            raise InvalidEventError("An HTTP invocation takes a JSON object: {method, path, query, headers, body}.")
        body = base64.b64decode(event["body_base64"]) if "body_base64" in event else str(
            event.get("body") or "").encode("utf-8")
        return cls(str(event.get("method", "GET")).upper(), str(event.get("path", "/")),
                   str(event.get("query", "")), Headers(event.get("headers") or {}), body)

    def get_data(self) -> bytes:
        return self._body


def _result_dict(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = result.to_dict()
    if "value" in out and not isinstance(out["value"], (str, int, float, bool, list, dict)):
        out["value"] = repr(out["value"])
    return out

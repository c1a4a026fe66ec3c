"""`AzureProvider`: portable-fn on Azure Functions, found through the `portable_fn.providers` entry point `azure`.

This module is the provider side and never ships in the package zip. It composes the parts: the runtime shim
(`shim.py`, what the generated `function_app.py` calls), the code generator (`codegen.py`), packaging and the
deploy side (`deploy/`, imported only when packaging, planning, deploying or removing).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portable_fn.provider import Progress, Provider
from portable_fn.runtime.errors import InvalidEventError, UnsupportedTriggerError

from . import codegen, shim

if TYPE_CHECKING:
    from portable_fn.deploy import Artifact, Executor, RemoteState, Resource

    from .deploy import AzureDeployer

CONSUMPTION_SKUS = ("Y1",)
CONSUMPTION_MAX_TIMEOUT_S = 600  # Linux Consumption stops an invocation after 10 minutes


class AzureProvider(Provider):
    """Azure Functions (Python v2 model). Settings (`[tool.portable-fn.azure]`): `storage_connection`,
    `queue_transport`, `topic_transport`, `service_bus_connection` (bindings, see `codegen`), `plan_sku`
    and the deploy side's own (see `deploy`)."""

    name = "azure"

    def __init__(self, settings: dict[str, Any] | None = None, endpoint_url: str | None = None) -> None:
        super().__init__(settings, endpoint_url)
        self._deployer: AzureDeployer | None = None

    @property
    def deployer(self) -> AzureDeployer:
        """The Azure management side, created on first use."""
        if self._deployer is None:
            from .deploy import AzureDeployer

            self._deployer = AzureDeployer(self.settings, self.endpoint_url)
        return self._deployer

    def package(self, app: Any, stage: str, out_dir: Path, progress: Progress) -> Artifact:
        from .packaging import build_package

        return build_package(app, stage, out_dir, progress)

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

    def check(self, app: Any) -> None:
        """Reject what Azure cannot bind (schedules NCRONTAB cannot express, unknown transports) or run
        (timeouts over the Consumption plan's 10 minutes)."""
        codegen.check(app)
        self.deployer.check(app)
        if str(self.settings.get("plan_sku", "Y1")) not in CONSUMPTION_SKUS:
            return
        for spec in app.functions:
            timeout = app.options(spec).timeout_s
            if timeout is not None and timeout > CONSUMPTION_MAX_TIMEOUT_S:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on azure: timeout_s={timeout} is over the Consumption plan's limit "
                    f"of {CONSUMPTION_MAX_TIMEOUT_S} seconds. Lower timeout_s, or set plan_sku = \"FC1\" (Flex "
                    "Consumption) or \"EP1\" (Elastic Premium) under [tool.portable-fn.azure]: neither has that limit."
                )

    def generate_shim(self, app: Any, out_dir: Path) -> list[Path]:
        """Write `function_app.py` and `host.json` into `out_dir`."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = [(out_dir / "function_app.py", shim.generate_function_app(app)),
                   (out_dir / "host.json", shim.host_json(app))]
        for path, text in written:
            path.write_text(text, encoding="utf-8")
        return [path for path, _ in written]

    def invoke(self, app: Any, spec: Any, event: Any) -> dict[str, Any]:
        """Run one native event through the shim as the host would: an `azure.functions` object, or its JSON
        shape (HTTP: method, url, headers, body, route_params; queue: id, body, dequeue_count; Event Grid:
        the event in either schema; blob: name, uri, length, properties; timer: anything)."""
        entry, kind = _entry(app, spec), spec.trigger.kind
        context = InvokeContext(spec.name)
        out: dict[str, Any] = {"function": spec.name}
        if kind == "http":
            response = entry(_native_http(event), context)
            out.update(status=response.status_code, body=response.get_body().decode("utf-8", "replace"))
            return out
        poison = Poison()
        args = (_native(spec, event), poison) if _is_storage_queue(app, spec) else (_native(spec, event),)
        try:
            entry(*args, context)
        except shim.DeliveryFailed as exc:
            out.update(outcome="retry", error=str(exc))
        else:
            out["outcome"] = "dead_letter" if poison.value is not None else "ack"
        if poison.value is not None:
            out["poison"] = poison.value
        return out


class InvokeContext:
    """The `azure.functions.Context` of a local invocation: the attributes the shim and handlers read."""

    def __init__(self, function_name: str) -> None:
        self.invocation_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_directory = ""
        self.retry_context = None
        self.trace_context = None


class Poison:
    """The `func.Out` of the poison queue output binding: remembers what was set."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


class _HttpResponse:
    """What `invoke` builds instead of `azure.functions.HttpResponse` (not a dependency of the provider)."""

    def __init__(self, body: bytes, *, status_code: int, mimetype: str | None, charset: str | None) -> None:
        self.status_code = status_code
        self.mimetype = mimetype
        self.charset = charset
        self._body = body
        self.headers = _Headers()

    def get_body(self) -> bytes:
        return self._body


class _Headers(dict[str, str]):
    def add_header(self, name: str, value: str) -> None:
        self[name] = value


class _Native:
    """A trigger object rebuilt from its JSON shape: attributes as given, `get_body`/`get_json` for data."""

    def __init__(self, fields: Mapping[str, Any], body: Any = None) -> None:
        self.__dict__.update(fields)
        self._body = body

    def get_body(self) -> bytes:
        body = self._body
        if isinstance(body, (dict, list)):
            return json.dumps(body).encode("utf-8")
        return body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")

    def get_json(self) -> Any:
        return self._body


def _entry(app: Any, spec: Any) -> Any:
    chosen, options = codegen.transports(app), app.options(spec)
    kind, timeout = spec.trigger.kind, options.timeout_s
    if kind == "http":
        return shim.http_entry(spec, _HttpResponse, timeout)
    if kind == "queue" and chosen["queue_transport"] == "storage_queue":
        return shim.queue_entry(spec, codegen.physical_queue(spec.trigger.name), chosen["storage_connection"],
                                options.max_attempts, timeout)
    if kind in ("queue", "topic") and chosen[f"{kind}_transport"] == "service_bus":
        return shim.service_bus_entry(spec, codegen.physical_queue(spec.trigger.name),
                                      chosen["service_bus_connection"], timeout)
    if kind == "schedule":
        return shim.timer_entry(spec, spec.trigger.expression, timeout)
    if kind == "storage" and spec.trigger.on == "created":
        return shim.blob_entry(spec, timeout)
    blobs = None
    if kind == "storage":
        blobs = (codegen.physical_container(spec.trigger.bucket), spec.trigger.prefix, spec.trigger.suffix)
    return shim.event_grid_entry(spec, timeout, blobs=blobs)


def _is_storage_queue(app: Any, spec: Any) -> bool:
    return spec.trigger.kind == "queue" and codegen.transports(app)["queue_transport"] == "storage_queue"


def _native_http(event: Any) -> Any:
    if not isinstance(event, Mapping):
        return event
    body = event.get("body") or b""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    url = event.get("url") or f"http://localhost{event.get('path', '/')}"
    return _Native({"method": event.get("method", "GET"), "url": url, "headers": dict(event.get("headers") or {}),
                    "params": dict(event.get("params") or {}),
                    "route_params": dict(event.get("route_params") or {})}, body)


def _native(spec: Any, event: Any) -> Any:
    if not isinstance(event, Mapping):
        return event  # an azure.functions object already
    kind = spec.trigger.kind
    if kind in ("topic",) or (kind == "storage" and spec.trigger.on == "deleted"):
        return dict(event)  # the shim reads Event Grid events as JSON too
    if kind == "queue":
        return _Native({"id": event.get("id") or str(uuid.uuid4()), "dequeue_count": event.get("dequeue_count", 1),
                        "insertion_time": datetime.now(timezone.utc), "message_id": event.get("id"),
                        "delivery_count": event.get("delivery_count", 1), "content_type": event.get("content_type"),
                        "application_properties": event.get("application_properties") or {},
                        "enqueued_time_utc": datetime.now(timezone.utc), "subject": None, "label": None,
                        "partition_key": None}, event.get("body"))
    if kind == "storage":
        return _Native({"name": event["name"], "uri": event.get("uri", ""), "length": event.get("length"),
                        "blob_properties": event.get("properties") or {}})
    if kind == "schedule":
        return _Native({"past_due": bool(event.get("past_due", False))})
    raise InvalidEventError(f"Function {spec.name!r} on azure: cannot invoke a {kind} trigger with {event!r}.")

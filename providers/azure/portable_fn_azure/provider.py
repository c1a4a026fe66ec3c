"""`AzureProvider`: portable-fn on Azure Functions, found through the `portable_fn.providers` entry point `azure`.

This module is the provider side and never ships in the package zip. It composes the parts: the runtime shim
(`shim.py`, what the generated `function_app.py` calls), the code generator (`codegen.py`), packaging and the
deploy side (`deploy/`, imported only when packaging, planning, deploying or removing).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from portable_fn.config import typed_settings
from portable_fn.provider import DeadLetterEntry, Progress, Provider
from portable_fn.runtime.errors import InvalidEventError, ProviderError, UnsupportedTriggerError
from portable_fn.runtime.pipeline import Call, Middleware, remove, use
from portable_fn.runtime.triggers import Http, Queue, Schedule, Storage, Topic

from . import codegen, events, shim
from .names import dead_letter_queue
from .settings import AzureSettings

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.cost import Sizing
    from portable_fn.deploy import Artifact, Resource
    from portable_fn.deploy.grants import Grant
    from portable_fn.export import Export
    from portable_fn.logread import LogEntry
    from portable_fn.runtime.channels import Channel
    from portable_fn.runtime.function import FunctionOptions, FunctionSpec
    from portable_fn.secrets import SecretStore

    from .deploy import AzureDeployer

CONSUMPTION_SKUS = ("Y1",)
CONSUMPTION_MAX_TIMEOUT_S = 600  # Linux Consumption stops an invocation after 10 minutes
BLOB_EVENTS = {"created": events.BLOB_CREATED, "deleted": "Microsoft.Storage.BlobDeleted"}  # what deploy subscribes


class AzureProvider(Provider):
    """Azure Functions (Python v2 model). Settings (`[tool.portable-fn.azure]`): `storage_connection`,
    `queue_transport`, `topic_transport`, `service_bus_connection` (bindings, see `codegen`), `plan_sku`
    and the deploy side's own (see `deploy`)."""

    name = "azure"
    settings_model = AzureSettings
    export_formats = ("terraform",)

    def make_deployer(self) -> AzureDeployer:
        """The Azure management side (imported here, so `invoke` never imports the SDK)."""
        from .deploy import AzureDeployer

        return AzureDeployer(self.config, self.endpoint_url)

    @property
    def config(self) -> AzureSettings:
        """The settings as an `AzureSettings`, every default filled in (`settings` holds the keys given)."""
        return typed_settings(AzureSettings, self.settings, "tool.portable-fn.azure")

    def package(self, app: App, stage: str, out_dir: Path, progress: Progress) -> Artifact:
        from .packaging import build_package

        return build_package(app, stage, out_dir, progress)

    def check(self, app: App) -> None:
        """Reject what Azure cannot bind (schedules NCRONTAB cannot express, unknown transports) or run
        (timeouts over the Consumption plan's 10 minutes)."""
        codegen.check(app)
        self.deployer.check(app)
        for spec in app.functions:
            _check_function(spec, app.options(spec))
        for channel in app.channels:
            _check_channel(app, channel)
        if self.config.plan_sku not in CONSUMPTION_SKUS:
            return
        for spec in app.functions:
            timeout = app.options(spec).timeout_s
            if timeout is not None and timeout > CONSUMPTION_MAX_TIMEOUT_S:
                raise UnsupportedTriggerError(
                    f"Function {spec.name!r} on azure: timeout_s={timeout} is over the Consumption plan's limit "
                    f'of {CONSUMPTION_MAX_TIMEOUT_S} seconds. Lower timeout_s, or set plan_sku = "FC1" (Flex '
                    'Consumption) or "EP1" (Elastic Premium) under [tool.portable-fn.azure]: neither has that limit.'
                )

    def generate_shim(self, app: App, out_dir: Path) -> list[Path]:
        """Write `function_app.py` and `host.json` into `out_dir`."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = [
            (out_dir / "function_app.py", codegen.function_app_source(app, self.config.plan_sku)),
            (out_dir / "host.json", codegen.host_json_source(app)),
        ]
        for path, text in written:
            path.write_text(text, encoding="utf-8")
        return [path for path, _ in written]

    def dead_letters(self, app: App, stage: str, spec: FunctionSpec, redrive: bool = False) -> list[DeadLetterEntry]:
        """The function's dead letters, oldest first: a Storage Queue function's poison queue `<queue>-poison`
        (`redrive`: each put back on its queue); a Service Bus function's own dead-letter queue
        (`names.dead_letter_queue`) and its entity's `$deadletterqueue` (`sb_dlq`; `redrive`: each sent to its
        Service Bus queue or topic, `sb_letters`); for a function Event Grid, a blob trigger or a timer
        delivers to, its own dead-letter queue and the blobs Event Grid wrote into the app's
        `portable-fn-dead-letters` container, and a blob function's messages in the host's
        `webjobs-blobtrigger-poison` (`blob_poison`), together (`redrive`: a topic's published back to it, blob
        events POSTed to the function's webhook on the app's host, a timer run once per letter through the
        host's admin endpoint, see `event_letters`; the poison queue's kept). All but Service Bus's in the
        app's storage account; what is redriven is deleted."""
        from .names import queue_name
        from .redrive import DeadLetters

        if isinstance(spec.trigger, Http):
            raise ProviderError(
                f"Function {spec.name!r} on azure: a http function has no dead letters (its caller gets the "
                "answer); portable-fn reads those of queue, topic, storage and schedule functions."
            )
        deployer = self.deployer
        names = deployer.names(app, stage)
        client = deployer.client
        service = client.queues(client.storage_connection_string(names.resource_group, names.storage_account))
        if codegen.on_service_bus(app, spec):
            return self.bus_dead_letters(app, spec, service, redrive)
        if codegen.has_dead_letter_queue(app, spec):
            return self.event_dead_letters(app, stage, spec, service, redrive)
        trigger = spec.trigger
        assert isinstance(trigger, Queue), "every other function has its own dead-letter queue"
        return DeadLetters(service, spec, queue_name(trigger.name), codegen.max_dequeue_count(app)).read(redrive)

    def event_dead_letters(
        self, app: App, stage: str, spec: FunctionSpec, service: Any, redrive: bool
    ) -> list[DeadLetterEntry]:
        """An Event Grid, blob or timer function's own dead-letter queue and, when Event Grid delivers to it,
        its subscription's dead-letter blobs, oldest first. What sends them back (`event_sender`) is made
        once, for both, before anything is read; it also sends a blob-created function's messages in the
        host's poison queue, each as its blob's BlobCreated event (`blob_poison`)."""
        from .blob_poison import BlobPoison
        from .event_letters import EventDeadLetters, oldest_first

        queue = dead_letter_queue(spec.name)
        send, publish = self.event_sender(app, stage, spec) if redrive else (None, None)
        written = EventDeadLetters(service, spec, queue, send).read(redrive)
        if not self.delivered_by_event_grid(app, spec):
            return written
        letters = oldest_first(written, self.grid_dead_letters(app, stage, spec, redrive, publish))
        if isinstance(spec.trigger, Storage) and spec.trigger.on == "created":  # what the host gave up on
            poison = BlobPoison(service, spec)
            if not redrive:
                return oldest_first(letters, poison.read())
            deployer = cast("AzureDeployer", self.deployer)
            names = deployer.names(app, stage)
            assert publish is not None, "a blob function's sender POSTs Event Grid events to its webhook"
            return oldest_first(letters, poison.redrive(publish, deployer.blob_endpoint(names), names.account_id))
        return letters

    def event_sender(self, app: App, stage: str, spec: FunctionSpec) -> tuple[Any, Any]:
        """What a redrive of an event function sends its letters with: (for its queue's CloudEvents, for its
        dead-letter blobs' events). A topic's are published to its custom topic; a blob function's are
        POSTed to its webhook on the app's host as Event Grid delivers them, a shim letter rebuilt as an
        Event Grid event (`host_redrive.grid_event`); a timer's letter runs it once through the host's
        admin endpoint. ARM is asked for the topic's or the host's keys here, before anything is read."""
        from .event_letters import published
        from .host_redrive import grid_event

        trigger, names = spec.trigger, self.deployer.names(app, stage)
        if isinstance(trigger, Topic):
            publish = self.topic_publisher(names.resource_group, names.topic(trigger.name))
            return published(publish), publish
        host = self.functions_host(names.resource_group, names.function_app)
        if isinstance(trigger, Storage):
            deleted, topic = trigger.on == "deleted", names.account_id
            return (
                lambda event: host.deliver(spec.name, [grid_event(event, topic)], deleted),
                lambda events: host.deliver(spec.name, events, deleted),
            )
        return (lambda event: host.run(spec.name)), None

    def functions_host(self, resource_group: str, site: str) -> Any:
        """The function app's host: its `defaultHostName` and keys (`host/default/listkeys`) as ARM answers
        them now, read through the deploy side's App Service client; `functions_host_endpoint`, when set, is
        where its requests go instead, the host in `Host`. The keys are held for this redrive only."""
        from .deploy.client import arm_json, missing
        from .host_redrive import FunctionsHost

        web = self.deployer.client.web.web_apps
        try:
            host = arm_json(web.get(resource_group, site)).get("properties", {}).get("defaultHostName")
        except Exception as exc:
            if not missing(exc):
                raise
            host = None
        if not host:
            raise ProviderError(
                f"Redriving to the function app {site!r} in resource group {resource_group!r}: it is not deployed "
                "(or has no host name yet), so nothing was sent and every letter is kept. Run `portable-fn "
                "deploy --provider azure` for this stage, then redrive again."
            )
        keys = arm_json(web.list_host_keys(resource_group, site))
        return FunctionsHost(site, str(host), keys, self.config.functions_host_endpoint)

    def bus_dead_letters(self, app: App, spec: FunctionSpec, service: Any, redrive: bool) -> list[DeadLetterEntry]:
        """A Service Bus function's dead-letter queue (what the shim wrote) and its entity's `$deadletterqueue`
        (what Service Bus moved itself, `sb_dlq`), oldest first. Both are reached through the connection its
        binding names as this environment holds it (`sb_letters.connection_for`), found before anything is read
        so that a missing connection reads and deletes nothing; to redrive, its queue or topic's sender."""
        import os

        from .event_letters import oldest_first
        from .names import dead_letter_queue
        from .sb_dlq import BrokerDeadLetters, dead_letter_path, receiver_for
        from .sb_letters import ServiceBusDeadLetters, sender_for

        trigger = spec.trigger
        assert isinstance(trigger, (Queue, Topic)), "bus_dead_letters is called for queue and topic functions only"
        setting, endpoint = codegen.transports(app)["service_bus_connection"], self.config.service_bus_endpoint
        credential = lambda: self.deployer.client.credential  # noqa: E731 (asked for only without a key)
        receiver = receiver_for(os.environ, setting, dead_letter_path(spec), credential, endpoint)
        sender = None
        if redrive:
            sender = sender_for(os.environ, setting, codegen.physical_queue(trigger.name), credential, endpoint)
        written = ServiceBusDeadLetters(service, spec, dead_letter_queue(spec.name), sender).read(redrive)
        return oldest_first(written, BrokerDeadLetters(receiver, spec, sender).read(redrive))

    @staticmethod
    def delivered_by_event_grid(app: App, spec: FunctionSpec) -> bool:
        """A topic function on Event Grid, or a blob-event function: deploy subscribes it through Event Grid,
        which dead-letters into the app's container."""
        if isinstance(spec.trigger, Storage):
            return True
        return isinstance(spec.trigger, Topic) and codegen.transports(app)["topic_transport"] == "event_grid"

    def grid_dead_letters(
        self, app: App, stage: str, spec: FunctionSpec, redrive: bool, publish: Any = None
    ) -> list[DeadLetterEntry]:
        """The dead-letter blobs of the function's event subscription, read with the storage credentials
        the package upload uses; a topic's publisher (`publish`, else asked for: its endpoint and key, from
        ARM) only to redrive."""
        from .deploy.naming import DEAD_LETTER_CONTAINER, subscription_name
        from .grid_letters import GridDeadLetters

        deployer = self.deployer
        names = deployer.names(app, stage)
        client = deployer.client
        blobs = client.blobs(client.storage_connection_string(names.resource_group, names.storage_account))
        container = blobs.get_container_client(DEAD_LETTER_CONTAINER)
        subscription = subscription_name(spec.name)
        if not isinstance(spec.trigger, Topic):  # blob events: `publish` POSTs to the function's webhook
            exact = GridDeadLetters(container, spec.name, subscription, publish, names.system_topic, exact=True)
            return exact.read(redrive)
        topic = names.topic(spec.trigger.name)
        if redrive and publish is None:
            publish = self.topic_publisher(names.resource_group, topic)
        return GridDeadLetters(container, spec.name, subscription, publish, topic).read(redrive)

    def topic_publisher(self, resource_group: str, topic: str) -> Any:
        """What publishes CloudEvents to the custom topic `topic`: its endpoint and first access key, read
        through the deploy side's Event Grid management client (`event_grid_endpoint`, when set, is where
        the requests go instead, the topic's host in `Host`)."""
        from urllib.parse import urlsplit, urlunsplit

        from .deploy.client import arm_json, missing
        from .grid_letters import TopicPublisher

        grid = self.deployer.client.eventgrid
        try:
            endpoint = arm_json(grid.topics.get(resource_group, topic)).get("properties", {}).get("endpoint")
        except Exception as exc:
            if not missing(exc):
                raise
            endpoint = None
        if not endpoint:
            raise ProviderError(
                f"Redriving to the Event Grid topic {topic!r} in resource group {resource_group!r}: it is not "
                "deployed (or has no endpoint yet), so nothing was sent and every dead-letter blob is kept. Run "
                "`portable-fn deploy --provider azure` for this stage, then redrive again."
            )
        key = arm_json(grid.topics.list_shared_access_keys(resource_group, topic))["key1"]
        override = self.config.event_grid_endpoint
        if not override:
            return TopicPublisher(endpoint, key)
        parts, base = urlsplit(endpoint), urlsplit(override)
        return TopicPublisher(urlunsplit((base.scheme, base.netloc, parts.path, parts.query, "")), key, parts.netloc)

    def grants(self, desired: Sequence[Resource]) -> list[Grant]:
        """Each role assignment of the app's identity, its role's actions spelled out (`deploy.grants`)."""
        from .deploy.grants import grants

        return grants(desired)

    def secret_store(self, app: App, stage: str) -> SecretStore:
        """The app and stage's Key Vault (`secret_store.KeyVaultStore`), which deploy makes when a function declares
        a secret and on which it gives the deploying principal its secrets officer role (`deploy.roles`)."""
        from .secret_store import store_for

        return store_for(cast("AzureDeployer", self.deployer), app, stage)

    def cost_sizing(self, app: App, stage: str, resources: Sequence[Resource]) -> dict[str, Sizing]:
        """Each function's sizing in `resources`, for `portable_fn.cost` (see `cost.sizing`)."""
        from .cost import sizing

        return sizing(app, stage, resources)

    def export(self, app: App, stage: str, artifact: Artifact, fmt: str) -> Export:
        """The app's resources for `stage` as a Terraform document for hashicorp/azurerm (`deploy.export`), the
        package zip beside `main.tf`; what Terraform cannot hold is in the notes."""
        from portable_fn.export import TERRAFORM, terraform_export, unsupported_format

        from .deploy.export import terraform_document

        if fmt != TERRAFORM:
            raise unsupported_format(self.name, fmt, self.export_formats)
        deployer = cast("AzureDeployer", self.deployer)
        names, zip_file = deployer.names(app, stage), artifact.path.name
        document, notes = terraform_document(
            app,
            stage,
            self.desired(app, stage, artifact),
            artifact,
            names=names,
            settings=self.config,
            artifact_file=zip_file,
            blob_endpoint=deployer.blob_endpoint(names),
            table_endpoint=deployer.table_endpoint(names),
        )
        return terraform_export(self.name, document, {zip_file: artifact.path}, notes)

    def plan_notes(self, app: App, stage: str) -> list[str]:
        """What `plan` says beside its steps: each function whose retry policy Azure clamps or cannot honour
        (`retries`), and how the app's secrets are kept and granted (`secret_notes`)."""
        from .retries import retry_notes

        storage_queue = codegen.transports(app)["queue_transport"] == "storage_queue"
        notes = retry_notes(app, storage_queue, bool(self.config.service_bus_namespace_id))
        return notes + secret_notes(app, stage, self.deployer.names(app, stage).vault if app.secrets else "")

    def workflow_env(self, app: App, stage: str) -> dict[str, str]:
        """What deploy writes in the function app's settings for the runtime (`desired.app_settings`, one set
        for all its functions: `PORTABLE_FN_PROVIDER`, the state tables' and the queues' locators) and the
        app's runtime settings, with the storage account reached by its connection string, as this machine
        has no managed identity: `PORTABLE_FN_TABLES_CONNECTION` for the tables, and the setting the Storage
        Queue locators name (`storage_connection`) for the queues. The string is the account's key read
        through ARM (`AzureClient.storage_connection_string`), or the `storage_connection_string` override
        (Azurite). Settings that hold what only the deployed site knows (a topic's endpoint or key) are left
        out: a workflow sends to its queue only. On Service Bus the connection is the user's own setting,
        inherited from this environment."""
        from portable_fn.deploy import Artifact

        from .deploy.desired import TABLES_CONNECTION_SETTING
        from .deploy.resources import FLEX_PACKAGE_SETTING, STORAGE_CONNECTION, AppSettings

        deployer = self.deployer
        names = deployer.names(app, stage)
        not_built = Artifact(Path("not-built.zip"), "", 0, 0)  # the settings the runtime reads name no package
        written = next(r for r in deployer.desired(app, stage, not_built) if isinstance(r, AppSettings))
        connection = deployer.client.storage_connection_string(names.resource_group, names.storage_account)
        env = {
            key: connection if value == STORAGE_CONNECTION else value
            for key, value in written.settings
            if key.startswith("PORTABLE_FN_") and key != FLEX_PACKAGE_SETTING
        }
        env = {key: value for key, value in env.items() if not value.startswith("@portable-fn:")}
        chosen = codegen.transports(app)
        if chosen["queue_transport"] == "storage_queue":
            env[chosen["storage_connection"]] = connection
        env[TABLES_CONNECTION_SETTING] = connection
        return {**env, **app.config.runtime_env()}

    def read_logs(self, app: App, stage: str, functions: Sequence[FunctionSpec], since: datetime) -> list[LogEntry]:
        """The functions' `AppTraces` lines from the Log Analytics workspace `logs_workspace_id` names (else
        AZURE_LOG_ANALYTICS_WORKSPACE_ID), queried at `logs_endpoint` (see `logs`)."""
        import os

        from portable_fn.runtime.errors import ConfigError

        from .logs import ENDPOINT, WORKSPACE_VARIABLE, LogAnalytics

        workspace = self.config.logs_workspace_id or os.environ.get(WORKSPACE_VARIABLE)
        if not workspace:
            raise ConfigError(
                "Reading logs on azure needs the Log Analytics workspace of the app's Application Insights: set "
                'logs_workspace_id = "<Workspace ID>" under [tool.portable-fn.azure] in pyproject.toml, or the '
                f"{WORKSPACE_VARIABLE} environment variable."
            )
        endpoint = self.config.logs_endpoint or ENDPOINT
        credential = None if endpoint.startswith("http://") else self.deployer.client.credential
        site = self.deployer.names(app, stage).function_app
        return LogAnalytics(str(workspace), endpoint, credential).read(site, [s.name for s in functions], since)

    def invoke(self, app: App, spec: FunctionSpec, event: Any, stage: str | None = None) -> dict[str, Any]:
        """Run native events through the shim as the host would, applying the deployed trigger's filters.

        The event is an `azure.functions` object, its JSON shape, or a list of them (one invocation each).
        HTTP: method, url or path, headers, body, route_params (read from the path when left out). Queue: id,
        body, dequeue_count (an object with no `body`, such as a CloudEvent in the JSON format or the order a
        sender writes, is taken as the body, as any other JSON value is). Topic and storage: Event
        Grid events in either schema; storage `on="created"` also the blob trigger's name, uri, length,
        properties. Schedule: anything.

        The result: HTTP `status`, `headers`, `body`; events `results` (per event `id`, `outcome` ack, retry
        or dead_letter, `reason`, and the `dead_letter` message the shim wrote to its dead-letter binding) and
        `skipped` (`id`, `reason`: what the deployed trigger would not have delivered)."""
        entry = _entry(app, spec)
        if spec.trigger.kind == "http":
            return _invoke_http(app, spec, entry, event)
        items = event if isinstance(event, list) else [event]
        if not items:
            raise InvalidEventError(
                f"Invoking {spec.name!r} on azure: the event is an empty list; give an event or a list of events."
            )
        results, skipped = [], []
        for item in items:
            native, skip = _delivered(app, spec, item)
            if skip is not None:
                skipped.append(skip)
            else:
                results.append(_run(entry, native, _has_dead_letter_binding(app, spec), spec.name))
        out: dict[str, Any] = {"function": spec.name, "results": results}
        if skipped:
            out["skipped"] = skipped
        return out


def secret_notes(app: App, stage: str, vault: str) -> list[str]:
    """What `plan` says about the app's secrets on Azure: where they are, who may read and set them, and that a
    secret's grant waits for its value (`secrets set` makes it)."""
    if not app.secrets:
        return []
    readers = "; ".join(f"{s.name}: {', '.join(f.name for f in app.readers(s))}" for s in app.secrets)
    return [
        f"Secrets are kept in the Key Vault {vault} (RBAC, soft delete on). Azure runs all of {app.name!r}'s functions "
        "as one function app with one identity: it gets a role reading each declared secret alone (getSecret), and "
        f"each function may read only the secrets it declares, checked at run time ({readers}).",
        "The deploying principal gets a role to set, list and remove secrets on the vault, so `portable-fn secrets "
        "set` works.",
        "A role can be scoped to a secret only once it exists (ARM refuses a scope that does not): deploy skips the "
        f"grant of a secret with no value, and `portable-fn secrets set NAME --provider azure --stage {stage}` "
        "stores the value and makes the grant (on an app not deployed, the next deploy makes it).",
    ]


def _check_function(spec: FunctionSpec, options: FunctionOptions) -> None:
    """What no Azure plan can honour for one function."""
    where = f"Function {spec.name!r} on azure"
    if options.architecture not in (None, "x86_64"):
        raise UnsupportedTriggerError(
            f"{where}: architecture={options.architecture!r} is not available; Azure Functions runs Python on "
            "x86_64 Linux only. Remove the option (or set it per provider)."
        )
    if isinstance(spec.trigger, Queue) and spec.trigger.fifo:
        raise UnsupportedTriggerError(
            f"{where}: queue({spec.trigger.name!r}, fifo=True) cannot be honoured: Storage Queues deliver "
            "without ordering, and the Service Bus transport binds no sessions. Drop fifo=True, or order by a "
            "key in your own store."
        )


def _check_channel(app: App, channel: Channel) -> None:
    """A FIFO queue cannot be sent to on Azure, for the reason a FIFO queue trigger cannot be bound."""
    if channel.fifo:
        senders = ", ".join(repr(s.name) for s in app.senders(channel))
        raise UnsupportedTriggerError(
            f"Function(s) {senders} on azure: sending to queue({channel.name!r}, fifo=True) cannot be honoured: "
            "Storage Queues deliver without ordering, and the Service Bus transport uses no sessions. Drop "
            "fifo=True, or order by a key in your own store."
        )


def _invoke_http(app: App, spec: FunctionSpec, entry: Any, event: Any) -> dict[str, Any]:
    """The host routes by the declared route: a path that is not this function's goes, as on the host, to the
    generated catch-all (`codegen.not_found_name`), whose shim entry answers the 404 of `dev`."""
    from portable_fn.runtime.routes import Route, Router

    from .http_adapter import to_request

    trigger = spec.trigger
    assert isinstance(trigger, Http), "_invoke_http is called for HTTP functions only"
    native = _native_http(spec, event)
    try:
        request = to_request(native)
        found = Router([Route("ANY", trigger.path, spec)]).match(request.method, request.path)
    except Exception:  # a request that cannot be read: the shim answers 400 saying why
        response = entry(native, InvokeContext(spec.name))
    else:
        if found is None:
            not_found = shim.not_found_entry(_HttpResponse, codegen.http_routes(app))
            response = not_found(native, InvokeContext(codegen.not_found_name(app)))
        else:
            if isinstance(native, _Native) and not native.__dict__["route_params"]:  # the host reads them
                native.__dict__["route_params"] = found[1]  # off the path
            response = entry(native, InvokeContext(spec.name))
    body = response.get_body()
    return {
        "function": spec.name,
        "status": response.status_code,
        "headers": _headers_of(response),
        "body": body.decode("utf-8", "replace") if isinstance(body, bytes) else body,
    }


def _headers_of(response: Any) -> dict[str, str]:
    headers = {str(k).lower(): str(v) for k, v in dict(getattr(response, "headers", None) or {}).items()}
    mimetype = getattr(response, "mimetype", None)
    if mimetype and "content-type" not in headers:
        charset = getattr(response, "charset", None)
        headers["content-type"] = f"{mimetype}; charset={charset}" if charset else mimetype
    return headers


class _EventIds(Middleware):
    """The id of each event the pipeline delivers: the id `invoke` reports is the one the handler got (a timer
    or a blob trigger's native object carries none of its own)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def before(self, call: Call) -> None:
        if call.event_id is not None:
            self.ids.append(call.event_id)


def _run(entry: Any, native: Any, dead_letter_binding: bool, name: str) -> dict[str, Any]:
    """One invocation: what the host would see (a return, DeliveryFailed, any other raise: a retry)."""
    poison, seen = Poison(), use(_EventIds())
    result: dict[str, Any] = {"id": None}
    try:
        entry(*((native, poison) if dead_letter_binding else (native,)), InvokeContext(name))
    except shim.DeliveryFailed as exc:
        result.update(outcome=exc.outcome, reason=exc.reason, error=str(exc))
    except Exception as exc:  # the host retries whatever the function raised
        result.update(outcome="retry", reason=f"{type(exc).__name__}: {exc}")
    else:
        result["outcome"] = "ack"
    finally:
        remove(seen)
    result["id"] = seen.ids[0] if seen.ids else _id_of(native)
    if poison.value is not None:
        letter = json.loads(poison.value)
        result.update(outcome="dead_letter", reason=letter.get("deadletterreason"), dead_letter=letter)
    return result


def _id_of(native: Any) -> str | None:
    value = native.get("id") if isinstance(native, Mapping) else getattr(native, "id", None)
    return value if isinstance(value, str) else None if value is None else str(value)


def _delivered(app: App, spec: FunctionSpec, item: Any) -> tuple[Any, dict[str, Any] | None]:
    """(the native object the host would hand the function, None), or (None, why it would not run)."""
    trigger = spec.trigger
    if isinstance(trigger, Storage):
        if not isinstance(item, Mapping) or not _is_grid_event(item):
            native = _native(spec, item)
            return native, _storage_skip(app, spec, _decoded(events.blob_to_cloudevent, native))
        decoded = _decoded(events.blob_event_to_cloudevent, dict(item))  # what the handler would get
        skip = _storage_skip(app, spec, decoded)
        if skip is not None or trigger.on == "deleted":
            return dict(item), skip
        return _blob_of(decoded) if decoded is not None else dict(item), None
    if trigger.kind == "topic" and codegen.transports(app)["topic_transport"] == "event_grid":
        if not isinstance(item, Mapping) or not _is_grid_event(item):
            given = f"an object without either (keys: {', '.join(item)})" if isinstance(item, Mapping) else None
            raise InvalidEventError(
                f"Invoking {spec.name!r} on azure: a topic trigger takes an Event Grid event (a JSON object in "
                "the Event Grid schema, with eventType, or the CloudEvents schema, with specversion) or a list of "
                f"them, not {given or type(item).__name__}."
            )
        return dict(item), None
    return _native(spec, item), None


def _is_grid_event(item: Mapping[str, Any]) -> bool:
    return "eventType" in item or "specversion" in item


def _decoded(convert: Any, native: Any) -> Any:
    try:
        return convert(native)
    except Exception:  # unreadable: the shim says why
        return None


def _storage_skip(app: App, spec: FunctionSpec, decoded: Any) -> dict[str, Any] | None:
    """Why the deployed storage trigger would not deliver `decoded` (its Event Grid subscription takes one
    event type, in the trigger's container, under its prefix and suffix), or None."""
    if decoded is None:
        return None
    from portable_fn.runtime.errors import PortableFnError
    from portable_fn.runtime.views import StorageObject

    trigger = spec.trigger
    assert isinstance(trigger, Storage), "_storage_skip is called for storage functions only"
    wanted = BLOB_EVENTS[trigger.on]
    if decoded.type != wanted:
        return {
            "id": decoded.id,
            "reason": f"event type {decoded.type!r}: storage({trigger.bucket!r}, "
            f"on={trigger.on!r}) runs only for {wanted}",
        }
    try:
        changed = StorageObject.from_cloudevent(decoded)
    except PortableFnError:
        return None
    container = codegen.physical_container(trigger.bucket)
    if changed.bucket != container:
        return {"id": decoded.id, "reason": f"container {changed.bucket!r} is not the trigger's {container!r}"}
    reason = trigger.skip_reason(decoded)
    return None if reason is None else {"id": decoded.id, "reason": reason}


def _blob_of(decoded: Any) -> Any:
    """The InputStream the blob trigger hands the function for an Event Grid BlobCreated event."""
    from urllib.parse import unquote, urlsplit

    data = decoded.data if isinstance(decoded.data, Mapping) else {}
    url = str(data.get("url") or "")
    properties = {
        "ContentType": data.get("contentType"),
        "ETag": data.get("eTag"),
        "BlobType": data.get("blobType"),
        "LastModified": decoded.time,
    }
    return _Native(
        {
            "name": unquote(urlsplit(url).path.lstrip("/")),
            "uri": url,
            "length": data.get("contentLength"),
            "blob_properties": {k: v for k, v in properties.items() if v is not None},
        }
    )


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
        """A text body as UTF-8, no body as empty; any other JSON value (an object, a number) as its JSON."""
        body = self._body
        if body is None or isinstance(body, bytes):
            return body or b""
        return body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")

    def get_json(self) -> Any:
        return self._body


def _entry(app: App, spec: FunctionSpec) -> Any:
    chosen, options = codegen.transports(app), app.options(spec)
    trigger, timeout = spec.trigger, options.timeout_s
    if isinstance(trigger, Http):
        return shim.http_entry(spec, _HttpResponse, timeout, codegen.http_routes(app))
    if isinstance(trigger, Queue) and chosen["queue_transport"] == "storage_queue":
        return shim.queue_entry(
            spec, codegen.physical_queue(trigger.name), chosen["storage_connection"], options.max_attempts, timeout
        )
    if isinstance(trigger, (Queue, Topic)) and codegen.on_service_bus(app, spec):
        entity, dead = codegen.physical_queue(trigger.name), dead_letter_queue(spec.name)
        return shim.service_bus_entry(
            spec, entity, chosen["service_bus_connection"], options.max_attempts, dead, timeout
        )
    dead = dead_letter_queue(spec.name)
    if isinstance(trigger, Schedule):
        return shim.timer_entry(spec, trigger.expression, dead, timeout)
    if isinstance(trigger, Storage) and trigger.on == "created":
        return shim.blob_entry(spec, dead, timeout)
    blobs = None
    if isinstance(trigger, Storage):
        blobs = (codegen.physical_container(trigger.bucket), trigger.prefix, trigger.suffix)
    return shim.event_grid_entry(spec, dead, timeout, blobs=blobs)


def _has_dead_letter_binding(app: App, spec: FunctionSpec) -> bool:
    """Every function but an http one: a queue function on Storage Queues writes its dead letters to
    `<queue>-poison`, every other to its own `pfdl-` queue, through an output binding."""
    return spec.trigger.kind != "http"


def _native_http(spec: FunctionSpec, event: Any) -> Any:
    if not isinstance(event, Mapping):
        if hasattr(event, "get_body") and hasattr(event, "url"):
            return event  # an azure.functions.HttpRequest already
        raise InvalidEventError(
            f"Invoking {spec.name!r} on azure: an http trigger takes a request as a JSON object "
            f"(method, url or path, headers, body), not {type(event).__name__}."
        )
    if "url" not in event and "path" not in event:  # another cloud's event, a queue message: never GET /
        keys = ", ".join(sorted(map(str, event))[:8]) or "none"
        raise InvalidEventError(
            f"Invoking {spec.name!r} on azure: an http trigger takes a request as a JSON object (method, url or "
            f"path, headers, body); this one has neither url nor path (its keys: {keys})."
        )
    fields = {name: event.get(name) or {} for name in ("headers", "params", "route_params")}
    for name, value in fields.items():
        if not isinstance(value, Mapping):
            raise InvalidEventError(
                f"Invoking {spec.name!r} on azure: the request's {name!r} must be an object "
                f"of names to values, not {type(value).__name__}."
            )
    body = event.get("body") or b""
    if event.get("isBase64Encoded"):
        import binascii

        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise InvalidEventError(
                f"Invoking {spec.name!r} on azure: isBase64Encoded is set but the body is not valid base64."
            ) from None
    url = event.get("url") or f"http://localhost{event.get('path', '/')}"
    return _Native(
        {
            "method": event.get("method", "GET"),
            "url": url,
            **{name: {str(k): str(v) for k, v in value.items()} for name, value in fields.items()},
        },
        body,
    )


def _native(spec: FunctionSpec, event: Any) -> Any:
    kind = spec.trigger.kind
    if not isinstance(event, Mapping):
        if event.__class__.__module__.startswith("azure.functions"):
            return event  # an azure.functions object already
        if kind == "schedule":
            return _Native({"past_due": False})
        if kind not in ("queue", "topic"):
            raise InvalidEventError(
                f"Invoking {spec.name!r} on azure: a {kind} trigger takes a JSON object, not {type(event).__name__}."
            )
        event = {"body": event}  # any other JSON value: the message body
    if kind == "queue" or kind == "topic":  # a topic on Service Bus (on Event Grid: see _delivered)
        if "body" not in event:  # a CloudEvent or any other JSON object: the body that carries it
            event = {"body": dict(event)}
        return _Native(
            {
                "id": event.get("id") or str(uuid.uuid4()),
                "dequeue_count": event.get("dequeue_count", 1),
                "insertion_time": datetime.now(timezone.utc),
                "message_id": event.get("id"),
                "delivery_count": event.get("delivery_count", 1),
                "content_type": event.get("content_type"),
                "application_properties": event.get("application_properties") or {},
                "enqueued_time_utc": datetime.now(timezone.utc),
                "subject": None,
                "label": None,
                "partition_key": None,
            },
            event.get("body"),
        )
    if kind == "storage":
        if not isinstance(event.get("name"), str):
            raise InvalidEventError(
                f"Invoking {spec.name!r} on azure: a storage trigger takes an Event Grid blob "
                "event, or the blob as name (container/path), uri, length, properties."
            )
        return _Native(
            {
                "name": event["name"],
                "uri": event.get("uri", ""),
                "length": event.get("length"),
                "blob_properties": event.get("properties") or {},
            }
        )
    if kind == "schedule":
        return _Native({"past_due": bool(event.get("past_due", False))})
    raise InvalidEventError(f"Function {spec.name!r} on azure: cannot invoke a {kind} trigger with {event!r}.")

"""`function_app.py` and `host.json` for an app: the Python v2 programming model, one decorated function per
portable function. Provider side: runs when packaging (`function_app_source`, `host_json_source`), never in
the cloud (it does not ship).

| trigger                  | decorators (the bindings the host reads)                                                  |
|--------------------------|-------------------------------------------------------------------------------------------|
| `http`                   | `route(route=<path without "/">, methods, auth_level)`: ANONYMOUS when `public` or `auth=` |
|                          | (verified in the function), else FUNCTION (a function key). host.json `routePrefix` is "": |
|                          | the user's path is the URL path                                                           |
|                          | (`methods`: see below)                                                                    |
| `queue`                  | `queue_trigger` + `queue_output` to `<queue>-poison` (connection `storage_connection`), or |
|                          | `service_bus_queue_trigger` (`queue_transport = "service_bus"`, `service_bus_connection`)  |
|                          | + `queue_output` to the function's `pfdl-...` queue (`names.dead_letter_queue`)           |
| `topic`                  | `event_grid_trigger`, or `service_bus_topic_trigger` with subscription = function name     |
|                          | (`topic_transport = "service_bus"`); either + `queue_output` to the function's `pfdl-...`  |
|                          | queue                                                                                      |
| `schedule`               | `timer_trigger` with the 6-field NCRONTAB (`ncrontab`), and `retry` when the function has  |
|                          | retries: its policy's fixed delay or exponential backoff (`retries.timer_retry`), else 10 s |
|                          | + `queue_output` to the function's `pfdl-...` queue                                        |
| `storage` (created)      | `blob_trigger(path="<container>/<prefix>{name}<suffix>", source=EVENT_GRID)`               |
|                          | + `queue_output` to the function's `pfdl-...` queue                                        |
| `storage` (deleted)      | `event_grid_trigger` (the blob trigger only sees new and changed blobs); the shim keeps     |
|                          | the container's BlobDeleted events under the prefix and suffix; + `queue_output` to the     |
|                          | function's `pfdl-...` queue                                                                |

Every function but an http one and a Storage Queue one (which has `<queue>-poison`) has a dead-letter
queue of its own in the app's storage (`has_dead_letter_queue`, `names.dead_letter_queue`): the shim
writes a `DeadLetter` there and returns, so no transport retries it.

An http function answers 405 (with `Allow`) for a method it did not declare, as `portable-fn dev` does, so
the host must deliver those methods to it: a route only one function declares takes every method (the
shim refuses the others); where several functions share a route, each takes its own method and the
first of them also every method none of them declared (`route_methods`). A path no function declares goes
to a generated catch-all (`{*path}`, `not_found_name`), which answers dev's JSON 404 (`shim.not_found_entry`)
where the host itself would answer an empty one.

Settings (`[tool.portable-fn.azure]`): `storage_connection` (the app setting holding the Storage
connection, default `AzureWebJobsStorage`), `queue_transport` (`storage_queue` or `service_bus`),
`topic_transport` (`event_grid` or `service_bus`), `service_bus_connection` (default
`ServiceBusConnection`). Queue and container names are the ones deploy creates (`names`, shared with `deploy.naming`).
"""

from __future__ import annotations

import json
import keyword
import re
from typing import TYPE_CHECKING, Any, TypeVar

from portable_fn.runtime.errors import UnsupportedTriggerError
from portable_fn.runtime.function import top_level_name
from portable_fn.runtime.triggers import Http, Queue, Schedule, Storage, Topic, Trigger

from .names import POISON_SUFFIX, container_name, dead_letter_queue, queue_name
from .retries import RETRY_DELAY as RETRY_DELAY  # re-exported: a schedule's retry delay when none is declared
from .retries import hhmmss, queue_visibility_s, timer_retry

if TYPE_CHECKING:  # provider side: never ships
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionSpec

T = TypeVar("T", bound=Trigger)

PACKAGE = "portable_fn_azure"
EXTENSION_BUNDLE = {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
STORAGE_CONNECTION = "AzureWebJobsStorage"
SERVICE_BUS_CONNECTION = "ServiceBusConnection"
TRANSPORTS = {"queue_transport": ("storage_queue", "service_bus"), "topic_transport": ("event_grid", "service_bus")}
MAX_QUEUE_BATCH = 32  # host.json queues.batchSize: messages fetched (and run) together per instance
# How long the host lets a function run when host.json sets no functionTimeout, by plan_sku (Microsoft Learn,
# "Function app timeout duration": Consumption 5 minutes; Flex Consumption and Premium 30 minutes).
DEFAULT_TIMEOUT_S = {"Y1": 300, "FC1": 1800, "EP1": 1800, "EP2": 1800, "EP3": 1800}
RESERVED = {"app", "func", "shim", "_routes", "_not_found", "not_found"}
NOT_FOUND = "zz_not_found"  # the catch-all's name, unless a function's sorts after it (`not_found_name`)
MAX_FUNCTION_NAME = 128  # the host's function names: a letter, then up to 127 letters, digits, `_` or `-`
# The methods an http trigger can list (azure.functions.HttpMethod), in the order they are written.
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Rates NCRONTAB can express exactly: its steps restart every hour (minutes) and every day (hours).
MINUTE_STEPS = tuple(m for m in range(1, 60) if 60 % m == 0)
HOUR_STEPS = tuple(h for h in range(1, 24) if 24 % h == 0)
_PLAIN_FIELD = re.compile(r"(\*(/\d+)?|\d+(-\d+(/\d+)?)?)(,(\d+(-\d+(/\d+)?)?))*\Z")


# -- settings ----------------------------------------------------------------------------------------


def settings_of(app: App) -> dict[str, Any]:
    """The app's `[tool.portable-fn.azure]` table (the base one: bindings do not change between stages)."""
    return dict(getattr(getattr(app, "config", None), "azure", None) or {})


def transports(app: App) -> dict[str, str]:
    """`queue_transport`, `topic_transport` and the two connection setting names, checked."""
    settings = settings_of(app)
    chosen = {
        "storage_connection": str(settings.get("storage_connection") or STORAGE_CONNECTION),
        "service_bus_connection": str(settings.get("service_bus_connection") or SERVICE_BUS_CONNECTION),
    }
    for key, allowed in TRANSPORTS.items():
        value = settings.get(key, allowed[0])
        if value not in allowed:
            raise UnsupportedTriggerError(
                f"App {getattr(app, 'name', '?')!r} on azure: {key} = {value!r} under [tool.portable-fn.azure] "
                f"is not supported; use one of {list(allowed)}."
            )
        chosen[key] = value
    return chosen


# -- schedules ---------------------------------------------------------------------------------------


def ncrontab(spec: FunctionSpec) -> str:
    """The 6-field NCRONTAB (second minute hour day month day-of-week) of a schedule trigger, or an
    UnsupportedTriggerError saying why Azure's timer cannot fire on that schedule."""
    trigger = _trigger(spec, Schedule)
    if trigger.every_s is not None:
        return _rate(spec, trigger.every_s)
    return _cron(spec, trigger.cron_expression())


def _trigger(spec: FunctionSpec, kind: type[T]) -> T:
    """`spec`'s trigger, which the code generating its binding knows to be a `kind`."""
    trigger = spec.trigger
    if not isinstance(trigger, kind):
        raise TypeError(f"function {spec.name!r}: expected a {kind.__name__} trigger, not {trigger.kind!r}")
    return trigger


def _rate(spec: FunctionSpec, every_s: int) -> str:
    minutes, hours, days = every_s // 60, every_s // 3600, every_s // 86400
    if every_s == 86400:
        return "0 0 0 * * *"
    if every_s % 3600 == 0 and hours in HOUR_STEPS:
        return "0 0 * * * *" if hours == 1 else f"0 0 */{hours} * * *"
    if every_s % 60 == 0 and minutes in MINUTE_STEPS:
        return "0 * * * * *" if minutes == 1 else f"0 */{minutes} * * * *"
    raise UnsupportedTriggerError(
        f"Function {spec.name!r} on azure: schedule {_trigger(spec, Schedule).expression!r} cannot be expressed as an "
        f"NCRONTAB timer ({days or hours or minutes} {'days' if days else 'hours' if hours else 'minutes'}): "
        "NCRONTAB steps restart every hour and every day, so a timer fires at a fixed rate only every "
        f"{', '.join(map(str, MINUTE_STEPS))} minutes, {', '.join(map(str, HOUR_STEPS))} hours or 1 day. "
        "Pick one of those rates, or a cron(...) with fixed times."
    )


def _cron(spec: FunctionSpec, cron: Any) -> str:
    minute, hour, dom, month, dow = cron.expression.split()
    if not dom.startswith("*") and not dow.startswith("*"):
        raise UnsupportedTriggerError(
            f"Function {spec.name!r} on azure: cron({cron.expression!r}) restricts both the day of the month "
            "and the day of the week; cron fires when either matches, Azure's NCRONTAB only when both do. "
            "Declare two functions (one per field), or leave one of the fields '*'."
        )
    fields = [
        _field(text, values)
        for text, values in ((minute, cron.minutes), (hour, cron.hours), (dom, cron.days), (month, cron.months))
    ]
    week = dow if _PLAIN_FIELD.match(dow) and "7" not in re.findall(r"\d+", dow) else _list(cron.weekdays)
    return " ".join(["0", *fields, week])


def _field(text: str, values: frozenset[int]) -> str:
    """The field as written when NCRONTAB reads it alike, else the list of its values (names, `5/15`)."""
    return text if _PLAIN_FIELD.match(text) else _list(values)


def _list(values: frozenset[int]) -> str:
    return ",".join(map(str, sorted(values)))


# -- host.json ---------------------------------------------------------------------------------------


def host_json_source(app: App) -> str:
    """host.json: extension bundle [4.*, 5.0.0), no `/api` route prefix, queue retries (attempts, and the
    delay between them when a queue function declared a retry policy: `retries`), the timeout."""
    extensions: dict[str, Any] = {"http": {"routePrefix": ""}}
    queues = [spec for spec in app.functions if isinstance(spec.trigger, Queue)]
    if queues and transports(app)["queue_transport"] == "storage_queue":
        extensions["queues"] = {
            "maxDequeueCount": max_dequeue_count(app),
            "batchSize": min(MAX_QUEUE_BATCH, max(_trigger(spec, Queue).batch_size for spec in queues)),
        }
        visibility = queue_visibility_s(app, storage_queue=True)
        if visibility is not None:
            extensions["queues"]["visibilityTimeout"] = hhmmss(visibility)
    host: dict[str, Any] = {"version": "2.0", "extensionBundle": EXTENSION_BUNDLE, "extensions": extensions}
    seconds = _declared_timeout_s(app)
    if seconds is not None:
        host["functionTimeout"] = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return json.dumps(host, indent=2) + "\n"


def host_timeout_s(app: App, plan_sku: str) -> int:
    """How long the host lets any function of the app run (host.json's `functionTimeout` is one for the app):
    the longest `timeout_s` declared, else the plan's default. Each function's `Context.deadline`, so the lease
    of an idempotent call ends when the host stops it, not 15 minutes later (or, on Flex, before)."""
    declared = _declared_timeout_s(app)
    return declared if declared is not None else DEFAULT_TIMEOUT_S.get(plan_sku, DEFAULT_TIMEOUT_S["Y1"])


def _declared_timeout_s(app: App) -> int | None:
    """The longest `timeout_s` of the app's functions in whole seconds (rounded up), or None."""
    timeouts = [t for t in (_timeout(app, spec) for spec in app.functions) if t]
    return int(-(-max(timeouts) // 1)) if timeouts else None


def max_dequeue_count(app: App) -> int:
    """host.json's `maxDequeueCount`: the most attempts any queue function declared (one for the app)."""
    return max((max_attempts(app, s) for s in app.functions if isinstance(s.trigger, Queue)), default=5)


def _options(app: App, spec: FunctionSpec) -> Any:
    options = getattr(app, "options", None)
    return options(spec) if callable(options) else spec.options


def max_attempts(app: App, spec: FunctionSpec) -> int:
    """The attempts the shim gives a message of `spec` before it dead-letters it (its retry policy's)."""
    return int(_options(app, spec).max_attempts)


def _timeout(app: App, spec: FunctionSpec) -> float | None:
    timeout = _options(app, spec).timeout_s
    return float(timeout) if timeout else None


# -- function_app.py ---------------------------------------------------------------------------------


def function_app_source(app: App, plan_sku: str = "Y1") -> str:
    """function_app.py: imports the app's modules, one decorated function per portable function, each told
    how long the host of `plan_sku` lets it run (`host_timeout_s`)."""
    chosen = transports(app)
    timeout = host_timeout_s(app, plan_sku)
    modules = sorted({spec.module for spec in app.functions})
    alias = {module: f"_m{i}" for i, module in enumerate(modules)}
    lines = [
        f'"""Generated by portable-fn for the app {app.name!r} (Azure Functions, Python v2 programming model).',
        "",
        "Do not edit: `portable-fn package --provider azure` writes it again. Each function hands its trigger's",
        "native object to `portable_fn_azure.shim`, which calls the portable handler. Routes carry no `/api`",
        'prefix (host.json routePrefix is "").',
        '"""',
        "",
        "import azure.functions as func",
        "",
        f"from {PACKAGE} import shim",
        "",
        *[f"import {module} as {alias[module]}" for module in modules],
        "",
        "app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)",
    ]
    if http_routes(app):  # (method, path) of every http function: a 405's Allow header
        lines += ["_routes = " + repr(http_routes(app))]
    used: set[str] = set(RESERVED) | set(alias.values())
    for index, spec in enumerate(app.functions):
        python_name = _python_name(spec.name, index, used)
        handler = top_level_name(spec, "Generating function_app.py on azure", "function_app.py")
        spec_ref = f"{alias[spec.module]}.{handler}.__portable_fn__"
        lines += ["", ""] + _function(app, spec, spec_ref, f"_entry{index}", python_name, chosen, timeout)
    if http_routes(app):
        lines += ["", ""] + _not_found(app)
    return "\n".join(lines) + "\n"


def _function(
    app: App, spec: FunctionSpec, spec_ref: str, entry: str, name: str, chosen: dict[str, str], timeout: float
) -> list[str]:
    kind = spec.trigger.kind
    made = {"http": _http, "queue": _queue, "topic": _topic, "schedule": _schedule, "storage": _storage}[kind]
    setup, decorators, params, call = made(app, spec, spec_ref, timeout, chosen)
    returns = "func.HttpResponse" if kind == "http" else "None"
    body = f"    return {entry}({call}, context)" if kind == "http" else f"    {entry}({call}, context)"
    return [
        f"{entry} = {setup}",
        "",
        "",
        f"@app.function_name(name={spec.name!r})",
        *decorators,
        f"def {name}({params}, context: func.Context) -> {returns}:",
        body,
    ]


def _http(app: App, spec: FunctionSpec, ref: str, timeout: float | None, chosen: dict[str, str]) -> tuple[Any, ...]:
    from .http_adapter import azure_route

    trigger = _trigger(spec, Http)
    methods = route_methods(app, spec)
    listed = "" if methods is None else f", methods={list(methods)!r}"
    level = "ANONYMOUS" if trigger.open_at_edge else "FUNCTION"  # auth= routes are verified in the function
    return (
        f"shim.http_entry({ref}, func.HttpResponse, {timeout!r}, _routes)",
        [f"@app.route(route={azure_route(trigger.path)!r}{listed}, auth_level=func.AuthLevel.{level})"],
        "req: func.HttpRequest",
        "req",
    )


def _not_found(app: App) -> list[str]:
    """The catch-all http function: every method of every path no function's route takes, answered as `dev`
    answers it (`shim.not_found_entry`). Open to anyone only when some http function is (a 404 or 405 holds
    no data), else behind a function key like the rest of the app's routes."""
    level = "ANONYMOUS" if any(_trigger(s, Http).open_at_edge for s in _http_functions(app)) else "FUNCTION"
    return [
        "_not_found = shim.not_found_entry(func.HttpResponse, _routes)",
        "",
        "",
        f"@app.function_name(name={not_found_name(app)!r})",
        f"@app.route(route='{{*path}}', auth_level=func.AuthLevel.{level})",
        "def not_found(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:",
        "    return _not_found(req, context)",
    ]


def not_found_name(app: App) -> str:
    """The catch-all's function name: one that sorts after every http function's. The host tries the app's
    routes in the order of its functions, sorted by name (ordinal, case ignored), and the first route that
    matches wins; it applies no ASP.NET Core route precedence (literal over parameter over catch-all), so
    `{*path}` must come last. Read in Azure/azure-functions-host (2026-12-07):
    `FunctionMetadataManager.LoadFunctionMetadata` returns the functions
    `OrderBy(f => f.Name, StringComparer.OrdinalIgnoreCase)`; `WebScriptHostHttpRoutesManager` maps one
    route per function in that order with `WebJobsRouteBuilder.MapFunctionRoute`, whose `Build` is a plain
    `RouteCollection` (Azure/azure-webjobs-sdk-extensions, `Routing/WebJobsRouteBuilder.cs`): first match
    wins. The host's own routes (`/admin`, `/runtime/webhooks`) are MVC routes matched before any
    function's (`WebJobsApplicationBuilderExtension`: `UseMvc` before `UseHttpBindingRouting`)."""
    names = [spec.name for spec in _http_functions(app)]
    last = max(names, key=str.upper, default="")
    if NOT_FOUND.upper() > last.upper():
        return NOT_FOUND
    name = f"{last}_not_found"  # after `last`, of which it is a longer copy, and so after every other
    if len(name) > MAX_FUNCTION_NAME:
        raise UnsupportedTriggerError(
            f"Function {last!r} on azure: its name sorts after {NOT_FOUND!r}, the function that answers a path "
            f"no route takes, and is too long for a name after it ({MAX_FUNCTION_NAME} characters at most). Give "
            f"it a name that sorts before {NOT_FOUND!r}, or a shorter one."
        )
    return name


def _http_functions(app: App) -> list[FunctionSpec]:
    return [spec for spec in app.functions if isinstance(spec.trigger, Http)]


def http_routes(app: App) -> tuple[tuple[str, str], ...]:
    """(method, path) of every http function of the app: what the shim's 405 lists in `Allow`."""
    return tuple((t.method, t.path) for t in (spec.trigger for spec in app.functions) if isinstance(t, Http))


def route_methods(app: App, spec: FunctionSpec) -> tuple[str, ...] | None:
    """The methods the host delivers to an http function (None: every one). Its route alone: every method,
    so the shim answers 405 for the undeclared ones. A route several functions share: each its own (the GET
    one also HEAD, which it serves as `dev` does), and the first also every method none of them declared
    (so that one answers the 405)."""
    mine = _trigger(spec, Http)
    shape = _route_shape(mine.path)
    sharing = [
        (other, other.trigger)
        for other in app.functions
        if isinstance(other.trigger, Http) and _route_shape(other.trigger.path) == shape
    ]
    if mine.method == "ANY" or len(sharing) == 1:
        return None
    methods = {trigger.method for _, trigger in sharing}
    head_to_get = "GET" in methods and not {"HEAD", "ANY"} & methods  # a HEAD is served by GET, as in dev
    own = (mine.method, "HEAD") if head_to_get and mine.method == "GET" else (mine.method,)
    if "ANY" in methods or sharing[0][0] is not spec:
        return own
    taken = methods | {"HEAD"} if head_to_get else methods
    return (*own, *(m for m in HTTP_METHODS if m not in taken))


def _route_shape(path: str) -> str:
    """A route with its parameter names blanked: routes of one shape are one route to the host."""
    from .http_adapter import azure_route

    return re.sub(r"\{(\*?)[^}]*\}", r"{\1}", azure_route(path))


def _queue(app: App, spec: FunctionSpec, ref: str, timeout: float | None, chosen: dict[str, str]) -> tuple[Any, ...]:
    name = physical_queue(_trigger(spec, Queue).name)
    if chosen["queue_transport"] == "service_bus":
        connection = chosen["service_bus_connection"]
        trigger = f"@app.service_bus_queue_trigger(arg_name='msg', queue_name={name!r}, connection={connection!r})"
        return _service_bus(app, spec, ref, timeout, chosen, name, trigger)
    connection = chosen["storage_connection"]
    poison = name + poison_suffix()
    return (
        f"shim.queue_entry({ref}, {name!r}, {connection!r}, {max_attempts(app, spec)}, {timeout!r})",
        [
            f"@app.queue_trigger(arg_name='msg', queue_name={name!r}, connection={connection!r})",
            f"@app.queue_output(arg_name='poison', queue_name={poison!r}, connection={connection!r})",
        ],
        "msg: func.QueueMessage, poison: func.Out[str]",
        "msg, poison",
    )


def _topic(app: App, spec: FunctionSpec, ref: str, timeout: float | None, chosen: dict[str, str]) -> tuple[Any, ...]:
    if chosen["topic_transport"] == "service_bus":
        connection, topic = chosen["service_bus_connection"], physical_queue(_trigger(spec, Topic).name)
        trigger = (
            f"@app.service_bus_topic_trigger(arg_name='msg', topic_name={topic!r}, "
            f"subscription_name={spec.name!r}, connection={connection!r})"
        )
        return _service_bus(app, spec, ref, timeout, chosen, topic, trigger)
    return (
        f"shim.event_grid_entry({ref}, {dead_letter_queue(spec.name)!r}, {timeout!r})",
        ["@app.event_grid_trigger(arg_name='event')", _dead_letter_output(spec, chosen)],
        "event: func.EventGridEvent, dead: func.Out[str]",
        "event, dead",
    )


def _service_bus(
    app: App, spec: FunctionSpec, ref: str, timeout: float | None, chosen: dict[str, str], entity: str, trigger: str
) -> tuple[Any, ...]:
    """A Service Bus queue or subscription trigger, and the output binding to the function's dead-letter
    Storage Queue in the app's storage (`dead_letter_queue`), where the shim writes what it dead-letters."""
    connection, attempts = chosen["service_bus_connection"], max_attempts(app, spec)
    dead = dead_letter_queue(spec.name)
    return (
        f"shim.service_bus_entry({ref}, {entity!r}, {connection!r}, {attempts}, {dead!r}, {timeout!r})",
        [trigger, _dead_letter_output(spec, chosen)],
        "msg: func.ServiceBusMessage, dead: func.Out[str]",
        "msg, dead",
    )


def _dead_letter_output(spec: FunctionSpec, chosen: dict[str, str]) -> str:
    """The output binding to the function's dead-letter Storage Queue (`dead_letter_queue`) in the app's
    storage, named `dead`: where the shim writes what the function dead-letters."""
    dead, storage = dead_letter_queue(spec.name), chosen["storage_connection"]
    return f"@app.queue_output(arg_name='dead', queue_name={dead!r}, connection={storage!r})"


def has_dead_letter_queue(app: App, spec: FunctionSpec) -> bool:
    """Whether the function has a dead-letter Storage Queue of its own (`dead_letter_queue`): every function
    but an http one and a queue one on Storage Queues (whose dead letters go to `<queue>-poison`)."""
    kind = spec.trigger.kind
    storage_queue = kind == "queue" and transports(app)["queue_transport"] == "storage_queue"
    return kind != "http" and not storage_queue


def on_service_bus(app: App, spec: FunctionSpec) -> bool:
    """Whether the function is triggered through Service Bus (a queue or a topic subscription), and so has a
    dead-letter Storage Queue of its own (`dead_letter_queue`)."""
    kind = spec.trigger.kind
    return kind in ("queue", "topic") and transports(app)[f"{kind}_transport"] == "service_bus"


def _schedule(app: App, spec: FunctionSpec, ref: str, timeout: float | None, chosen: dict[str, str]) -> tuple[Any, ...]:
    decorators = [f"@app.timer_trigger(schedule={ncrontab(spec)!r}, arg_name='timer', run_on_startup=False)"]
    retry = timer_retry(app, spec)
    if retry:
        decorators.append(retry)
    decorators.append(_dead_letter_output(spec, chosen))
    expression, dead = _trigger(spec, Schedule).expression, dead_letter_queue(spec.name)
    return (
        f"shim.timer_entry({ref}, {expression!r}, {dead!r}, {timeout!r})",
        decorators,
        "timer: func.TimerRequest, dead: func.Out[str]",
        "timer, dead",
    )


def _storage(app: App, spec: FunctionSpec, ref: str, timeout: float | None, chosen: dict[str, str]) -> tuple[Any, ...]:
    trigger = _trigger(spec, Storage)
    container, dead = physical_container(trigger.bucket), dead_letter_queue(spec.name)
    if trigger.on == "deleted":
        blobs = (container, trigger.prefix, trigger.suffix)
        return (
            f"shim.event_grid_entry({ref}, {dead!r}, {timeout!r}, blobs={blobs!r})",
            ["@app.event_grid_trigger(arg_name='event')", _dead_letter_output(spec, chosen)],
            "event: func.EventGridEvent, dead: func.Out[str]",
            "event, dead",
        )
    path = f"{container}/{_braces(trigger.prefix)}{{name}}{_braces(trigger.suffix)}"
    connection = chosen["storage_connection"]
    return (
        f"shim.blob_entry({ref}, {dead!r}, {timeout!r})",
        [
            f"@app.blob_trigger(arg_name='blob', path={path!r}, connection={connection!r}, "
            "source=func.BlobSource.EVENT_GRID)",
            _dead_letter_output(spec, chosen),
        ],
        "blob: func.InputStream, dead: func.Out[str]",
        "blob, dead",
    )


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _python_name(name: str, index: int, used: set[str]) -> str:
    python_name = name if name.isidentifier() and not keyword.iskeyword(name) else f"function_{index}"
    while python_name in used:
        python_name = f"{python_name}_"
    used.add(python_name)
    return python_name


# -- physical names: the ones deploy creates ---------------------------------------------------------


def physical_queue(logical: str) -> str:
    return queue_name(logical)


def physical_container(logical: str) -> str:
    return container_name(logical)


def poison_suffix() -> str:
    return POISON_SUFFIX


def check(app: App) -> None:
    """Raise UnsupportedTriggerError for what the generated bindings cannot express (settings, schedules, a
    queue named like a function's dead-letter queue)."""
    transports(app)
    if http_routes(app):
        not_found_name(app)
    for spec in app.functions:
        if spec.trigger.kind == "schedule":
            ncrontab(spec)
    _check_dead_letter_queues(app)


def _check_dead_letter_queues(app: App) -> None:
    """A queue of the app (a trigger's or a channel's) never takes the name of a dead-letter queue."""
    dead = {dead_letter_queue(spec.name): spec.name for spec in app.functions if has_dead_letter_queue(app, spec)}
    logical = [s.trigger.name for s in app.functions if isinstance(s.trigger, Queue)]
    logical += [c.name for c in getattr(app, "channels", ())]
    for name in logical:
        if physical_queue(name) in dead:
            raise UnsupportedTriggerError(
                f"App {app.name!r} on azure: queue({name!r}) would be the Storage Queue {physical_queue(name)!r}, "
                f"where function {dead[physical_queue(name)]!r} keeps its dead letters. Rename the queue."
            )

"""docs/portability.md, the generated parts: rendered from the code's own data, so the page cannot drift.

Each generated part of the page sits between `<!-- generated: NAME -->` and `<!-- end generated -->`;
everything else on the page is prose, kept as written. The parts:

- triggers: what each trigger kind maps to on each cloud, with what `portable-fn deploy` creates for it
  (each provider's pure `desired()` and, on Azure, the bindings of the generated `function_app.py`, for
  the contract's probe app);
- limits: the sizes `portable-fn dev` enforces (portable_fn/local/limits.py) and the clouds' published
  delivery figures (portable_fn/local/quotas.py), with their sources, and the values our deploy picks
  (read from the providers' code);
- differences, not-carried: differences.DIFFERENCES and NOT_CARRIED;
- refused: REFUSED below, each row proven by tests/portability/test_portability_docs.py, which declares
  it in a small app and runs `portable-fn invoke` on it.

`python tests/portability/portability_contract/docs.py --write` rewrites the page; without `--write` it
prints what differs and exits 1 when the page is out of date.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PAGE = ROOT / "docs" / "portability.md"
PROBE = HERE.parent / "apps" / "contract"
COMMAND = "python tests/portability/portability_contract/docs.py --write"
CLOUDS = ("local", "aws", "gcp", "azure")
KINDS = ("http", "queue", "topic", "schedule", "storage")
BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)

if __name__ == "__main__":  # run as a script: import the suite's package, not its modules (azure.py is
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # no `azure` package)
    sys.path.insert(0, str(HERE.parent))

from portability_contract.differences import DIFFERENCES, NOT_CARRIED  # noqa: E402
from portable_fn.app import App, load_app  # noqa: E402
from portable_fn.deploy import Artifact  # noqa: E402
from portable_fn.local import limits, quotas  # noqa: E402
from portable_fn.runtime import triggers  # noqa: E402

# -- refused combinations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """A declaration refused when the app is loaded for `cloud` ("every cloud": by the declaration itself).

    `declaration` is what the user writes (one or more decorators, each becoming one function); `settings`
    the lines under `[tool.portable-fn.<cloud>]` it needs; `module` the module holding it; `reason` a part
    of the refusal's message, which the test finds there."""

    cloud: str
    declaration: tuple[str, ...]
    reason: str
    settings: tuple[str, ...] = ()
    module: str = "handlers"


EVERY = "every cloud"
REFUSED = [
    Refused(
        EVERY,
        ('@function(trigger=queue("orders", batch_size=20, fifo=True))',),
        "batch_size must be an integer from 1 to 10 for a FIFO queue",
    ),
    Refused(
        EVERY,
        ('@function(trigger=queue("orders", batch_size=20000))',),
        "batch_size must be an integer from 1 to 10000",
    ),
    Refused("aws", ('@function(trigger=queue("orders"), timeout_s=1200)',), "is over Lambda's limit of 900 seconds"),
    Refused(
        "aws", ('@function(trigger=http("POST", "/render"), memory_mb=16384)',), "is over Lambda's limit of 10240 MB"
    ),
    Refused(
        "aws",
        ('@function(trigger=cron("0 3 1 * 1"))',),
        "restricts both the day of the month and the day of the week, which EventBridge Scheduler cannot express",
    ),
    Refused(
        "aws",
        ('@function(trigger=http("GET", "/orders"))', '@function(trigger=http("GET", "/orders"))'),
        "the app's HTTP API routes a method and path to one function",
        settings=('http = "http-api"',),
    ),
    Refused(
        "gcp",
        ('@function(trigger=queue("orders", fifo=True))',),
        "Eventarc's Pub/Sub subscriptions deliver without ordering",
    ),
    Refused(
        "gcp",
        ('@function(trigger=queue("orders"), timeout_s=600)',),
        "is over the limit of 540 seconds for event-driven functions",
    ),
    Refused(
        "gcp",
        ('@function(trigger=http("GET", "/report"), architecture="arm64")',),
        "Cloud Functions runs on x86_64 only",
    ),
    Refused(
        "gcp",
        ('@function(trigger=schedule("rate(7 minutes)"))',),
        "has no exact Cloud Scheduler (unix-cron) equivalent",
    ),
    Refused(
        "gcp",
        ('@function(trigger=http("GET", "/status"))',),
        "the name of the entry-point module functions-framework loads",
        module="main",
    ),
    Refused(
        "azure",
        ('@function(trigger=http("GET", "/report"), timeout_s=900)',),
        "is over the Consumption plan's limit of 600 seconds",
    ),
    Refused(
        "azure",
        ('@function(trigger=queue("orders", fifo=True))',),
        "Storage Queues deliver without ordering, and the Service Bus transport binds no sessions",
    ),
    Refused(
        "azure",
        ('@function(trigger=http("GET", "/report"), architecture="arm64")',),
        "Azure Functions runs Python on x86_64 Linux only",
    ),
    Refused("azure", ('@function(trigger=schedule("rate(7 minutes)"))',), "cannot be expressed as an NCRONTAB timer"),
    Refused(
        "azure",
        ('@function(trigger=cron("0 3 1 * 1"))',),
        "cron fires when either matches, Azure's NCRONTAB only when both do",
    ),
    Refused(
        "azure",
        (
            '@function(trigger=http("GET", "/a"), env={"MODE": "fast"})',
            '@function(trigger=http("GET", "/b"), env={"MODE": "safe"})',
        ),
        "all functions of an app share one function app and its settings",
    ),
]


def render_refused() -> str:
    rows = [("cloud", "declaration", "refused because"), ("---",) * 3]
    for refused in REFUSED:
        code = "<br>".join(f"`{line}`" for line in refused.declaration)
        if refused.module != "handlers":
            code = f"in `{refused.module}.py`: {code}"
        if refused.settings:
            code += "<br>with " + ", ".join(f"`{line}`" for line in refused.settings)
        rows.append((refused.cloud, code, refused.reason))
    return table(rows)


# -- differences ---------------------------------------------------------------------------------------


def render_differences() -> str:
    rows = [("what differs", "in cases", "on", "why"), ("---",) * 4]
    rows += [(f"`{d.field}`", cases(d.cases), d.clouds, d.why) for d in DIFFERENCES]
    return table(rows)


def cases(patterns: str) -> str:
    """`queue-* !*-cloudevent` as `queue-*`, not `*-cloudevent`; `*` as all."""
    shown = [f"not `{p[1:]}`" if p.startswith("!") else f"`{p}`" for p in patterns.split()]
    return "all" if shown == ["`*`"] else ", ".join(shown)


def render_not_carried() -> str:
    rows = [("case", "on", "why"), ("---",) * 3]
    rows += [(f"`{n.case}`", n.cloud, n.why) for n in NOT_CARRIED]
    return table(rows)


# -- what each trigger maps to ---------------------------------------------------------------------------

SERVICES = {  # kind -> cloud -> the native service the trigger becomes (the product's choice)
    "http": {
        "local": "a route of the dev server",
        "aws": 'a Lambda Function URL, or a route of the app\'s API Gateway HTTP API (`http = "http-api"`)',
        "gcp": "the function's HTTPS endpoint (Cloud Run functions)",
        "azure": "an HTTP trigger, with no `/api` prefix",
    },
    "queue": {
        "local": "a queue in the dev host's journal",
        "aws": "an SQS queue, polled by Lambda",
        "gcp": "a Pub/Sub topic and an Eventarc trigger",
        "azure": 'a Queue Storage queue (Service Bus with `queue_transport = "service_bus"`)',
    },
    "topic": {
        "local": "a fan-out in the dev host's journal",
        "aws": "an SNS topic",
        "gcp": "a Pub/Sub topic and an Eventarc trigger",
        "azure": 'an Event Grid topic, CloudEvents schema (a Service Bus topic with `topic_transport = "service_bus"`)',
    },
    "schedule": {
        "local": "the dev host's timer",
        "aws": "an EventBridge Scheduler schedule",
        "gcp": "a Cloud Scheduler job publishing to the function's Pub/Sub topic",
        "azure": "a timer trigger (NCRONTAB)",
    },
    "storage": {
        "local": "a folder under `.portable-fn/local/buckets/`",
        "aws": "an S3 bucket notification",
        "gcp": "an Eventarc Cloud Storage trigger",
        "azure": "a blob trigger with the Event Grid source (`created`), an Event Grid subscription (`deleted`)",
    },
}
ARTIFACT = Artifact(Path("app.zip"), "0" * 64, 1, 1)


def render_triggers() -> str:
    app = load_app(PROBE)
    shown = [next(s for s in app.functions if s.trigger.kind == kind) for kind in KINDS]
    shown.append(next(s for s in app.functions if getattr(s.trigger, "on", "") == "deleted"))
    created = {cloud: deployed_by(cloud, app, shown) for cloud in CLOUDS[1:]}
    rows: list[tuple[str, ...]] = [("declared", *CLOUDS), ("---",) * 5]
    for spec in shown:
        cells = [SERVICES[spec.trigger.kind]["local"]]
        for cloud in CLOUDS[1:]:
            cells.append(f"{SERVICES[spec.trigger.kind][cloud]}<br>deploy: {created[cloud][spec.name]}")
        rows.append((f"`{declared(spec.trigger)}`", *cells))
    return table(rows)


def declared(trigger: triggers.Trigger) -> str:
    """The trigger as the user writes it, defaults left out: `queue("orders", batch_size=10)`."""
    factory = getattr(triggers, trigger.kind)
    parts = []
    for name, param in inspect.signature(factory).parameters.items():
        value = getattr(trigger, name, param.default)  # http's request= / response= live in `bodies`
        if param.default is inspect.Parameter.empty:
            parts.append(f'"{value}"')
        elif value != param.default:
            parts.append(f"{name}={value!r}".replace("'", '"'))
    return f"{trigger.kind}({', '.join(parts)})"


def deployed_by(cloud: str, app: App, shown: list[Any]) -> dict[str, str]:
    """Function name -> what deploy creates for it on `cloud` beyond what every function gets there."""
    kinds = {spec.name: Counter(map(label, DESIRED[cloud](alone(app, spec)))) for spec in shown}
    common = Counter({k: min(c[k] for c in kinds.values()) for k in set().union(*kinds.values())})
    described = {}
    for spec in shown:
        extra = kinds[spec.name] - common
        listed = [f"{k} (x{n})" if n > 1 else k for k, n in sorted(extra.items())]
        described[spec.name] = ", ".join([*NATIVE[cloud](app, spec), *listed]) or "nothing more"
    return described


def label(resource: Any) -> str:
    """The resource's kind, saying which queue or topic holds dead letters."""
    name = str(getattr(resource, "name", ""))
    dead = name.endswith(("-dlq", "-poison")) or name.rpartition("/")[2].startswith("pfdl-")
    return f"{resource.kind} (dead letters)" if dead else str(resource.kind)


def alone(app: App, spec: Any) -> App:
    return App(app.root, app.config, [spec])


def _aws_desired(app: App) -> list[Any]:
    from portable_fn_aws.deploy.desired import Target, desired
    from portable_fn_aws.deploy.naming import Arns, Names

    return desired(Target(app, "dev", Names(app.name, "dev"), Arns("aws", "eu-west-1", "123456789012"), ARTIFACT))


def _gcp_desired(app: App) -> list[Any]:
    from portable_fn_gcp.deploy.desired import Target, desired
    from portable_fn_gcp.deploy.naming import Names

    return desired(Target(app, "dev", Names(app.name, "dev", "project", "europe-west1"), ARTIFACT))


def _azure_desired(app: App) -> list[Any]:
    from portable_fn_azure.deploy.desired import Target, desired
    from portable_fn_azure.deploy.naming import Names

    return desired(
        Target(
            app,
            "dev",
            Names(app.name, "dev", "subscription"),
            "westeurope",
            ARTIFACT,
            "https://account.blob.core.windows.net",
        )
    )


DESIRED: dict[str, Callable[[App], list[Any]]] = {"aws": _aws_desired, "gcp": _gcp_desired, "azure": _azure_desired}


def _gcp_native(app: App, spec: Any) -> list[str]:
    """The Eventarc event type of the function's trigger, with its retry policy."""
    function = next(r for r in _gcp_desired(alone(app, spec)) if r.kind == "cloud function")
    if not function.event_type:
        return []
    retry = "retried" if function.retry_policy == "RETRY_POLICY_RETRY" else "not retried"
    return [f"Eventarc trigger `{function.event_type}` ({retry})"]


def _azure_native(app: App, spec: Any) -> list[str]:
    """The bindings of the function in the generated `function_app.py`."""
    from portable_fn_azure.codegen import function_app_source as generate_function_app

    tree = ast.parse(generate_function_app(alone(app, spec)))
    function = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == spec.name)
    bindings = []
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute):
            name = decorator.func.attr
            schedule = [
                str(k.value.value)
                for k in decorator.keywords
                if k.arg == "schedule" and isinstance(k.value, ast.Constant)
            ]
            if name != "function_name":
                bindings.append(f"`{name}`" + (f" `{schedule[0]}`" if schedule else ""))
    return [" + ".join(bindings)]


NATIVE: dict[str, Callable[[App, Any], list[str]]] = {
    "aws": lambda app, spec: [],
    "gcp": _gcp_native,
    "azure": _azure_native,
}


# -- limits ------------------------------------------------------------------------------------------------


def ours() -> dict[str, str]:
    """The values our own deploy picks, read from the providers' code, for the `{name}`s of quotas.py."""
    from portable_fn_aws.deploy.desired import DLQ_RETENTION_S, MAX_ASYNC_RETRIES
    from portable_fn_aws.deploy.resources import Queue
    from portable_fn_aws.provider import MAX_TIMEOUT_S
    from portable_fn_azure.codegen import HOUR_STEPS, MAX_QUEUE_BATCH, MINUTE_STEPS, RETRY_DELAY
    from portable_fn_azure.deploy.grid import EVENT_RETRY
    from portable_fn_azure.provider import CONSUMPTION_MAX_TIMEOUT_S
    from portable_fn_gcp.provider import MAX_EVENT_TIMEOUT_S

    app = load_app(PROBE)
    batch = max(getattr(s.trigger, "batch_size", 1) for s in app.functions)
    return {
        "aws_batch_window": "1",
        "aws_async_retries": str(MAX_ASYNC_RETRIES),
        "aws_queue_retention": duration(Queue.retention_s),
        "aws_dlq_retention": duration(DLQ_RETENTION_S),
        "aws_visibility": "6 * `timeout_s`, at least 30 s, at most 12 h (deploy sets it)",
        "aws_max_timeout": duration(MAX_TIMEOUT_S),
        "gcp_max_event_timeout": duration(MAX_EVENT_TIMEOUT_S),
        "azure_queue_batch": f"{min(MAX_QUEUE_BATCH, batch)} in the probe app",
        "azure_event_attempts": str(EVENT_RETRY["maxDeliveryAttempts"]),
        "azure_event_ttl": duration(60 * EVENT_RETRY["eventTimeToLiveInMinutes"]),
        "azure_minute_steps": ", ".join(map(str, MINUTE_STEPS)),
        "azure_hour_steps": ", ".join(map(str, HOUR_STEPS)),
        "azure_timer_delay": duration(sum(int(p) * f for p, f in zip(RETRY_DELAY.split(":"), (3600, 60, 1)))),
        "azure_consumption_timeout": duration(CONSUMPTION_MAX_TIMEOUT_S),
    }


def duration(seconds: int) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit[:-1] if count == 1 and unit != 'min' else unit}"
    return f"{seconds:,} s"


def size(limit: limits.Limit) -> str:
    if limit.what == "an object key":  # Azure counts characters (limits.KEY_LIMITS)
        return f"{limit.size:,} {'characters' if limit.cloud == 'azure' else 'bytes'}"
    for unit, factor in (("MiB", limits.MiB), ("KiB", limits.KiB), ("MB", 1_000_000)):
        if limit.size % factor == 0:
            return f"{limit.size // factor:,} {unit}"
    return f"{limit.size:,} bytes"


class Sources:
    """The pages figures come from, numbered in the order the page first cites them."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def cite(self, url: str) -> str:
        if not url.startswith("https://"):
            return ""
        if url not in self.urls:
            self.urls.append(url)
        return f" [[{self.urls.index(url) + 1}]]({url})"

    def render(self) -> str:
        return "Sources:\n\n" + "\n".join(f"{i}. <{url}>" for i, url in enumerate(self.urls, 1)) + "\n"


SIZE_ROWS = {"http": "request body", "queue": "message size", "topic": "message size", "storage": "object key"}


def size_cells(kind: str, sources: Sources) -> list[str]:
    by_cloud = limits.KEY_LIMITS if kind == "storage" else limits.BODY_LIMITS[kind]
    strictest = min(by_cloud.values(), key=lambda limit: limit.size)
    local = f"the strictest of the clouds the app names (all three: {size(strictest)}); `dev --provider P`: P's"
    if kind == "storage":
        local += f"; uploads through `PUT /_local/buckets/` up to {size(limits.OBJECT_LIMIT)}"
    if kind == "http":
        local += "; AWS's counts the request as Lambda's event does (a body that is not text in base64, the headers)"
    cells = [local]
    for cloud in CLOUDS[1:]:
        limit = by_cloud[cloud]
        cells.append(f"{size(limit)} ({limit.where})" + sources.cite(quotas.SIZE_SOURCES[kind][cloud]))
    return cells


def figure_cells(figures: dict[str, quotas.Figure], values: dict[str, str], sources: Sources) -> list[str]:
    return [figures[cloud].text.format(**values) + sources.cite(figures[cloud].source) for cloud in CLOUDS]


def render_limits() -> str:
    values, sources = ours(), Sources()
    parts = []
    for kind in KINDS:
        rows: list[tuple[str, ...]] = [(kind, *CLOUDS), ("---",) * 5]
        if kind in SIZE_ROWS:
            rows.append((SIZE_ROWS[kind], *size_cells(kind, sources)))
        for aspect, figures in quotas.DELIVERY[kind].items():
            rows.append((aspect, *figure_cells(figures, values, sources)))
        parts.append(table(rows))
    rows = [
        ("every event function", *CLOUDS),
        ("---",) * 5,
        ("longest `timeout_s`", *figure_cells(quotas.EVENT_TIMEOUTS, values, sources)),
    ]
    parts.append(table(rows))
    return "\n".join(parts) + "\n" + sources.render()


# -- the page ----------------------------------------------------------------------------------------------

SECTIONS: dict[str, Callable[[], str]] = {
    "triggers": render_triggers,
    "limits": render_limits,
    "differences": render_differences,
    "not-carried": render_not_carried,
    "refused": render_refused,
}


def table(rows: Iterable[tuple[str, ...]]) -> str:
    return "".join("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |\n" for row in rows)


def render(page: str) -> str:
    """`page` with every generated part rendered again from the code; a part the page lacks, or one it
    names that does not exist, is an error saying which."""
    found = [m.group("name") for m in BLOCK.finditer(page)]
    missing, unknown = set(SECTIONS) - set(found), set(found) - set(SECTIONS)
    if missing or unknown:
        raise ValueError(
            f"{PAGE}: generated parts missing {sorted(missing)}, unknown {sorted(unknown)}; "
            f"each is `<!-- generated: NAME -->` ... `<!-- end generated -->`, NAME one of "
            f"{sorted(SECTIONS)}."
        )
    return BLOCK.sub(lambda m: m.group(1) + SECTIONS[m.group("name")]() + m.group(4), page)


def main(argv: list[str]) -> int:
    page = PAGE.read_text(encoding="utf-8")
    fresh = render(page)
    if "--write" in argv:
        PAGE.write_text(fresh, encoding="utf-8")
        return 0
    diff = difflib.unified_diff(page.splitlines(True), fresh.splitlines(True), "docs/portability.md", "rendered")
    sys.stdout.writelines(diff)
    return 0 if fresh == page else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

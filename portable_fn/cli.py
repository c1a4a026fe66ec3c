"""The `portable-fn` command line: the composition root where objects are built and wired.

Exit codes: 0 ok, 1 the command failed (the message says where, what and what next), 2 usage error.
Results go to stdout (as JSON with `--json`); progress, questions and errors go to stderr, styled only for
a person at a terminal (see `portable_fn.console`). Built on click, so every command has its help and an
example, and `portable-fn completion SHELL` prints click's completion script for bash, zsh or fish.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import inspect
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .ci import CLOUDS
from .console import Console, Steps
from .runtime.errors import PortableFnError, UnknownStageError

API_LOGGER = "portable_fn.api"  # where providers log each cloud API call (shown by --verbose)
TRIGGERS = ("http", "queue", "topic", "schedule", "storage")
SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_PORTABLE_FN_COMPLETE"  # set by the completion scripts when they ask for completions

if TYPE_CHECKING:
    from .app import App
    from .deploy import DeployTarget
    from .deploy.planner import Plan, Step
    from .logread import LogEntry
    from .provider import DeadLetterEntry, Provider
    from .runtime.function import FunctionSpec

    StrParam = click.ParamType[str]
else:  # click before 8.4 has no generic ParamType
    StrParam = click.ParamType


class UsageError(PortableFnError):
    """A command line that cannot mean one thing: exit code 2."""


class Refused(PortableFnError):
    """A protected stage's deletion not confirmed: nothing was changed (exit code 1)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by the console script)."""
    console = Console()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args and COMPLETE_VAR not in os.environ:  # (completion asks with no arguments)
        click.echo(cli.get_help(click.Context(cli, info_name="portable-fn", **cli.context_settings)), err=True)
        return 2
    try:
        return int(
            cli.main(args, prog_name="portable-fn", complete_var=COMPLETE_VAR, standalone_mode=False, obj=console) or 0
        )
    except click.UsageError as exc:
        exc.show()
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (UsageError, UnknownStageError) as exc:
        console.say(f"portable-fn: error: {exc}", "bold red")
        return 2
    except PortableFnError as exc:
        console.error(str(exc))
        return 1
    except OSError as exc:  # a file the command line names (--output, --sarif, ...) cannot be read or written
        if exc.filename is None or "--verbose" in args or "-v" in args:
            raise
        console.error(
            f"{exc.strerror or exc}: {exc.filename}. Check the path (its directory must exist) and your "
            "permissions on it, then run the command again."
        )
        return 1
    except (KeyboardInterrupt, click.Abort):
        return 130


def _example(*lines: str) -> str:
    """A command's epilog: its examples, kept as written (click rewraps text without the \\b marker)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_example(
        "portable-fn init shop", "portable-fn dev shop", "portable-fn deploy shop --provider aws --stage prod"
    ),
)
@click.version_option(
    __version__,
    "--version",
    prog_name="portable-fn",
    message="%(prog)s %(version)s",
    help="Print the version and exit.",
)
def cli() -> None:
    """Write a cloud function once; run it locally, on AWS Lambda, Google Cloud Functions and Azure
    Functions.

    Exit codes: 0 ok, 1 the command failed, 2 usage error. Results go to stdout, progress to stderr.
    """


# -- parameters ----------------------------------------------------------------------------------------


class ProviderName(StrParam):
    """Any provider registered under the `portable_fn.providers` entry points, looked up when used."""

    name = "provider"

    def __init__(self, clouds_only: bool = False) -> None:
        self.clouds_only = clouds_only

    def names(self) -> list[str]:
        from .provider import available

        return sorted(n for n in available() if not (self.clouds_only and n == "local"))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        names = self.names()
        if value in names:
            return str(value)
        if self.clouds_only and value == "local":
            self.fail(
                f"dev serves locally without it; name the cloud whose checks and limits to apply: {', '.join(names)}.",
                param,
                ctx,
            )
        installed = ", ".join(names) or "none"
        self.fail(
            f"{value!r} is not an installed provider; installed: {installed}. {self.hint(value, names)}", param, ctx
        )

    @staticmethod
    def hint(value: str, names: list[str]) -> str:
        """How to get `value`: install a built-in cloud (the extra is not on PyPI yet, so from a checkout too),
        or the installed name probably meant."""
        checkout = "from a checkout of portable-fn: pip install -e ./providers/{}"
        if value in ("aws", "gcp", "azure"):
            return f"Install it: pip install 'portable-fn[{value}]' ({checkout.format(value)})."
        meant = difflib.get_close_matches(value, names, n=1)
        if meant:
            return f"Try {meant[0]!r}."
        return (
            f"Install portable-fn[aws], [gcp] or [azure] with pip ({checkout.format('NAME')}), "
            "or a third-party provider package."
        )

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in self.names() if n.startswith(incomplete)]


class TemplateName(StrParam):
    """A template of `portable_fn.scaffold.TEMPLATES`, looked up when used."""

    name = "template"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        names = sorted(_templates())
        if value in names:
            return str(value)
        self.fail(
            f"{value!r} is not a template; choose one of {', '.join(names) or '(none available)'} "
            "(`portable-fn init --help` describes them).",
            param,
            ctx,
        )

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(n, help=h) for n, h in sorted(_templates().items()) if n.startswith(incomplete)]


@dataclass(frozen=True)
class Target:
    """Which app, stage and provider a command acts on, as the command line says."""

    app_dir: str | None
    app: str | None
    provider: str
    stage: str | None
    endpoint_url: str | None

    @property
    def directory(self) -> str:
        positional, named = self.app_dir, self.app
        if positional is not None and named is not None and Path(positional).resolve() != Path(named).resolve():
            raise UsageError(f"Two app directories were given, {positional!r} and --app {named!r}; give one.")
        given = positional or named or "."
        if not Path(given).is_dir():  # a mistyped path: the command line's problem, as click says of its own paths
            what = "is a file" if Path(given).exists() else "does not exist"
            raise UsageError(
                f"The app directory {given!r} {what}; give the folder that holds the app's pyproject.toml."
            )
        return given


_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),  # a file there: a usage error naming it
    default=None,
    metavar="DIR",
    help="The dev host's state directory, as given to `portable-fn dev --state-dir` (default: "
    "APP/.portable-fn/local; --provider local only).",
)


def _target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The app, provider, stage and endpoint options every cloud command takes, gathered into a Target."""
    options = [
        click.argument("app_dir", required=False, metavar="[APP]"),
        click.option(
            "--app",
            "app",
            default=None,
            metavar="DIR",
            help="The app directory, named (the same as the positional APP; default: .).",
        ),
        click.option(
            "--provider",
            type=ProviderName(),
            default="local",
            show_default=True,
            help="Any installed provider (`portable-fn providers` lists them).",
        ),
        click.option("--stage", default=None, help="The stage (default: the first declared, e.g. dev)."),
        click.option(
            "--endpoint-url",
            default=None,
            metavar="URL",
            help="Send the provider's API calls here (an emulator such as moto or LocalStack).",
        ),
    ]

    @functools.wraps(command)
    def gathered(
        app_dir: str | None, app: str | None, provider: str, stage: str | None, endpoint_url: str | None, **rest: Any
    ) -> Any:
        return command(Target(app_dir, app, provider, stage, endpoint_url), **rest)

    for option in reversed(options):
        gathered = option(gathered)
    return gathered


_json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
_verbose_option = click.option(
    "--verbose", "-v", is_flag=True, help="Show each cloud API call (service, operation, resource) on stderr."
)
_yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Go ahead without asking, also on a protected stage (for CI)."
)


# -- the commands ------------------------------------------------------------------------------------------


@cli.command(
    epilog=_example(
        "portable-fn dev",
        "portable-fn dev shop --port 9000 --stage qa",
        "portable-fn dev shop --provider aws --no-reload",
    )
)
@click.argument("app", default=".", metavar="[APP]")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="The port, 0 for a free one (default: the stage's local port setting, else 8080).",
)
@click.option("--stage", default=None, help="The stage whose env and local settings apply (default: the first).")
@click.option(
    "--provider",
    type=ProviderName(clouds_only=True),
    default=None,
    help="Enforce this cloud's limits (default: the strictest of the clouds the app configures).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),  # a file there: a usage error naming it
    default=None,
    metavar="DIR",
    help="Where states, local buckets, pending messages and dead letters live (default: APP/.portable-fn/local).",
)
@click.option(
    "--reload/--no-reload", default=True, show_default=True, help="Re-import the functions when their code changes."
)
@click.pass_obj
def dev(
    console: Console,
    app: str,
    host: str,
    port: int | None,
    stage: str | None,
    provider: str | None,
    state_dir: str | None,
    reload: bool,
) -> int:
    """Serve every function of an app on this machine.

    APP is the app directory (default: .).
    """
    from .app import load_app
    from .config import load_config
    from .local import secrets_notice
    from .local.host import LocalHost

    stage = stage or next(iter(load_config(Path(app).resolve()).stages))
    loaded = load_app(app, stage)
    loaded.config.check_stage(stage, loaded.root / "pyproject.toml")
    if state_dir and (notice := secrets_notice(loaded, Path(state_dir))):
        console.say(notice, "yellow")
    port = port if port is not None else int(loaded.config.provider_settings("local", stage).get("port", 8080))
    if provider:  # emulating one cloud: refuse what its deploy would refuse, before serving anything
        from .provider import load_provider

        load_provider(provider, loaded.config.provider_settings(provider, stage)).check(loaded)
    options: dict[str, Any] = {"reload": reload} if "reload" in inspect.signature(LocalHost).parameters else {}
    LocalHost(
        loaded,
        host=host,
        port=port,
        state_dir=Path(state_dir) if state_dir else None,
        log=console.say,
        stage=stage,
        providers=[provider] if provider else None,
        **options,
    ).serve_forever()
    return 0


@cli.command(
    epilog=_example(
        "portable-fn invoke create_order shop --event request.json",
        'echo \'{"id": "o-1"}\' | portable-fn invoke fulfil --event -',
    )
)
@click.argument("function")
@_target_options
@click.option("--event", required=True, metavar="FILE", help="The event: a JSON file, or - for stdin.")
@_state_dir_option
def invoke(target: Target, function: str, event: str, state_dir: str | None) -> int:
    """Run one function once; print the result as JSON.

    FUNCTION is the function's name; APP the app directory (default: .). Exit code 1 when the
    invocation failed (an HTTP status of 400 or more, a message not acknowledged).
    """
    from .provider import invocation_failed

    with contextlib.redirect_stdout(sys.stderr):  # stdout holds only the JSON result
        app, provider, stage = _load(target, state_dir)
        spec = _function(app, function)
        result = _invoked(provider, app, spec, _event(event), stage)
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 1 if invocation_failed(result) else 0


class _InitCommand(click.Command):
    """`init`, whose help lists the templates installed (read when the help is shown)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if templates := _templates():
            with formatter.section("Templates"):
                formatter.write_dl(sorted(templates.items()))
        super().format_epilog(ctx, formatter)


@cli.command(
    cls=_InitCommand,
    epilog=_example(
        "portable-fn init shop",
        "portable-fn init jobs --template queue-worker",
        "portable-fn init shop --ci github --provider aws",
    ),
)
@click.argument("name")
@click.option(
    "--template", type=TemplateName(), default=None, help="The starting point (default: api; the list is below)."
)
@click.option(
    "--ci",
    "ci_system",
    type=click.Choice(["github", "gitlab"]),
    default=None,
    help="Also write a CI/CD pipeline for it (`portable-fn ci --help` says what it runs).",
)
@click.option(
    "--provider",
    "providers",
    type=click.Choice(CLOUDS),
    multiple=True,
    help="With --ci: a cloud the pipeline plans and deploys to; repeat for more (a new app targets none yet).",
)
@click.pass_obj
def init(console: Console, name: str, template: str | None, ci_system: str | None, providers: tuple[str, ...]) -> int:
    """Create a new app.

    NAME is the app's name and its new directory.
    """
    from . import scaffold

    if providers and ci_system is None:
        raise UsageError("--provider names the clouds of the pipeline --ci writes; add --ci github or --ci gitlab.")

    if template is not None and not hasattr(scaffold, "TEMPLATES"):
        raise _unavailable("init --template", "portable_fn.scaffold.TEMPLATES")
    make: Callable[..., Path] = scaffold.create_app
    try:
        root = make(Path(name)) if template is None else make(Path(name), template=template)
    except scaffold.BadName as exc:
        raise UsageError(str(exc)) from None
    console.result(f"Created {root}. Next: portable-fn dev {root}")
    if ci_system is not None:
        from .ci import write_pipeline
        from .commands.ci import summary

        console.result(summary(write_pipeline(root, ci_system, list(providers))))
    return 0


@cli.command(epilog=_example("portable-fn new resize --trigger storage", "portable-fn new orders --trigger http shop"))
@click.argument("name")
@click.argument("app", default=".", metavar="[APP]")
@click.option("--trigger", type=click.Choice(TRIGGERS), required=True, help="What runs the new function.")
@click.pass_obj
def new(console: Console, name: str, app: str, trigger: str) -> int:
    """Add a function, with its test, to an app.

    NAME is the new function's name; APP the app directory (default: .).
    """
    from .scaffold import BadName, new_function

    try:
        written = new_function(Path(app), name, trigger)
    except BadName as exc:
        raise UsageError(str(exc)) from None
    console.result("\n".join(str(path) for path in written))
    return 0


@cli.command(epilog=_example("portable-fn package shop --provider aws", "portable-fn package --list"))
@_target_options
@click.option("--list", "listing", is_flag=True, help="Show every file that ships, per zip.")
@_json_option
@_verbose_option
@click.pass_obj
def package(console: Console, target: Target, listing: bool, as_json: bool, verbose: bool) -> int:
    """Build the deployable artifact.

    Prints its path. APP is the app directory (default: .).
    """
    from .deploy import pipeline

    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        with console.steps() as progress:
            outcome = pipeline.package(provider, app, stage, progress)
    assert outcome.artifact is not None
    data, text = outcome.to_dict(), str(outcome.artifact.path)
    if listing:
        data["shipped"] = _shipped(data["artifact"])
        text = "\n\n".join(
            f"{path}:\n" + "\n".join(f"  {name}" for name in names) for path, names in data["shipped"].items()
        )
    _emit(console, as_json, data, text)
    return 0


@cli.command(
    epilog=_example(
        "portable-fn plan shop --provider gcp --stage prod",
        "portable-fn plan --json",
        "portable-fn plan --provider aws --detailed-exitcode   # 0: no change, 2: changes, 1: error",
    )
)
@_target_options
@_json_option
@_verbose_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when something would, 1 on an error (for CI).",
)
@click.pass_obj
def plan(console: Console, target: Target, as_json: bool, verbose: bool, detailed_exitcode: bool) -> int:
    """Show what deploy would change; changes nothing.

    Names the account / project / subscription and region it targets, and shows old -> new for every
    field an update changes. APP is the app directory (default: .).
    """
    from .deploy import pipeline
    from .deploy.diff import field_changes

    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        with console.steps() as progress:
            outcome = pipeline.plan(provider, app, stage, progress)
    assert outcome.plan is not None
    exit_code = 2 if detailed_exitcode and not outcome.plan.empty else 0
    if as_json:
        _emit(console, True, outcome.to_dict(), "")
        return exit_code
    console.result(_target_line(provider.name, outcome.target))
    lines = []
    if outcome.plan.steps:
        rows = [
            (f"{_SIGNS[s.action]} {s.action}", s.resource.kind, s.resource.name, ", ".join(s.changes))
            for s in outcome.plan.steps
        ]
        console.table(("action", "kind", "name", "changes"), rows)
        for step in outcome.plan.steps:
            if changes := field_changes(step):
                lines.append(f"~ {step.resource.kind} {step.resource.name}")
                lines.extend(f"    {change.describe()}" for change in changes)
    notes = [f"! {note}" for note in outcome.notes]
    grants = outcome.grants.lines() if outcome.grants is not None else []
    policy = outcome.policy.lines() if outcome.policy is not None else []
    policy += outcome.cost.lines() if outcome.cost is not None else []
    closing = [f"Plan: {outcome.plan.summary()}"]
    console.result("\n".join(lines + outcome.plan.kept_lines() + notes + grants + policy + closing))
    return exit_code


def _target_line(provider: str, target: DeployTarget | None) -> str:
    """Where a plan acts and as whom: "Target: aws account 123456789012, region eu-west-1, as arn:..."."""
    if target is None:
        return f"Target: {provider} (the provider does not say which account or region)"
    return f"Target: {target.describe()}" + (f", as {target.principal}" if target.principal else "")


_SIGNS = {"create": "+", "update": "~", "delete": "-"}


@cli.command(
    epilog=_example(
        "portable-fn deploy shop --provider aws --stage prod",
        "portable-fn deploy --provider azure --stage prod --yes --json",
    )
)
@_target_options
@_yes_option
@_json_option
@_verbose_option
@click.pass_obj
def deploy(console: Console, target: Target, yes: bool, as_json: bool, verbose: bool) -> int:
    """Package, plan and apply.

    Makes the cloud match the app in APP (default: .). On a protected stage a plan that deletes or
    replaces something is confirmed first (--yes skips that).
    """
    from .deploy import pipeline

    started = time.monotonic()
    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        with console.steps() as progress:
            guard = _guard(console, progress, app, provider.name, stage, "deploy", yes)
            outcome = pipeline.deploy(provider, app, stage, progress, confirm=guard)
    assert outcome.plan is not None
    console.done(
        f"Deployed {app.name} ({stage}) to {provider.name} in {time.monotonic() - started:.1f} s: "
        f"{_counts(outcome.plan)}"
    )
    if as_json:
        _emit(console, True, outcome.to_dict(), "")
    else:
        _show_outputs(console, outcome.outputs)
    return 0


@cli.command(
    epilog=_example(
        "portable-fn remove shop --provider aws --stage qa",
        "portable-fn remove --provider gcp --stage prod --yes",
        "portable-fn remove shop --provider azure --stage qa --delete-data",
    )
)
@_target_options
@click.option(
    "--delete-data",
    is_flag=True,
    help="Also delete the state stores that hold data, with their data (kept without it).",
)
@_yes_option
@_json_option
@_verbose_option
@click.pass_obj
def remove(console: Console, target: Target, delete_data: bool, yes: bool, as_json: bool, verbose: bool) -> int:
    """Delete everything the app created for the stage.

    Deletes what the app in APP (default: .) created, and nothing else; a state store that holds data
    is kept, and listed, unless --delete-data. On a protected stage this is confirmed first (--yes skips
    that).
    """
    from .deploy import pipeline

    started = time.monotonic()
    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        with console.steps() as progress:
            guard = _guard(console, progress, app, provider.name, stage, "remove", yes)
            outcome = pipeline.remove(provider, app, stage, progress, confirm=guard, delete_data=delete_data)
    assert outcome.plan is not None
    console.done(
        f"Removed {app.name} ({stage}) from {provider.name} in {time.monotonic() - started:.1f} s: "
        f"{_counts(outcome.plan)}"
    )
    text = "\n".join([f"Removed {outcome.plan.count('delete')} resources.", *outcome.plan.kept_lines()])
    _emit(console, as_json, outcome.to_dict(), text)
    return 0


@cli.command(epilog=_example("portable-fn info shop --provider aws --stage prod", "portable-fn info --json"))
@_target_options
@_json_option
@_verbose_option
@click.pass_obj
def info(console: Console, target: Target, as_json: bool, verbose: bool) -> int:
    """Show the URLs and names of what is deployed.

    APP is the app directory (default: .).
    """
    from .deploy import pipeline

    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        outcome = pipeline.info(provider, app, stage)
    outputs = outcome.outputs or {"functions": {}}
    deployed = bool(outputs.get("functions"))  # every provider lists the deployed functions it finds
    if as_json:
        data = {"app": app.name, "provider": provider.name, "stage": stage, "deployed": deployed, "outputs": outputs}
        _emit(console, True, data, "")
    elif not deployed:
        console.result(
            f"Nothing is deployed for app {app.name!r} (stage {stage!r}) on {provider.name}. Deploy it "
            f"with `portable-fn deploy {app.root} --provider {provider.name} --stage {stage}`."
        )
    else:
        _show_outputs(console, outputs)
    return 0


def _show_outputs(console: Console, outputs: dict[str, Any]) -> None:
    """The deployed functions as a table (trigger and URL), then the app's other outputs, one per line."""
    rows = [
        (name, str(entry.get("trigger", "")), str(entry.get("url") or ""))
        for name, entry in outputs.get("functions", {}).items()
    ]
    if rows:
        console.table(("function", "trigger", "url"), rows)
    if extra := [f"{key}: {value}" for key, value in outputs.items() if key != "functions"]:
        console.result("\n".join(extra))


@cli.command(
    epilog=_example(
        "portable-fn logs create_order shop --provider aws --stage prod --since 1h",
        "portable-fn logs create_order,fulfil --provider gcp --follow",
        "portable-fn logs fulfil --provider azure --trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "portable-fn logs list_orders --provider aws --stage prod --since 1d --usage",
    )
)
@click.argument("function")
@_target_options
@click.option(
    "--since",
    default="10m",
    show_default=True,
    metavar="WHEN",
    help="From when: a duration back from now (30s, 10m, 2h, 1d) or an RFC 3339 time.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines as they come, until Ctrl-C.")
@click.option("--trace", "trace_id", default=None, metavar="ID", help="Only the lines of this trace id.")
@click.option("--usage", is_flag=True, help="Sum the tenants' usage lines: invocations and duration per tenant.")
@_state_dir_option
@_json_option
@_verbose_option
@click.option(
    "--poll-s", type=click.FloatRange(min=0), default=2.0, hidden=True, help="Seconds between reads with --follow."
)
@click.option(
    "--max-polls",
    type=click.IntRange(min=1),
    default=None,
    hidden=True,
    help="End --follow after this many reads (for tests).",
)
@click.pass_obj
def logs(
    console: Console,
    target: Target,
    function: str,
    since: str,
    follow: bool,
    trace_id: str | None,
    usage: bool,
    state_dir: str | None,
    as_json: bool,
    verbose: bool,
    poll_s: float,
    max_polls: int | None,
) -> int:
    """Print a deployed function's logs, oldest first.

    FUNCTION is the function's name, or several separated by commas (their lines merged in time order);
    APP the app directory (default: .). With --json, one JSON object per line.
    """
    from datetime import datetime, timezone

    from . import logread

    with _api_log(console, verbose):
        app, provider, stage = _load(target, state_dir)
        specs = [_function(app, name.strip()) for name in function.split(",") if name.strip()]
        try:
            start = logread.parse_since(since, datetime.now(timezone.utc))
        except logread.LogsError as exc:
            raise UsageError(str(exc)) from None

        def read(moment: datetime) -> list[logread.LogEntry]:
            return logread.with_trace(_read_logs(provider, app, stage, specs, moment), trace_id)

        if usage:
            tenants = logread.usage_by_tenant(read(start))
            if as_json:
                _emit(console, True, {"usage": [t.to_dict() for t in tenants]}, "")
            else:
                console.table(logread.USAGE_COLUMNS, [t.row() for t in tenants])
            return 0
        for entry in logread.follow(
            read, start, sleep=time.sleep, every_s=poll_s, max_polls=max_polls if follow else 1
        ):
            console.result(entry.json_line() if as_json else entry.text())
    return 0


@cli.command(
    "dead-letters",
    epilog=_example(
        "portable-fn dead-letters fulfil shop",
        "portable-fn dead-letters fulfil shop --provider aws --stage prod --json",
        "portable-fn dead-letters fulfil --provider gcp --stage prod --redrive",
    ),
)
@click.argument("function")
@_target_options
@click.option(
    "--redrive", is_flag=True, help="Send each dead letter back to the function's trigger, and remove it from there."
)
@_state_dir_option
@_json_option
@_verbose_option
@click.pass_obj
def dead_letters(
    console: Console, target: Target, function: str, redrive: bool, state_dir: str | None, as_json: bool, verbose: bool
) -> int:
    """List the events a function gave up on, with their reason and attempts.

    FUNCTION is the function's name; APP the app directory (default: .). Read from the function's
    dead-letter target (locally, the dev host's journal), oldest first.
    """
    with _api_log(console, verbose):
        app, provider, stage = _load(target, state_dir)
        spec = _function(app, function)
        if not spec.trigger.is_event:
            raise UsageError(
                f"{spec.name!r} is {spec.trigger.kind}-triggered and answers its callers, so it has no dead "
                "letters; give a function triggered by a queue, topic, bucket or schedule."
            )
        entries = _dead_letters(provider, app, stage, spec, redrive)
    data = {
        "function": spec.name,
        "provider": provider.name,
        "stage": stage,
        "dead_letters": [e.to_dict() for e in entries],
    }
    if as_json:
        _emit(console, True, data, "")
        return 0
    where = f"{spec.name!r} on {provider.name} (stage {stage!r})"
    if not entries:
        console.result(f"No dead letters for {where}.")
        return 0
    console.table(
        ("id", "attempts", "time", "reason"),
        [(e.id, "" if e.attempts is None else str(e.attempts), e.time or "", e.reason or "") for e in entries],
    )
    said = "sent back to its trigger" if redrive else f"in {entries[0].where}"
    console.result(f"{len(entries)} dead letter{'s' if len(entries) != 1 else ''} of {where}, {said}.")
    return 0


@cli.group(
    epilog=_example(
        "portable-fn workflows list shop",
        "portable-fn workflows show 3f2a... shop --provider aws --stage prod",
        "portable-fn workflows cancel 3f2a... --reason 'customer cancelled'",
        "portable-fn workflows retry 3f2a... --provider gcp --stage prod",
    )
)
def workflows() -> None:
    """List, show, cancel and retry workflow instances.

    Instances live in the app's workflow store on the provider (locally, in the dev host's state
    directory, through the host when it runs).
    """


def _workflow_status(value: str | None) -> str | None:
    """`--status` as given, when an instance can be in it (a misspelt one would list nothing, silently)."""
    from .runtime.workflow import STATUSES

    if value is not None and value not in STATUSES:
        raise click.BadParameter(f"{value!r} is not a status; choose one of {', '.join(STATUSES)}.")
    return value


@workflows.command("list", epilog=_example("portable-fn workflows list shop --status failed --json"))
@_target_options
@click.option("--workflow", "name", default=None, help="Only this workflow's instances.")
@click.option(
    "--status",
    default=None,
    callback=lambda _ctx, _param, value: _workflow_status(value),
    help="Only instances in this status (running, waiting, completed, failed...).",
)
@_state_dir_option
@_json_option
@click.pass_obj
def workflows_list(
    console: Console, target: Target, name: str | None, status: str | None, state_dir: str | None, as_json: bool
) -> int:
    """List instances, newest first: id, workflow, status, steps done, when started and last changed."""
    app, provider, stage = _load(target, state_dir)
    found = _workflows(provider, app, stage, "list_instances", name, status)
    if as_json:
        _emit(console, True, {"provider": provider.name, "stage": stage, "instances": found}, "")
        return 0
    if not found:
        console.result(f"No workflow instances on {provider.name} (stage {stage!r}).")
        return 0
    console.table(
        ("id", "workflow", "status", "steps", "started", "changed", "error"),
        [
            (
                str(i.get("id")),
                str(i.get("workflow")),
                str(i.get("status")),
                str(i.get("steps", "")),
                _when(i.get("created")),
                _when(i.get("updated")),
                str(i.get("error") or "")[:80],
            )
            for i in found
        ],
    )
    console.result(f"{len(found)} instance{'s' if len(found) != 1 else ''} on {provider.name} (stage {stage!r}).")
    return 0


@workflows.command("show", epilog=_example("portable-fn workflows show 3f2a... shop --json"))
@click.argument("instance")
@_target_options
@_state_dir_option
@_json_option
@click.pass_obj
def workflows_show(console: Console, target: Target, instance: str, state_dir: str | None, as_json: bool) -> int:
    """Show one instance: its status, input, result or error, what it waits for, and every step."""
    app, provider, stage = _load(target, state_dir)
    found = _workflows(provider, app, stage, "get_instance", instance)
    if found is None:
        raise UsageError(f"No workflow instance {instance!r} on {provider.name} (stage {stage!r}).")
    if as_json:
        _emit(console, True, found, "")
        return 0
    lines = [
        f"{found.get('workflow')} {found.get('id')}: {found.get('status')}",
        f"  input:  {json.dumps(found.get('input'), sort_keys=True)}",
    ]
    if "result" in found:
        lines.append(f"  result: {json.dumps(found.get('result'), sort_keys=True)}")
    if found.get("error"):
        lines.append(f"  error:  {found['error']}")
    if found.get("waiting"):
        lines.append(f"  waits for: {json.dumps(found['waiting'], sort_keys=True)}")
    console.result("\n".join(lines))
    console.table(("#", "kind", "name", "outcome"), [_history_row(n, e) for n, e in enumerate(found["history"])])
    return 0


@workflows.command("cancel", epilog=_example("portable-fn workflows cancel 3f2a... shop --reason 'duplicate order'"))
@click.argument("instance")
@_target_options
@click.option("--reason", default="cancelled", show_default=True, help="Why, recorded on the instance.")
@_state_dir_option
@_json_option
@click.pass_obj
def workflows_cancel(
    console: Console, target: Target, instance: str, reason: str, state_dir: str | None, as_json: bool
) -> int:
    """Cancel a running or waiting instance: its finished steps are compensated, in reverse."""
    app, provider, stage = _load(target, state_dir)
    done = _workflows(provider, app, stage, "cancel", instance, reason)
    _emit(console, as_json, _summary(done), f"Cancelling {instance}: its finished steps are being compensated.")
    return 0


@workflows.command("retry", epilog=_example("portable-fn workflows retry 3f2a... shop --provider aws"))
@click.argument("instance")
@_target_options
@_state_dir_option
@_json_option
@click.pass_obj
def workflows_retry(console: Console, target: Target, instance: str, state_dir: str | None, as_json: bool) -> int:
    """Run a failed or diverged instance again from the step that failed (or diverged), with the code
    deployed now; the steps before it keep their results. An unfinished instance is sent a message to go on.
    One whose finished steps were compensated is refused: start a new instance."""
    app, provider, stage = _load(target, state_dir)
    done = _workflows(provider, app, stage, "retry", instance)
    _emit(console, as_json, _summary(done), f"Retrying {instance}: it goes on from where it stopped.")
    return 0


def _workflows(provider: Provider, app: App, stage: str, operation: str, *args: Any) -> Any:
    """`provider.workflows`, whose failures are errors saying what and what next, never tracebacks."""
    from .runtime.workflow import WorkflowError

    try:
        return provider.workflows(app, stage, operation, *args)
    except WorkflowError as exc:
        raise UsageError(str(exc)) from None
    except PortableFnError:
        raise
    except Exception as exc:
        why = provider.explain(exc) or f"{type(exc).__name__}: {exc}"
        raise PortableFnError(f"Reading the workflows on {provider.name} (stage {stage!r}) failed: {why}") from exc


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("history", "attempts")}


def _when(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _history_row(number: int, entry: dict[str, Any]) -> tuple[str, str, str, str]:
    kind = entry.get("kind", "")
    if kind in ("step", "parallel"):
        outcome = (
            f"error: {entry['error']}" if "error" in entry else json.dumps(entry.get("result", entry.get("results")))
        )
    elif kind == "sleep":
        outcome = f"until {_when(entry.get('until'))}"
    elif kind == "event":
        outcome = "timed out" if entry.get("timed_out") else json.dumps(entry["data"]) if "data" in entry else "waiting"
    else:
        outcome = json.dumps(entry.get("value", ""))
    return str(number), kind, str(entry.get("name", "")), outcome[:100]


@cli.command(epilog=_example("portable-fn providers", "portable-fn providers --json"))
@_json_option
@click.pass_obj
def providers(console: Console, as_json: bool) -> int:
    """List the installed providers with their versions.

    Providers are found through the `portable_fn.providers` entry points.
    """
    from .provider import available

    found = {
        name: {
            "entry_point": entry.value,
            "distribution": entry.dist.name if entry.dist else "",
            "version": entry.dist.version if entry.dist else "",
        }
        for name, entry in sorted(available().items())
    }
    if as_json:
        _emit(console, True, {"providers": found}, "")
    else:
        console.table(
            ("provider", "distribution", "version"),
            [(name, d["distribution"], d["version"]) for name, d in found.items()],
        )
    return 0


@cli.command(epilog=_example("portable-fn openapi shop", "portable-fn openapi --output openapi.json"))
@click.argument("app", default=".", metavar="[APP]")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="Write the document to FILE instead of stdout.",
)
@click.pass_obj
def openapi(console: Console, app: str, output: str | None) -> int:
    """Print the OpenAPI 3.1 document of the HTTP functions.

    APP is the app directory (default: .).
    """
    from .app import load_app

    openapi_document = _optional("portable_fn.openapi", "openapi_document", "openapi")
    text = json.dumps(openapi_document(load_app(app)), indent=2)
    if output is None:
        console.result(text)
    else:
        Path(output).write_text(text + "\n", encoding="utf-8")
        console.say(f"Wrote {output}")
    return 0


@cli.command(
    epilog=_example(
        "portable-fn completion bash > ~/.local/share/bash-completion/completions/portable-fn",
        'portable-fn completion zsh > "${fpath[1]}/_portable-fn"',
        "portable-fn completion fish > ~/.config/fish/completions/portable-fn.fish",
    )
)
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_obj
def completion(console: Console, shell: str) -> int:
    """Print the completion script for bash, zsh or fish.

    Source it, or save it where SHELL looks for completions.
    """
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)
    assert complete is not None
    console.result(complete(cli, {}, "portable-fn", COMPLETE_VAR).source())
    return 0


# -- the wiring --------------------------------------------------------------------------------------------


def _load(target: Target, state_dir: str | None = None) -> tuple[App, Provider, str]:
    from .app import load_app
    from .config import load_config
    from .provider import load_provider

    stage = target.stage or next(iter(load_config(Path(target.directory).resolve()).stages))
    app = load_app(target.directory, stage)
    app.config.check_stage(stage, app.root / "pyproject.toml")
    settings = app.config.provider_settings(target.provider, stage)
    provider = load_provider(target.provider, settings, target.endpoint_url)
    provider.check(app)
    if state_dir is not None:  # what `dev --state-dir DIR` kept: the local provider reads DIR
        from .commands.dev_state import use_state_dir

        use_state_dir(provider, state_dir)
    return app, provider, stage


def _optional(module: str, name: str, command: str) -> Any:
    """`module.name`, which another part of portable-fn provides; its absence makes `command` unavailable."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise _unavailable(command, f"{module}.{name}") from None


def _unavailable(command: str, what: str) -> PortableFnError:
    return PortableFnError(
        f"`portable-fn {command}` is unavailable in this installation: {what} is missing. "
        "Upgrade portable-fn (pip install --upgrade portable-fn)."
    )


def _templates() -> dict[str, str]:
    from . import scaffold

    return dict(getattr(scaffold, "TEMPLATES", {}))


@contextlib.contextmanager
def _api_log(console: Console, verbose: bool) -> Iterator[None]:
    """With --verbose, the providers' API-call log on stderr for the duration of the command."""
    if not verbose:
        yield
        return
    logger = logging.getLogger(API_LOGGER)
    handler, level = _ConsoleHandler(console), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: Console) -> None:
        super().__init__(logging.DEBUG)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        self.console.say(record.getMessage(), "dim")


def _guard(
    console: Console, steps: Steps, app: App, provider: str, stage: str, verb: str, yes: bool
) -> Callable[[Plan], None] | None:
    """What checks a plan before it is applied: on a protected stage (and without --yes), a plan that deletes
    or replaces something is confirmed on a terminal, and refused when there is none to ask on."""
    if yes or not app.config.stages[stage].protected:
        return None

    def confirm(plan: Plan) -> None:
        doomed = destroyed(plan)
        if not doomed:
            return
        said = (
            f"`portable-fn {verb}` of {app.name!r} (stage {stage!r}) on {provider} deletes or replaces "
            f"{len(doomed)} resource{'s' if len(doomed) != 1 else ''}, and stage {stage!r} is protected "
            f"(protected = true under [tool.portable-fn.stages.{stage}])"
        )
        again = f"`portable-fn {verb} {app.root} --provider {provider} --stage {stage} --yes`"
        if not sys.stdin.isatty():
            raise Refused(f"{said}. There is no terminal to ask on, so nothing was changed; to go ahead, run {again}.")
        steps.pause()
        for step in doomed:
            console.say(f"  {step.describe()}", "red")
        if not _confirmed(f"{said}. Go ahead?"):
            raise Refused(f"{said}; not confirmed, so nothing was changed.")

    return confirm


def destroyed(plan: Plan) -> list[Step]:
    """The steps of a plan that delete a resource or replace one (an update whose change says "replace:",
    as a plan that moves an Azure app to Flex Consumption does)."""
    return [s for s in plan.steps if s.action == "delete" or any(c.startswith("replace:") for c in s.changes)]


def _confirmed(question: str) -> bool:
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:  # end of input or Ctrl-C at the question
        return False


def _counts(plan: Plan) -> str:
    """What a plan did, in its own counts, for a closing line: "3 created, 45 unchanged"."""
    counts = [
        (plan.count("create"), "created"),
        (plan.count("update"), "updated"),
        (plan.count("delete"), "deleted"),
        (len(plan.unchanged), "unchanged"),
        (len(plan.kept), "kept"),
    ]
    return ", ".join(f"{n} {what}" for n, what in counts if n) or "nothing to change"


def _emit(console: Console, as_json: bool, data: dict[str, Any], text: str) -> None:
    console.result(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


def _function(app: App, name: str) -> FunctionSpec:
    from .runtime.errors import AppLoadError

    try:
        return app.function(name)
    except AppLoadError as exc:
        raise UsageError(str(exc)) from None


def _event(where: str) -> Any:
    """The --event value: a JSON file, or `-` for stdin; one that cannot be read is a usage error."""
    try:
        # with a byte order mark or without (which Windows editors and PowerShell's pipes add)
        raw = sys.stdin.read().removeprefix("\ufeff") if where == "-" else Path(where).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"--event {where}: cannot read it ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise UsageError(f"--event {where}: not UTF-8 text; give a JSON file.") from None
    from .runtime.cloudevent import parse_json  # the reading (and its limits) every cloud's body gets

    try:
        return parse_json(raw)
    except ValueError as exc:
        raise UsageError(f"--event {where}: not valid JSON ({exc}).") from None


def _invoked(provider: Provider, app: App, spec: FunctionSpec, event: Any, stage: str) -> dict[str, Any]:
    """`provider.invoke`, whose failures are errors saying what and what next, never tracebacks."""
    try:
        return provider.invoke(app, spec, event, stage=stage)
    except PortableFnError:
        raise
    except RecursionError:
        raise PortableFnError(f"Invoking {spec.name!r} on {provider.name}: the event is nested too deeply.") from None
    except (OSError, sqlite3.Error) as exc:  # the host's own files (its state), not the event: a handler's are results
        filename, strerror = getattr(exc, "filename", None), getattr(exc, "strerror", None)
        where = f": {filename}" if filename else ""
        raise PortableFnError(
            f"Invoking {spec.name!r} on {provider.name} failed before the event was delivered: {strerror or exc}"
            f"{where}. Check that the path exists and that you may write there (--state-dir names the local "
            "host's state directory)."
        ) from exc
    except Exception as exc:
        raise PortableFnError(
            f"Invoking {spec.name!r} on {provider.name}: the event could not be delivered "
            f"({type(exc).__name__}: {exc}). Pass what a {spec.trigger.kind} trigger receives on "
            f"{provider.name} (see `portable-fn invoke` in the README)."
        ) from exc


def _read_logs(provider: Provider, app: App, stage: str, specs: list[FunctionSpec], since: datetime) -> list[LogEntry]:
    """`provider.read_logs`, whose failures are errors saying what and what next, never tracebacks."""
    try:
        return provider.read_logs(app, stage, specs, since)
    except PortableFnError:
        raise
    except Exception as exc:
        names = ", ".join(repr(s.name) for s in specs)
        why = provider.explain(exc) or f"{type(exc).__name__}: {exc}"
        raise PortableFnError(
            f"Reading the logs of {names} on {provider.name} (stage {stage!r}) failed: {why}"
        ) from exc


def _dead_letters(provider: Provider, app: App, stage: str, spec: FunctionSpec, redrive: bool) -> list[DeadLetterEntry]:
    """`provider.dead_letters`, whose failures are errors saying what and what next, never tracebacks."""
    try:
        return provider.dead_letters(app, stage, spec, redrive)
    except PortableFnError:
        raise
    except Exception as exc:
        why = provider.explain(exc) or f"{type(exc).__name__}: {exc}"
        doing = "Redriving" if redrive else "Reading"
        raise PortableFnError(
            f"{doing} the dead letters of {spec.name!r} on {provider.name} (stage {stage!r}) failed: {why}"
        ) from exc


def _shipped(artifact: dict[str, Any]) -> dict[str, list[str]]:
    """The archive names in each zip of a built artifact (one per function for AWS split packages)."""
    import zipfile

    paths = sorted(z["path"] for z in artifact.get("zips", {}).values()) or [artifact["path"]]
    shipped = {}
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            shipped[path] = sorted(archive.namelist())
    return shipped


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def _add_command_modules() -> None:
    """Import every module of `portable_fn.commands`: each adds its commands to `cli`."""
    import pkgutil

    from . import commands

    for module in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{module.name}")


_add_command_modules()

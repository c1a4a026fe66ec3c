"""The `portable-fn` command line: the composition root where objects are built and wired.

Exit codes: 0 ok, 1 the command failed (the message says where, what and what next), 2 usage error.
Progress goes to stderr; results go to stdout (as JSON with `--json`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .runtime.errors import PortableFnError

PROVIDERS = ("local", "aws", "gcp", "azure")


class UsageError(PortableFnError):
    """A command line that cannot mean one thing: exit code 2, as argparse gives."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by the console script)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"portable-fn: error: {exc}", file=sys.stderr)
        return 2
    except PortableFnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portable-fn",
        description="Write a cloud function once; run it locally, on AWS Lambda, Google Cloud "
                    "Functions and Azure Functions.",
    )
    parser.add_argument("--version", action="version", version=f"portable-fn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    dev = commands.add_parser("dev", help="serve every function of an app on this machine")
    dev.add_argument("app", nargs="?", default=".", help="the app directory (default: .)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=None, help="default: the stage's local port setting, else 8080")
    dev.add_argument("--stage", default=None, help="the stage whose env and local settings apply (default: the first)")
    dev.add_argument("--provider", choices=PROVIDERS[1:], default=None,
                     help="enforce this cloud's size limits (default: the strictest of the clouds the app configures)")
    dev.add_argument("--state-dir", default=None, help="where local buckets, pending messages and dead letters live")
    dev.set_defaults(run=_dev)

    invoke = commands.add_parser("invoke", help="run one function once and print the result as JSON")
    invoke.add_argument("function")
    _common(invoke, json_flag=False)
    invoke.add_argument("--event", required=True, help="a JSON file, or - for stdin")
    invoke.set_defaults(run=_invoke)

    init = commands.add_parser("init", help="create a new app")
    init.add_argument("name", help="the app's name and directory")
    init.set_defaults(run=_init)

    for name, helptext, run in (
        ("package", "build the deployable artifact", _package),
        ("plan", "show what deploy would change (changes nothing)", _plan),
        ("deploy", "package, plan and apply", _deploy),
        ("remove", "delete everything the app created for the stage", _remove),
        ("info", "show URLs and names of what is deployed", _info),
    ):
        sub = commands.add_parser(name, help=helptext)
        _common(sub, json_flag=True)
        if name == "package":
            sub.add_argument("--list", action="store_true", help="show every file that ships, per zip")
        sub.set_defaults(run=run)
    return parser


def _common(sub: argparse.ArgumentParser, json_flag: bool) -> None:
    sub.add_argument("app_dir", nargs="?", metavar="app", help="the app directory (default: .), as for dev")
    sub.add_argument("--app", default=None, help="the app directory, named (the same as the positional app)")
    sub.add_argument("--provider", choices=PROVIDERS, default="local")
    sub.add_argument("--stage", default=None, help="the stage (default: the first declared, e.g. dev)")
    sub.add_argument("--endpoint-url", default=None,
                     help="send the provider's API calls here (an emulator such as moto or LocalStack)")
    if json_flag:
        sub.add_argument("--json", action="store_true", help="print the result as JSON")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load(args: argparse.Namespace) -> tuple[Any, Any, str]:
    from .app import load_app
    from .provider import load_provider

    app = load_app(_app_dir(args))
    stage = args.stage or next(iter(app.config.stages))
    app.config.check_stage(stage, app.root / "pyproject.toml")
    settings = app.config.provider_settings(args.provider, stage)
    provider = load_provider(args.provider, settings, getattr(args, "endpoint_url", None))
    provider.check(app)
    return app, provider, stage


def _app_dir(args: argparse.Namespace) -> str:
    positional, named = args.app_dir, args.app
    if positional is not None and named is not None and Path(positional).resolve() != Path(named).resolve():
        raise UsageError(f"Two app directories were given, {positional!r} and --app {named!r}; give one.")
    return positional or named or "."


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(text)


def _dev(args: argparse.Namespace) -> int:
    from .app import load_app
    from .local.host import LocalHost

    app = load_app(args.app)
    stage = args.stage or next(iter(app.config.stages))
    app.config.check_stage(stage, app.root / "pyproject.toml")
    port = args.port if args.port is not None else int(app.config.provider_settings("local", stage).get("port", 8080))
    state_dir = Path(args.state_dir) if args.state_dir else None
    providers = [args.provider] if args.provider else None
    if args.provider:  # emulating one cloud: refuse what its deploy would refuse, before serving anything
        from .provider import load_provider

        load_provider(args.provider, app.config.provider_settings(args.provider, stage)).check(app)
    LocalHost(app, host=args.host, port=port, state_dir=state_dir, log=_progress, stage=stage,
              providers=providers).serve_forever()
    return 0


def _invoke(args: argparse.Namespace) -> int:
    """Run one function once; stdout holds only the JSON result (what the app prints goes to stderr)."""
    from .provider import invocation_failed

    with contextlib.redirect_stdout(sys.stderr):
        app, provider, stage = _load(args)
        spec = _function(app, args.function)
        event = _event(args.event)
        result = _invoked(provider, app, spec, event, stage)
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 1 if invocation_failed(result) else 0


def _function(app: Any, name: str) -> Any:
    from .runtime.errors import AppLoadError

    try:
        return app.function(name)
    except AppLoadError as exc:
        raise UsageError(str(exc)) from None


def _event(where: str) -> Any:
    """The --event value: a JSON file, or `-` for stdin; one that cannot be read is a usage error."""
    try:
        raw = sys.stdin.read() if where == "-" else Path(where).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--event {where}: cannot read it ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise UsageError(f"--event {where}: not UTF-8 text; give a JSON file.") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"--event {where}: not valid JSON ({exc}).") from None
    except RecursionError:
        raise UsageError(f"--event {where}: the JSON is nested too deeply to read.") from None


def _invoked(provider: Any, app: Any, spec: Any, event: Any, stage: str) -> dict[str, Any]:
    """`provider.invoke`, whose failures are errors saying what and what next, never tracebacks."""
    try:
        result: dict[str, Any] = provider.invoke(app, spec, event, stage=stage)
        return result
    except PortableFnError:
        raise
    except RecursionError:
        raise PortableFnError(f"Invoking {spec.name!r} on {provider.name}: the event is nested too deeply.") from None
    except Exception as exc:
        raise PortableFnError(
            f"Invoking {spec.name!r} on {provider.name}: the event could not be delivered "
            f"({type(exc).__name__}: {exc}). Pass what a {spec.trigger.kind} trigger receives on "
            f"{provider.name} (see `portable-fn invoke` in the README)."
        ) from exc


def _init(args: argparse.Namespace) -> int:
    from .scaffold import create_app

    root = create_app(Path(args.name))
    print(f"Created {root}. Next: portable-fn dev {root}")
    return 0


def _package(args: argparse.Namespace) -> int:
    from .deploy import pipeline

    app, provider, stage = _load(args)
    outcome = pipeline.package(provider, app, stage, _progress)
    assert outcome.artifact is not None
    data, text = outcome.to_dict(), str(outcome.artifact.path)
    if args.list:
        data["shipped"] = _shipped(data["artifact"])
        text = "\n\n".join(f"{path}:\n" + "\n".join(f"  {name}" for name in names)
                           for path, names in data["shipped"].items())
    _emit(args, data, text)
    return 0


def _shipped(artifact: dict[str, Any]) -> dict[str, list[str]]:
    """The archive names in each zip of a built artifact (one per function for AWS split packages)."""
    import zipfile

    paths = sorted(z["path"] for z in artifact.get("zips", {}).values()) or [artifact["path"]]
    shipped = {}
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            shipped[path] = sorted(archive.namelist())
    return shipped


def _plan(args: argparse.Namespace) -> int:
    from .deploy import pipeline

    app, provider, stage = _load(args)
    outcome = pipeline.plan(provider, app, stage, _progress)
    assert outcome.plan is not None
    text = "\n".join([s.describe() for s in outcome.plan.steps] + outcome.plan.kept_lines()
                     + [f"Plan: {outcome.plan.summary()}"])
    _emit(args, outcome.to_dict(), text)
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from .deploy import pipeline

    app, provider, stage = _load(args)
    outcome = pipeline.deploy(provider, app, stage, _progress)
    _emit(args, outcome.to_dict(), _outputs_text(outcome.outputs))
    return 0


def _remove(args: argparse.Namespace) -> int:
    from .deploy import pipeline

    app, provider, stage = _load(args)
    outcome = pipeline.remove(provider, app, stage, _progress)
    assert outcome.plan is not None
    kept = f" Kept {len(outcome.plan.kept)} (shared beyond the app, said above)." if outcome.plan.kept else ""
    _emit(args, outcome.to_dict(), f"Removed {outcome.plan.count('delete')} resources.{kept}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from .deploy import pipeline

    app, provider, stage = _load(args)
    outcome = pipeline.info(provider, app, stage)
    outputs = outcome.outputs or {"functions": {}}
    deployed = bool(outputs.get("functions"))  # every provider lists the deployed functions it finds
    data = {"app": app.name, "provider": provider.name, "stage": stage, "deployed": deployed, "outputs": outputs}
    nothing = (f"Nothing is deployed for app {app.name!r} (stage {stage!r}) on {provider.name}. Deploy it with "
               f"`portable-fn deploy {app.root} --provider {provider.name} --stage {stage}`.")
    _emit(args, data, _outputs_text(outputs) if deployed else nothing)
    return 0


def _outputs_text(outputs: dict[str, Any]) -> str:
    lines = []
    for name, entry in outputs.get("functions", {}).items():
        lines.append(f"{name}: {entry.get('url') or entry.get('trigger')}")
    for key, value in outputs.items():
        if key != "functions":
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`portable-fn check`: the app's policy (`portable_fn.policy`), before any deploy and without a login."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..cli import Target, _api_log, _emit, _example, _json_option, _load, _target_options, _verbose_option, cli
from ..console import Console


@cli.command(
    epilog=_example(
        "portable-fn check",
        "portable-fn check shop --provider aws --stage prod --sarif policy.sarif",
        "portable-fn check --provider gcp --json",
    )
)
@_target_options
@_json_option
@click.option(
    "--sarif",
    "sarif",
    default=None,
    metavar="FILE",
    help="Also write the findings as SARIF 2.1.0 (for CI annotations).",
)
@_verbose_option
@click.pass_obj
def check(console: Console, target: Target, as_json: bool, sarif: str | None, verbose: bool) -> int:
    """Check the app against the team's policy; changes nothing.

    Runs the built-in rules and those of [tool.portable-fn.policy] for the provider and stage, without
    cloud credentials. Exit code 1 when a violation is not waived. APP is the app directory (default: .).
    """
    from ..policy import evaluate, to_sarif
    from ..policy.engine import offline_desired

    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        desired, why = offline_desired(provider, app, stage)
        report = evaluate(provider, app, stage, desired, no_desired=why)
    if sarif is not None:
        Path(sarif).write_text(json.dumps(to_sarif(report, app.root), indent=2) + "\n", encoding="utf-8")
    _emit(console, as_json, report.to_dict(), "\n".join(report.lines()))
    return 0 if report.ok else 1

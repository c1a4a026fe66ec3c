"""`portable-fn history`: who deployed or removed what, and when, from the audit trail (`portable_fn.audit`)."""

from __future__ import annotations

import click

from ..cli import Target, _api_log, _emit, _example, _json_option, _load, _target_options, _verbose_option, cli
from ..console import Console
from .cloud_errors import explained

COLUMNS = ("when", "verb", "who", "digest", "commit", "changes", "outcome")


@cli.command(
    epilog=_example(
        "portable-fn history shop --provider aws --stage prod",
        "portable-fn history --provider gcp --json --limit 5",
        "portable-fn history --provider azure --resend   # write the records a deploy could not",
    )
)
@_target_options
@_json_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many records, newest first.",
)
@click.option(
    "--resend",
    is_flag=True,
    help="First write the records a deploy or remove could not (kept in .portable-fn/audit/).",
)
@_verbose_option
@click.pass_obj
def history(console: Console, target: Target, as_json: bool, limit: int, resend: bool, verbose: bool) -> int:
    """List who deployed or removed the app, what changed and how it ended, newest first.

    Reads the audit trail that deploy and remove keep for the provider and stage (when, who, the plan's
    digest, the git commit, a summary of the changes, the outcome); changes nothing unless --resend.
    APP is the app directory (default: .).
    """
    from .. import audit

    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        with explained(provider, f"Reading the audit trail of {app.name!r} (stage {stage!r}) on {provider.name}"):
            for where in audit.resend(provider, app, stage) if resend else []:
                console.say(f"Wrote {where}")
            store = audit.store_of(provider, app, stage)
            records = audit.history(provider, app, stage)[:limit]
    if as_json:
        data = {"app": app.name, "provider": provider.name, "stage": stage, "where": store.where}
        _emit(console, True, {**data, "records": [r.to_dict() for r in records]}, "")
    elif not records:
        console.result(
            f"No deploy or remove of {app.name!r} (stage {stage!r}) on {provider.name} is recorded in "
            f"{store.where}. `portable-fn deploy` records each one."
        )
    else:
        console.table(COLUMNS, [tuple(r.line()[c] for c in COLUMNS) for r in records])
    return 0

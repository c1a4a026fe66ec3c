"""`portable-fn ci github|gitlab`: a CI/CD pipeline for an existing app (`portable_fn.ci`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..ci import CLOUDS, DEFAULT_BRANCH, SYSTEMS, Pipeline, write_pipeline
from ..cli import _emit, _example, _json_option, cli
from ..console import Console


@cli.command(
    epilog=_example(
        "portable-fn ci github",
        "portable-fn ci gitlab shop --provider aws --provider gcp --stage prod",
        "portable-fn ci github --force --json",
    )
)
@click.argument("system", type=click.Choice(list(SYSTEMS)))
@click.argument("app", default=".", metavar="[APP]")
@click.option(
    "--provider",
    "providers",
    type=click.Choice(CLOUDS),
    multiple=True,
    help="A cloud to plan and deploy to; repeat for more (default: each cloud the app has a table for).",
)
@click.option("--stage", default=None, help="The stage to plan and deploy (default: prod if declared, else the first).")
@click.option("--branch", default=DEFAULT_BRANCH, show_default=True, help="The branch whose pushes deploy.")
@click.option("--force", is_flag=True, help="Replace a pipeline file that exists (kept otherwise).")
@_json_option
@click.pass_obj
def ci(
    console: Console,
    system: str,
    app: str,
    providers: tuple[str, ...],
    stage: str | None,
    branch: str,
    force: bool,
    as_json: bool,
) -> int:
    """Write a CI/CD pipeline for GitHub Actions or GitLab CI.

    Tests on every change; per cloud, check and plan on pull / merge requests and deploy on the main
    branch, each cloud reached through OIDC federation (no stored keys). Prints the variables to set and
    what each cloud must trust. APP is the app directory (default: .).
    """
    pipeline = write_pipeline(Path(app), system, list(providers), stage, branch, force)
    _emit(console, as_json, pipeline.to_dict(), summary(pipeline))
    return 0


def summary(pipeline: Pipeline) -> str:
    """The pipeline written, and what to set up before it runs."""
    clouds = ", ".join(pipeline.providers) or "no cloud"
    return "\n".join([f"Wrote {pipeline.path} ({clouds}, stage {pipeline.stage}).", *pipeline.setup])

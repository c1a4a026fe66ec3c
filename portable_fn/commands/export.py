"""`portable-fn export`: the app as infrastructure as code (`portable_fn.export`), for a team's own pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..cli import Target, _api_log, _emit, _example, _json_option, _load, _target_options, _verbose_option, cli
from ..console import Console

if TYPE_CHECKING:
    from ..app import App
    from ..provider import Provider


@cli.command(
    epilog=_example(
        "portable-fn export shop --provider aws --format cloudformation",
        "portable-fn export --provider aws --format terraform --stage prod --output infra/",
        "portable-fn export --provider gcp --format terraform --json",
    )
)
@_target_options
@click.option(
    "--format",
    "fmt",
    required=True,
    metavar="FORMAT",
    help="What to write: cloudformation (aws) or terraform (aws, gcp, azure).",
)
@click.option(
    "--output",
    "-o",
    default=None,
    metavar="DIR",
    help="Where to write (default: APP/.portable-fn/export/PROVIDER/STAGE/FORMAT/).",
)
@_json_option
@_verbose_option
@click.pass_obj
def export(console: Console, target: Target, fmt: str, output: str | None, as_json: bool, verbose: bool) -> int:
    """Write the app as CloudFormation or Terraform; changes nothing in the cloud.

    Packages the app and writes the resources `deploy` would make for the stage, with the zips they refer
    to, so an existing pipeline can deploy it. Needs no cloud credentials. Prints what it wrote and what
    could not be exported. APP is the app directory (default: .).
    """
    from ..deploy import pipeline
    from ..export import unsupported_format, write_export

    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        if fmt not in provider.export_formats:  # before packaging, which takes a while
            raise unsupported_format(provider.name, fmt, provider.export_formats)
        _names_before_packaging(provider, app, stage)
        with console.steps() as progress:
            artifact = pipeline.package(provider, app, stage, progress).artifact
            assert artifact is not None
            exported = provider.export(app, stage, artifact, fmt)
    directory = Path(output) if output else app.root / ".portable-fn" / "export" / provider.name / stage / fmt
    written = write_export(exported, directory)
    data = {"app": app.name, "stage": stage, "directory": str(directory), **exported.to_dict()}
    lines = [f"Wrote {len(written)} files to {directory}:", *(f"  {p.relative_to(directory)}" for p in written)]
    _emit(console, as_json, data, "\n".join(lines + [f"! {note}" for note in exported.notes]))
    return 0


def _names_before_packaging(provider: Provider, app: App, stage: str) -> None:
    """Name the app's resources, offline, before packaging (which takes a while, and on Azure downloads the
    dependencies): a setting the names need (GCP's project and region, Azure's subscription) is said first."""
    try:
        provider.deployer.names(app, stage)
    except NotImplementedError:
        pass  # a provider plugin whose deployer names nothing up front: its export says what it misses

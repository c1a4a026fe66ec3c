"""`portable-fn token`: a JWT from the dev host's own issuer, for calling `auth=jwt(...)` routes in `dev`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..cli import UsageError, _emit, _example, _json_option, cli
from ..console import Console

if TYPE_CHECKING:
    from ..app import App


@cli.command(
    epilog=_example(
        "portable-fn token shop --sub alice",
        'portable-fn token shop --sub alice --claim org_id=acme --claim scope="orders:read orders:write"',
        'curl -H "Authorization: Bearer $(portable-fn token shop --sub alice)" http://127.0.0.1:8080/orders',
    )
)
@click.argument("app", default=".", metavar="[APP]")
@click.option("--sub", "subject", required=True, help="The token's subject (`sub`): who calls.")
@click.option(
    "--claim",
    "claims",
    multiple=True,
    metavar="NAME=VALUE",
    help="Another claim (repeatable); a VALUE starting with [ or { is read as JSON.",
)
@click.option(
    "--audience",
    default=None,
    help="The token's `aud` (default: the audience the app's jwt() routes declare, when they declare one).",
)
@click.option(
    "--expires",
    type=click.IntRange(min=1, max=30 * 86400),
    default=3600,
    show_default=True,
    metavar="SECONDS",
    help="Seconds until the token expires.",
)
@click.option(
    "--state-dir",
    default=None,
    metavar="DIR",
    help="The dev host's state directory (default: APP/.portable-fn/local), where its issuer's key is.",
)
@_json_option
@click.pass_obj
def token(
    console: Console,
    app: str,
    subject: str,
    claims: tuple[str, ...],
    audience: str | None,
    expires: int,
    state_dir: str | None,
    as_json: bool,
) -> int:
    """Print a token signed by the dev host's issuer, which `portable-fn dev` accepts for jwt() routes.

    Start `portable-fn dev` once first: it makes the issuer's key in its state directory and tells the
    functions to trust it (only in dev, never on a cloud). APP is the app directory (default: .).
    """
    from ..app import load_app
    from ..local.host import dev_state_dir
    from ..local.issuer import LocalIssuer

    loaded = load_app(app)
    given = dict(_claim(text) for text in claims)
    body = {**given, "sub": subject}
    issuer = LocalIssuer(Path(state_dir) if state_dir else dev_state_dir(loaded))
    text = issuer.issue(body, audience or _audience(loaded), expires)
    _emit(console, as_json, {"token": text, "claims": body, "expires_in": expires}, text)
    return 0


def _claim(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--claim {text!r}: write NAME=VALUE, like --claim org_id=acme.")
    if value.startswith(("[", "{")):
        try:
            return name.strip(), json.loads(value)
        except ValueError:
            raise UsageError(f"--claim {text!r}: the value starts like JSON but is not JSON.") from None
    return name.strip(), value


def _audience(app: App) -> str:
    """The one audience the app's jwt() routes declare; a UsageError when there is none or several."""
    from ..runtime.auth import Jwt

    verifiers = [getattr(spec.trigger, "auth", None) for spec in app.functions]
    declared = sorted({a for v in verifiers if isinstance(v, Jwt) for a in v.audiences})
    if len(declared) == 1:
        return declared[0]
    if not declared:
        raise UsageError(
            f"No route of app {app.name!r} declares auth=jwt(...); pass the token's audience with --audience."
        )
    raise UsageError(
        f"The app's jwt() routes declare several audiences ({', '.join(declared)}); choose one with --audience."
    )

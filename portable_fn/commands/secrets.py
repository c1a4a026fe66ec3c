"""`portable-fn secrets set|list|remove`: an app's secret values, kept in the provider's secret store for a
stage (`Provider.secret_store`, `portable_fn.secrets`) and read by the functions that declare them.

A value comes from stdin or a hidden prompt, never from an argument (which shell history and `ps` keep),
and is never printed: the commands show names, versions and when each was set. Locally the store is the
secrets file of the dev host's state directory: the app's own unless `--state-dir` names the one
`portable-fn dev --state-dir` is given.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ..cli import (
    Refused,
    Target,
    UsageError,
    _api_log,
    _confirmed,
    _emit,
    _example,
    _json_option,
    _load,
    _target_options,
    _verbose_option,
    cli,
)
from ..console import Console
from ..secrets import LocalSecretStore
from .cloud_errors import explained
from .dev_state import state_dir_option, use_state_dir

if TYPE_CHECKING:
    from ..app import App
    from ..provider import Provider
    from ..secrets import SecretInfo, SecretStore

COLUMNS = ("name", "declared by", "version", "updated")

_state_dir_option = state_dir_option


@cli.group(
    epilog=_example(
        "portable-fn secrets set stripe-key shop   # asks for the value, twice, without showing it",
        'printf %s "$STRIPE_KEY" | portable-fn secrets set stripe-key shop --provider aws --stage prod',
        "portable-fn secrets list shop --provider gcp --stage prod",
        "portable-fn secrets remove stripe-key --provider azure --stage qa --yes",
    )
)
def secrets() -> None:
    """Set, list and remove the app's secrets on a provider.

    A function reads a secret it declares (`stripe_key = secret("stripe-key")`, `uses=[stripe_key]`) as
    `stripe_key.value`; these commands keep its value in the provider's secret store for a stage (locally,
    in the dev host's state directory). Values are read from stdin or a prompt and never shown.
    """


@secrets.command(
    "set",
    epilog=_example(
        "portable-fn secrets set stripe-key shop   # asks for the value, twice, without showing it",
        'printf %s "$STRIPE_KEY" | portable-fn secrets set stripe-key --provider aws --stage prod',
        "portable-fn secrets set stripe-key shop --provider local --state-dir /tmp/shop-state",
    ),
)
@click.argument("name")
@_target_options
@_state_dir_option
@_verbose_option
@click.pass_obj
def secrets_set(console: Console, target: Target, name: str, state_dir: str | None, verbose: bool) -> int:
    """Set secret NAME's value for the stage: a new version, which functions read within their max_age.

    The value is read from stdin when it is not a terminal (one trailing newline dropped), else asked
    for twice without echo. APP is the app directory (default: .).
    """
    value = _value(name)
    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        _warn_undeclared(console, app, name)
        store = _store(provider, app, stage, state_dir)
        with explained(provider, f"Setting secret {name} of {app.name} on {provider.name} ({stage})"):
            version = store.set(name, value)
    where = f", in {store.path}" if state_dir and isinstance(store, LocalSecretStore) else ""
    console.done(f"Set secret {name} (version {version}) for {app.name} on {provider.name} ({stage}){where}")
    for note in getattr(store, "notes", ()):  # what the store did beside storing (Azure: the app's grant)
        console.say(note)
    return 0


@secrets.command(
    "list",
    epilog=_example(
        "portable-fn secrets list shop --provider aws --stage prod --json",
        "portable-fn secrets list shop --provider local --state-dir /tmp/shop-state",
    ),
)
@_target_options
@_state_dir_option
@_json_option
@_verbose_option
@click.pass_obj
def secrets_list(console: Console, target: Target, state_dir: str | None, as_json: bool, verbose: bool) -> int:
    """List the app's secrets: each one's functions, version and when it was set (never its value).

    A secret some function declares and the store holds no value for is shown as "not set"; one the
    store holds and no function declares, with no function. APP is the app directory (default: .).
    """
    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        store = _store(provider, app, stage, state_dir)
        with explained(provider, f"Listing the secrets of {app.name} on {provider.name} ({stage})"):
            rows = _rows(app, store.list())
    if as_json:
        data = {"app": app.name, "provider": provider.name, "stage": stage, "where": _where(store)}
        _emit(console, True, {**data, "secrets": rows}, "")
    elif not rows:
        console.result(
            f"{app.name!r} declares no secrets and {_where(store)} holds none for {provider.name} (stage {stage!r})."
        )
    else:
        console.table(COLUMNS, [_line(row) for row in rows])
    return 0


@secrets.command(
    "remove",
    epilog=_example(
        "portable-fn secrets remove stripe-key shop --provider gcp --stage qa",
        "portable-fn secrets remove stripe-key --provider aws --stage prod --yes",
    ),
)
@click.argument("name")
@_target_options
@_state_dir_option
@click.option("--yes", "-y", is_flag=True, help="Go ahead without asking (for scripts and CI).")
@_verbose_option
@click.pass_obj
def secrets_remove(console: Console, target: Target, name: str, state_dir: str | None, yes: bool, verbose: bool) -> int:
    """Delete secret NAME, every version of it, from the stage's secret store.

    Asks first on a terminal (--yes skips that); a function that declares it then fails to read it until
    it is set again. APP is the app directory (default: .).
    """
    with _api_log(console, verbose):
        app, provider, stage = _load(target)
        said = f"secret {name} of {app.name} on {provider.name} ({stage})"
        store = _store(provider, app, stage, state_dir)
        if not yes:
            where = f" --state-dir {state_dir}" if state_dir else ""
            again = f"portable-fn secrets remove {name} {app.root} --provider {provider.name} --stage {stage}{where}"
            _confirm_removal(said, f"`{again} --yes`")
        with explained(provider, f"Removing {said}"):
            removed = store.remove(name)
    if removed:
        console.done(f"Removed {said}")
    else:
        console.result(f"No {said} is set; nothing was removed.")
    return 0


def _store(provider: Provider, app: App, stage: str, state_dir: str | None) -> SecretStore:
    """The stage's secret store: the provider's; for `--state-dir`, the secrets file of that dev state
    directory (the one `portable-fn dev --state-dir` reads)."""
    use_state_dir(provider, state_dir)
    return provider.secret_store(app, stage)


def _value(name: str) -> str:
    """The value: stdin when it is not a terminal (piped, redirected), else a hidden prompt, asked twice."""
    stdin = sys.stdin
    if stdin.isatty():
        value = str(click.prompt(f"Value of secret {name}", hide_input=True, confirmation_prompt=True, err=True))
    else:
        value = stdin.read()
        value = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    if not value:
        raise UsageError(
            f"The value of secret {name!r} is empty; give it on stdin "
            f'(printf %s "$VALUE" | portable-fn secrets set {name} ...) or at the prompt.'
        )
    return value


def _warn_undeclared(console: Console, app: App, name: str) -> None:
    declared = sorted(s.name for s in app.secrets)
    if name in declared:
        return
    listed = ", ".join(declared) if declared else "none"
    console.say(
        f"warning: no function of {app.name!r} declares secret {name!r} (declared: {listed}); it is set "
        f"anyway. A function reads it once it declares `secret({name!r})` in its uses=.",
        "yellow",
    )


def _rows(app: App, stored: list[SecretInfo]) -> list[dict[str, Any]]:
    """One row per secret declared or stored, by name: who reads it, its version and when it was set."""
    held = {info.name: info for info in stored}
    declared = {s.name: [f.name for f in app.readers(s)] for s in app.secrets}
    rows = []
    for name in sorted(held.keys() | declared.keys()):
        info = held.get(name)
        rows.append(
            {
                "name": name,
                "declared_by": declared.get(name, []),
                "set": info is not None,
                "version": info.version if info is not None else None,
                "updated": info.updated if info is not None else None,
            }
        )
    return rows


def _line(row: dict[str, Any]) -> tuple[str, str, str, str]:
    version = row["version"] if row["set"] else "not set"
    return row["name"], ", ".join(row["declared_by"]) or "-", str(version or "-"), row["updated"] or "-"


def _where(store: SecretStore) -> str:
    return str(getattr(store, "where", None) or "the provider's secret store")


def _confirm_removal(said: str, again: str) -> None:
    """Ask on a terminal; with none to ask on, refuse (nothing changed) and name the command with --yes."""
    if not sys.stdin.isatty():
        raise Refused(f"Removing {said} needs confirmation and there is no terminal to ask on; run {again}.")
    if not _confirmed(f"Remove {said}? Functions that declare it cannot read it until it is set again."):
        raise Refused(f"Removing {said} was not confirmed; nothing was changed.")

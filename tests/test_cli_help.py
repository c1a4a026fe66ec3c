"""The CLI explains itself: every command and option has help text, every command an example, and
`portable-fn completion SHELL` prints a completion script that completes from what is installed."""

from __future__ import annotations

import os
import subprocess

import click
import pytest

from portable_fn.cli import cli, main

COMMANDS = sorted(cli.commands)


def test_every_command_is_listed() -> None:
    assert COMMANDS == [
        "check",
        "ci",
        "completion",
        "cost",
        "dead-letters",
        "deploy",
        "dev",
        "export",
        "history",
        "info",
        "init",
        "invoke",
        "logs",
        "new",
        "openapi",
        "package",
        "plan",
        "providers",
        "remove",
        "secrets",
        "token",
        "workflows",
    ]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_and_an_example(capsys: pytest.CaptureFixture[str], name: str) -> None:
    command = cli.commands[name]
    assert command.help and command.get_short_help_str(80).strip()
    undocumented = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
    assert undocumented == []
    assert main([name, "--help"]) == 0
    shown = capsys.readouterr().out
    assert f"Usage: portable-fn {name}" in shown
    assert "Examples:\n    portable-fn " in shown  # kept as written, not rewrapped


def test_the_top_level_help_lists_commands_and_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-h"]) == 0
    shown = capsys.readouterr().out
    assert all(f"  {name} " in shown for name in COMMANDS)
    assert "Examples:\n    portable-fn init shop" in shown


@pytest.mark.slow  # runs bash
@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _portable_fn_completion portable-fn"),
        ("zsh", "#compdef portable-fn"),
        ("fish", "complete --no-files --command portable-fn"),
    ],
)
def test_completion_prints_the_script_for_each_shell(
    capsys: pytest.CaptureFixture[str], shell: str, marker: str
) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert marker in script and "_PORTABLE_FN_COMPLETE" in script


@pytest.mark.slow  # the CLI in a process of its own
def test_the_bash_script_loads_in_bash() -> None:
    script = subprocess.run(["portable-fn", "completion", "bash"], capture_output=True, text=True, check=True).stdout
    loaded = subprocess.run(["bash", "-c", script + "\ncomplete -p portable-fn"], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert "_portable_fn_completion" in loaded.stdout


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "tcsh"]) == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in capsys.readouterr().err


def complete(words: str) -> list[str]:
    """What the installed `portable-fn` offers for the last word of `words`, asked as bash asks."""
    parts = words.split(" ")
    env = {
        **os.environ,
        "_PORTABLE_FN_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }
    done = subprocess.run(["portable-fn"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


@pytest.mark.slow  # the CLI in a process of its own
def test_completion_offers_commands_and_the_installed_providers() -> None:
    assert complete("portable-fn pl") == ["plan"]
    assert complete("portable-fn deploy --provider ") == ["aws", "azure", "gcp", "local"]
    assert complete("portable-fn dev --provider ") == ["aws", "azure", "gcp"]  # dev emulates a cloud
    assert complete("portable-fn new x --trigger s") == ["schedule", "storage"]

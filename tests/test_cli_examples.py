"""Every example a command's `--help` shows is a command line that command accepts: its options exist,
its choices are valid (a user copies them as they are)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import click
import pytest

from portable_fn.cli import cli

SHELL_ENDS = {"|", ">", ">>", "&&", "||", ";"}


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def _examples() -> Iterator[tuple[tuple[str, ...], click.Command, list[str]]]:
    for path, command in [((), cli), *_commands(cli)]:
        for line in (command.epilog or "").splitlines():
            text = line.strip()
            if not text.startswith("portable-fn "):
                continue  # a shell line around a command (curl, printf ... |) or the heading
            words = shlex.split(text, comments=True)[1:]
            cut = next((i for i, word in enumerate(words) if word in SHELL_ENDS), len(words))
            yield path, command, words[:cut]


EXAMPLES = list(_examples())


def test_there_are_examples_to_check() -> None:
    assert len(EXAMPLES) > 40


@pytest.mark.parametrize(("path", "command", "words"), EXAMPLES, ids=[" ".join(w) for _, _, w in EXAMPLES])
def test_every_example_parses(path: tuple[str, ...], command: click.Command, words: list[str]) -> None:
    assert words[: len(path)] == list(path), f"an example of `{' '.join(path)}` runs another command: {words}"
    args = words[len(path) :]
    if isinstance(command, click.Group):
        assert args and args[0] in command.commands, f"`portable-fn {' '.join(words)}` names no subcommand"
        return  # the subcommand's own examples are checked as its own
    try:
        command.make_context(" ".join(["portable-fn", *path]), args, obj=None)
    except click.ClickException as exc:
        pytest.fail(f"`portable-fn {' '.join(words)}` is refused: {exc.format_message()}")

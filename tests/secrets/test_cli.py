"""`portable-fn secrets set|list|remove` against the local store, run with click's CliRunner: the value from
stdin (`input=`), never an argument and never printed; declared-but-unset secrets listed as "not set". The
prompts a person answers at a terminal are answered on a pseudo-terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from portable_fn.cli import Refused, UsageError, cli
from portable_fn.console import Console


@dataclass
class Ran:
    exit_code: int
    out: str
    err: str
    exception: BaseException | None


def secrets_cli(*args: str, input: str | None = None) -> Ran:
    """`portable-fn secrets ARGS` with `input` on stdin (not a terminal); stdout and stderr as written."""
    out, err = io.StringIO(), io.StringIO()
    result = CliRunner().invoke(cli, ["secrets", *args], input=input, obj=Console(out, err, env={}))
    return Ran(result.exit_code, out.getvalue(), err.getvalue(), result.exception)


def stored(app: Path, stage: str = "dev") -> dict[str, dict[str, str]]:
    document = json.loads((app / ".portable-fn" / "local" / "secrets.json").read_text())
    return dict(document["stages"].get(stage, {}))


def test_set_reads_the_value_from_stdin_and_never_prints_it(keyed: Path) -> None:
    ran = secrets_cli("set", "stripe-key", str(keyed), input="sk_live_from_stdin\n")
    assert (ran.exit_code, ran.out) == (0, "")
    assert ran.err == "Set secret stripe-key (version 1) for keyed on local (dev)\n"
    assert stored(keyed)["stripe-key"]["value"] == "sk_live_from_stdin"
    ran = secrets_cli("set", "stripe-key", "--app", str(keyed), "--provider", "local", input="sk_live_second")
    assert ran.err == "Set secret stripe-key (version 2) for keyed on local (dev)\n"
    assert stored(keyed)["stripe-key"]["value"] == "sk_live_second"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("a\r\n", "a"), ("a\n\n", "a\n"), ("line one\nline two\n", "line one\nline two"), ("  spaced  ", "  spaced  ")],
)
def test_set_drops_one_trailing_newline_only(keyed: Path, given: str, kept: str) -> None:
    assert secrets_cli("set", "stripe-key", str(keyed), input=given).exit_code == 0
    assert stored(keyed)["stripe-key"]["value"] == kept


def test_set_for_a_stage_keeps_it_apart(keyed: Path) -> None:
    ran = secrets_cli("set", "stripe-key", str(keyed), "--stage", "qa", input="sk_test_qa\n")
    assert ran.err == "Set secret stripe-key (version 1) for keyed on local (qa)\n"
    assert list(stored(keyed, "qa")) == ["stripe-key"] and stored(keyed, "dev") == {}


def test_an_empty_value_is_refused(keyed: Path) -> None:
    ran = secrets_cli("set", "stripe-key", str(keyed), input="\n")
    assert isinstance(ran.exception, UsageError)
    assert str(ran.exception).startswith("The value of secret 'stripe-key' is empty; give it on stdin")
    assert not (keyed / ".portable-fn" / "local" / "secrets.json").exists()


@pytest.mark.slow  # the CLI in a process of its own
def test_an_empty_value_exits_2_as_a_usage_error(keyed: Path) -> None:
    ran = subprocess.run(
        ["portable-fn", "secrets", "set", "stripe-key", str(keyed)], input="", capture_output=True, text=True
    )
    assert (ran.returncode, ran.stdout) == (2, "")
    assert "The value of secret 'stripe-key' is empty" in ran.stderr


def test_a_secret_no_function_declares_is_set_with_a_warning(keyed: Path) -> None:
    ran = secrets_cli("set", "strip-key", str(keyed), input="sk_live_typo\n")
    assert ran.exit_code == 0
    assert ran.err == (
        "warning: no function of 'keyed' declares secret 'strip-key' (declared: stripe-key, webhook-key); it is "
        "set anyway. A function reads it once it declares `secret('strip-key')` in its uses=.\n"
        "Set secret strip-key (version 1) for keyed on local (dev)\n"
    )


def test_list_shows_who_declares_each_secret_and_what_is_not_set(keyed: Path) -> None:
    secrets_cli("set", "stripe-key", str(keyed), input="sk_live_listed\n")
    secrets_cli("set", "stripe-key", str(keyed), input="sk_live_listed_again\n")
    secrets_cli("set", "legacy-key", str(keyed), input="lk_old_value\n")
    ran = secrets_cli("list", str(keyed))
    assert ran.exit_code == 0
    lines = ran.out.splitlines()
    updated = stored(keyed)["stripe-key"]["updated"]
    assert [line.split() for line in lines] == [
        ["NAME", "DECLARED", "BY", "VERSION", "UPDATED"],
        ["legacy-key", "-", "1", stored(keyed)["legacy-key"]["updated"]],
        ["stripe-key", "charge,", "refund", "2", updated],
        ["webhook-key", "webhook", "not", "set", "-"],
    ]
    assert "sk_live" not in ran.out + ran.err and "lk_old" not in ran.out + ran.err


def test_list_as_json(keyed: Path) -> None:
    secrets_cli("set", "stripe-key", str(keyed), input="sk_live_json\n")
    data = json.loads(secrets_cli("list", str(keyed), "--json").out)
    where = keyed / ".portable-fn" / "local" / "secrets.json"
    assert {k: data[k] for k in ("app", "provider", "stage", "where")} == {
        "app": "keyed",
        "provider": "local",
        "stage": "dev",
        "where": f"the local secrets file {where}",
    }
    updated = data["secrets"][0].pop("updated")
    assert updated == stored(keyed)["stripe-key"]["updated"]
    assert data["secrets"] == [
        {"name": "stripe-key", "declared_by": ["charge", "refund"], "set": True, "version": "1"},
        {"name": "webhook-key", "declared_by": ["webhook"], "set": False, "version": None, "updated": None},
    ]


def test_remove_with_yes(keyed: Path) -> None:
    secrets_cli("set", "stripe-key", str(keyed), input="sk_live_gone\n")
    ran = secrets_cli("remove", "stripe-key", str(keyed), "--yes")
    assert ran.err == "Removed secret stripe-key of keyed on local (dev)\n"
    assert stored(keyed) == {}
    ran = secrets_cli("remove", "stripe-key", str(keyed), "-y")
    assert (ran.exit_code, ran.out) == (
        0,
        "No secret stripe-key of keyed on local (dev) is set; nothing was removed.\n",
    )


def test_remove_without_a_terminal_to_confirm_on_changes_nothing(keyed: Path) -> None:
    secrets_cli("set", "stripe-key", str(keyed), input="sk_live_kept\n")
    ran = secrets_cli("remove", "stripe-key", str(keyed))
    assert isinstance(ran.exception, Refused)
    assert str(ran.exception) == (
        "Removing secret stripe-key of keyed on local (dev) needs confirmation and there is no terminal to ask "
        f"on; run `portable-fn secrets remove stripe-key {keyed} --provider local --stage dev --yes`."
    )
    assert stored(keyed)["stripe-key"]["value"] == "sk_live_kept"


def test_every_command_has_help_with_an_example() -> None:
    for command in (["--help"], ["set", "--help"], ["list", "--help"], ["remove", "--help"]):
        ran = secrets_cli(*command)
        assert ran.exit_code == 0
    shown = CliRunner().invoke(cli, ["secrets", "set", "--help"]).output
    assert "Examples:" in shown and "--verbose" in shown and "--stage" in shown


def _converse(argv: list[str], answers: list[tuple[bytes, bytes]], timeout: float = 60.0) -> str:
    """Run `argv` on a pseudo-terminal, answering each prompt (the text that ends it) as a person would;
    everything the terminal showed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    shown = b""
    try:
        for prompt, answer in answers:
            deadline = time.monotonic() + timeout
            while prompt not in shown:
                assert time.monotonic() < deadline, shown
                shown += os.read(controller, 1024)
            os.write(controller, answer)
        process.wait(timeout)
        while True:
            try:
                chunk = os.read(controller, 1024)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    return shown.decode("utf-8", "replace")


@pytest.mark.slow  # the CLI in a process of its own
def test_on_a_terminal_the_value_is_asked_twice_and_not_echoed(keyed: Path) -> None:
    value = b"sk_live_typed_at_the_prompt"
    shown = _converse(
        ["portable-fn", "secrets", "set", "stripe-key", str(keyed)],
        [(b"Value of secret stripe-key: ", value + b"\n"), (b"Repeat for confirmation: ", value + b"\n")],
    )
    assert "Set secret stripe-key (version 1) for keyed on local (dev)" in shown
    assert value.decode() not in shown
    assert stored(keyed)["stripe-key"]["value"] == value.decode()


@pytest.mark.slow  # the CLI in a process of its own
def test_on_a_terminal_remove_asks_first(keyed: Path) -> None:
    secrets_cli("set", "stripe-key", str(keyed), input="sk_live_kept_on_no\n")
    argv = ["portable-fn", "secrets", "remove", "stripe-key", str(keyed)]
    shown = _converse(argv, [(b"[y/N]: ", b"n\n")])
    assert "Remove secret stripe-key of keyed on local (dev)? Functions that declare it cannot read it" in shown
    assert "was not confirmed; nothing was changed" in shown
    assert "stripe-key" in stored(keyed)
    _converse(argv, [(b"[y/N]: ", b"y\n")])
    assert stored(keyed) == {}

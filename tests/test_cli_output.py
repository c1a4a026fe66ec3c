"""What the CLI prints, where: colour, spinners and boxed tables only for a person at a terminal; plain
aligned text through a pipe, with `NO_COLOR` or in CI; a closing line that counts what the plan did."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest

from portable_fn.cli import main
from portable_fn.console import Console, aligned, styled

ANSI = "\x1b["


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a run in a terminal-like setting: no CI or NO_COLOR unless `extra` sets them."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    return {
        **env,
        "PORTABLE_FN_LOCAL_CLOUD": str(tmp_path / "cloud"),
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        **extra,
    }


def on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `argv` with stdout and stderr on a pseudo-terminal; its exit code and everything it wrote."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    written = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        written.append(chunk)
    os.close(controller)
    return process.wait(), b"".join(written).decode("utf-8", "replace")


@pytest.mark.slow  # the CLI in a process of its own
def test_a_terminal_gets_colour_a_spinner_with_the_elapsed_time_and_tables(shop_copy: Path, tmp_path: Path) -> None:
    code, shown = on_a_terminal(["portable-fn", "deploy", str(shop_copy)], environment(tmp_path))
    assert code == 0, shown
    assert ANSI in shown
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", shown)
    assert re.search(r"✓ Packaging 'shop' for local \(stage dev\) +\d+\.\d s", text)  # the settled step
    assert re.search(r"✓ \[19/25\] \+ create local function shop-dev-notify +\d+\.\d s", text)
    assert "┃ function " in text and "│ create_order " in text  # the outputs, boxed


@pytest.mark.slow  # the CLI in a process of its own
@pytest.mark.parametrize("setting", [{"NO_COLOR": "1"}, {"CI": "true"}])
def test_no_color_or_ci_on_a_terminal_is_plain(shop_copy: Path, tmp_path: Path, setting: dict[str, str]) -> None:
    code, shown = on_a_terminal(["portable-fn", "deploy", str(shop_copy)], environment(tmp_path, **setting))
    assert code == 0, shown
    assert ANSI not in shown and "✓" not in shown
    assert "Packaging 'shop' for local (stage dev)\r\n" in shown
    assert re.search(r"^create_order +http +http://127\.0\.0\.1:8080/orders\r$", shown, re.M)


@pytest.mark.slow  # the CLI in a process of its own
def test_piped_output_is_plain_aligned_text(shop_copy: Path, tmp_path: Path) -> None:
    env = environment(tmp_path)
    planned = subprocess.run(["portable-fn", "plan", str(shop_copy)], capture_output=True, text=True, env=env)
    assert planned.returncode == 0, planned.stderr
    assert ANSI not in planned.stdout + planned.stderr
    lines = planned.stdout.splitlines()
    assert lines[0].startswith(f"Target: local directory {tmp_path / 'cloud'}, region local, as ")
    assert lines[1].split() == ["ACTION", "KIND", "NAME", "CHANGES"]
    assert "+ create  local function  shop-dev-create_order" in planned.stdout
    assert lines[-1] == "Plan: 25 to create, 0 to update, 0 to delete, 0 unchanged"
    assert planned.stderr.splitlines()[0] == "Packaging 'shop' for local (stage dev)"

    subprocess.run(["portable-fn", "deploy", str(shop_copy)], capture_output=True, check=True, env=env)
    info = subprocess.run(["portable-fn", "info", str(shop_copy)], capture_output=True, text=True, env=env)
    assert ANSI not in info.stdout + info.stderr
    assert info.stdout.splitlines()[:3] == [
        "FUNCTION         TRIGGER   URL",
        "place_order-run  queue",
        "create_order     http      http://127.0.0.1:8080/orders",
    ]
    assert info.stdout.splitlines()[-1] == f"serve: portable-fn dev {shop_copy}"


def test_deploy_and_remove_close_with_what_the_plan_counted(
    capsys, shop_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTABLE_FN_LOCAL_CLOUD", str(tmp_path / "cloud"))
    closing = r"Deployed shop \(dev\) to local in \d+\.\d s: "
    assert main(["deploy", str(shop_copy)]) == 0
    assert re.search(closing + "25 created$", capsys.readouterr().err, re.M)
    assert main(["deploy", str(shop_copy), "--json"]) == 0
    assert re.search(closing + "25 unchanged$", capsys.readouterr().err, re.M)
    assert main(["remove", str(shop_copy)]) == 0
    out, err = capsys.readouterr()
    assert out == "Removed 25 resources.\n"  # stdout as before; the closing line is on stderr
    assert re.search(r"Removed shop \(dev\) from local in \d+\.\d s: 25 deleted$", err, re.M)
    assert main(["remove", str(shop_copy)]) == 0
    assert re.search(r"from local in \d+\.\d s: nothing to change$", capsys.readouterr().err, re.M)


class Stream(io.StringIO):
    """A text stream that says whether it is a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "env", "expected"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),  # no-color.org: set and not empty
        (True, {"CI": "true"}, False),
    ],
)
def test_styled_only_for_a_terminal_without_no_color_or_ci(tty: bool, env: dict[str, str], expected: bool) -> None:
    assert styled(Stream(tty), env) is expected


def test_plain_steps_are_the_messages_as_lines() -> None:
    err = Stream(False)
    console = Console(out=Stream(False), err=err, env={})
    with console.steps() as progress:
        progress("[1/2] + create queue orders")
        progress("[2/2] + create function fulfil")
    assert err.getvalue() == "[1/2] + create queue orders\n[2/2] + create function fulfil\n"


def test_aligned_pads_columns_and_leaves_no_trailing_blanks() -> None:
    assert aligned(("name", "url"), [("a", ""), ("long-name", "http://x")]) == (
        "NAME       URL\na\nlong-name  http://x"
    )

"""End to end in `dev`: `portable-fn secrets set` stores a value, `portable-fn dev` (a subprocess, as a user
runs it) serves the function that declares it, the handler sees the value and a new one set while dev runs,
and nothing the dev host prints holds either value."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_cli import secrets_cli

FIRST = "sk_live_DevServesThisValue0001"
SECOND = "sk_live_DevServesTheRotated0002"
BANNER = re.compile(r"portable-fn dev: app '[^']+' on (http://127\.0\.0\.1:\d+) ")


class Dev:
    """`portable-fn dev APP --port 0 --no-reload`, its output in a file."""

    def __init__(self, app: Path, output: Path) -> None:
        self.output = output
        with output.open("wb") as out:
            self.process = subprocess.Popen(
                ["portable-fn", "dev", str(app), "--port", "0", "--no-reload"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},
            )

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def url(self, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while (found := BANNER.search(self.text())) is None:
            assert self.process.poll() is None, f"portable-fn dev exited:\n{self.text()}"
            assert time.monotonic() < deadline, f"no banner after {timeout} s:\n{self.text()}"
            time.sleep(0.05)
        return found.group(1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()


@pytest.fixture
def dev(keyed: Path, tmp_path: Path) -> Iterator[Dev]:
    running = Dev(keyed, tmp_path / "dev.log")
    yield running
    running.stop()


def call(url: str, method: str = "POST") -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=b"{}" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


@pytest.mark.slow
def test_dev_serves_the_value_set_to_the_handler_and_never_prints_it(keyed: Path, dev: Dev) -> None:
    assert secrets_cli("set", "stripe-key", str(keyed), input=FIRST + "\n").exit_code == 0
    base = dev.url()

    assert call(base + "/charge") == (200, {"sha256": hashlib.sha256(FIRST.encode()).hexdigest(), "version": "1"})
    assert secrets_cli("set", "stripe-key", str(keyed), input=SECOND).exit_code == 0
    assert call(base + "/charge") == (200, {"sha256": hashlib.sha256(SECOND.encode()).hexdigest(), "version": "2"})
    assert call(base + "/webhook")[0] == 500  # declared, never set
    assert call(base + "/peek", "GET")[0] == 500  # set, but not declared by `peek`
    assert call(base + "/_local/queues/refunds")[0] == 202
    deadline = time.monotonic() + 60
    while "refund [queue]" not in dev.text():
        assert time.monotonic() < deadline, dev.text()
        time.sleep(0.05)
    dev.stop()

    shown = dev.text()
    assert FIRST not in shown and SECOND not in shown
    assert shown.count("charging with [secret stripe-key]") == 4, shown
    assert "ValueError: card declined for key [secret stripe-key]" in shown
    assert "`portable-fn secrets set webhook-key --provider local --stage dev`" in shown
    assert "Function 'peek' uses secret('stripe-key') without declaring it" in shown
    assert "-> retry: ValueError: refund refused for key [secret stripe-key]" in shown
    assert "\nValueError: refund refused for key [secret stripe-key]" in shown  # the traceback's last line

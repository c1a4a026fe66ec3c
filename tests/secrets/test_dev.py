"""End to end in `dev`: `portable-fn secrets set` stores a value, `portable-fn dev` (a subprocess, as a user
runs it) serves the function that declares it, the handler sees the value and a new one set while dev runs,
and nothing the dev host prints holds either value."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..dev_process import DevProcess, wait_for
from .test_cli import secrets_cli

FIRST = "sk_live_DevServesThisValue0001"
SECOND = "sk_live_DevServesTheRotated0002"


@pytest.fixture
def dev(keyed: Path, tmp_path: Path) -> Iterator[DevProcess]:
    """`portable-fn dev APP --port 0 --no-reload`, its state where `secrets set` writes (the app's own)."""
    running = DevProcess(keyed, None, tmp_path / "dev.log", env={"NO_COLOR": "1"})
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
def test_dev_serves_the_value_set_to_the_handler_and_never_prints_it(keyed: Path, dev: DevProcess) -> None:
    assert secrets_cli("set", "stripe-key", str(keyed), input=FIRST + "\n").exit_code == 0
    base = dev.url()

    assert call(base + "/charge") == (200, {"sha256": hashlib.sha256(FIRST.encode()).hexdigest(), "version": "1"})
    assert secrets_cli("set", "stripe-key", str(keyed), input=SECOND).exit_code == 0
    assert call(base + "/charge") == (200, {"sha256": hashlib.sha256(SECOND.encode()).hexdigest(), "version": "2"})
    assert call(base + "/webhook")[0] == 500  # declared, never set
    assert call(base + "/peek", "GET")[0] == 500  # set, but not declared by `peek`
    assert call(base + "/_local/queues/refunds")[0] == 202
    wait_for(lambda: "refund [queue]" in dev.text(), what="the refund's retry in the dev log")
    dev.stop()

    shown = dev.text()
    assert FIRST not in shown and SECOND not in shown
    assert shown.count("charging with [secret stripe-key]") == 4, shown
    assert "ValueError: card declined for key [secret stripe-key]" in shown
    assert "`portable-fn secrets set webhook-key --provider local --stage dev`" in shown
    assert "Function 'peek' uses secret('stripe-key') without declaring it" in shown
    assert "-> retry: ValueError: refund refused for key [secret stripe-key]" in shown
    assert "\nValueError: refund refused for key [secret stripe-key]" in shown  # the traceback's last line

"""The suite lets Ctrl-C stop what it starts, also when the run itself was started with SIGINT ignored."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from .conftest import ctrl_c_works_in_children


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """This process as a run started in the background of a script finds it: SIGINT ignored."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def child_sigint() -> str:
    """What a child interpreter finds for SIGINT: "ignored", or "Ctrl-C" (Python's KeyboardInterrupt)."""
    probe = (
        "import signal; handler = signal.getsignal(signal.SIGINT); "
        "print('Ctrl-C' if handler is signal.default_int_handler "
        "else 'ignored' if handler == signal.SIG_IGN else handler)"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.slow  # starts an interpreter
@pytest.mark.usefixtures("sigint_ignored")
def test_a_child_of_a_run_started_with_sigint_ignored_stops_on_ctrl_c() -> None:
    assert child_sigint() == "ignored"  # what every `portable-fn dev` the suite starts would find
    ctrl_c_works_in_children()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert child_sigint() == "Ctrl-C"


@pytest.mark.usefixtures("sigint_ignored")
def test_a_handler_already_set_is_kept() -> None:
    def mine(signum: int, frame: object) -> None:
        pass

    signal.signal(signal.SIGINT, mine)
    ctrl_c_works_in_children()
    assert signal.getsignal(signal.SIGINT) is mine

"""`portable-fn dead-letters FUNCTION --provider local [--redrive] [--json]` end to end: the dev host's
dead letters listed with their reason and attempts, and sent back to their function, through the running
host's API or, with no host running, from its journal (delivered by the next `portable-fn dev`).

The app is a private copy of tests/local/apps/stateful, whose `gated` function dead-letters every event
until its gate is opened (a counter set over HTTP)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.local.host import LocalHost
from portable_fn.local.journal import Journal

from .local.conftest import Client

STATEFUL = Path(__file__).resolve().parent / "local" / "apps" / "stateful"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(STATEFUL, tmp_path / "stateful", ignore=shutil.ignore_patterns(".portable-fn")))


@pytest.fixture
def host(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], LocalHost]]:
    """Start a dev host on the app's default state dir (the one `dead-letters` reads); stopped at teardown."""
    started: list[LocalHost] = []

    def start() -> LocalHost:
        monkeypatch.delitem(sys.modules, "local_stateful", raising=False)
        running = LocalHost(load_app(app_dir), port=0, log=lambda line: None, retry_backoff_s=0.02)
        started.append(running.start())
        return running

    yield start
    for running in started:
        running.stop()


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return value


def dead_lettered(running: LocalHost) -> str:
    """Send one event to `gated` (gate closed) and wait for its dead letter; its id."""
    [event_id] = Client(running.url).request("POST", "/_local/queues/gated", json_body={"n": 1}).json()["ids"]
    wait_for(lambda: running.dead_letters.entries("gated"), "the dead letter")
    return str(event_id)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_dead_letters_are_listed_and_redriven_through_the_running_host(
    capsys: pytest.CaptureFixture[str], host: Callable[[], LocalHost], app_dir: Path
) -> None:
    running = host()
    event_id = dead_lettered(running)

    code, out, _ = cli(capsys, "dead-letters", "gated", str(app_dir), "--json")
    assert code == 0
    listed = json.loads(out)
    assert (listed["function"], listed["provider"], listed["stage"]) == ("gated", "local", "dev")
    [entry] = listed["dead_letters"]
    assert (entry["function"], entry["id"], entry["reason"], entry["attempts"]) == (
        "gated",
        event_id,
        "the gate is closed",
        1,
    )
    assert entry["where"] == f"{running.url}/_local/dead-letters" and entry["redriven"] is False
    assert entry["event"]["deadletterreason"] == "the gate is closed"

    code, out, _ = cli(capsys, "dead-letters", "gated", str(app_dir))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "ATTEMPTS", "TIME", "REASON"]
    assert lines[1].startswith(f"{event_id}  ") and lines[1].endswith("the gate is closed")
    assert lines[-1] == f"1 dead letter of 'gated' on local (stage 'dev'), in {running.url}/_local/dead-letters."

    Client(running.url).request("POST", "/count/open")
    code, out, _ = cli(capsys, "dead-letters", "gated", str(app_dir), "--redrive", "--json")
    assert code == 0
    [redriven] = json.loads(out)["dead_letters"]
    assert (redriven["id"], redriven["redriven"]) == (event_id, True)
    wait_for(lambda: not running.journal.counts(), "the redriven event delivered")
    seen = Client(running.url).request("GET", f"/count/passed-{event_id}").json()
    assert seen == {"count": []}  # delivered as first sent: no dead-letter extensions
    code, out, _ = cli(capsys, "dead-letters", "gated", str(app_dir))
    assert (code, out.strip()) == (0, "No dead letters for 'gated' on local (stage 'dev').")


def test_with_no_host_running_the_journal_is_read_and_redriven_for_the_next_dev(
    capsys: pytest.CaptureFixture[str], host: Callable[[], LocalHost], app_dir: Path
) -> None:
    first = host()
    event_id = dead_lettered(first)
    Client(first.url).request("POST", "/count/open")
    first.stop()
    journal = app_dir / ".portable-fn" / "local" / "journal.sqlite3"

    code, out, _ = cli(capsys, "dead-letters", "gated", str(app_dir), "--json")
    [entry] = json.loads(out)["dead_letters"]
    assert code == 0 and (entry["id"], entry["where"], entry["attempts"]) == (event_id, str(journal), 1)

    code, out, _ = cli(capsys, "dead-letters", "gated", str(app_dir), "--redrive")
    assert (
        code == 0
        and out.splitlines()[-1] == "1 dead letter of 'gated' on local (stage 'dev'), sent back to its trigger."
    )
    with Journal(journal) as kept:
        assert kept.dead_letters() == []
        [pending] = kept.pending("gated")
    assert (pending.event.id, pending.attempt, pending.event.extensions) == (event_id, 1, {})

    again = host()
    wait_for(lambda: not again.journal.counts(), "the redriven event delivered by the next host")
    assert Client(again.url).request("GET", f"/count/passed-{event_id}").json() == {"count": []}


def test_other_functions_dead_letters_are_left_alone(
    capsys: pytest.CaptureFixture[str], host: Callable[[], LocalHost], app_dir: Path
) -> None:
    running = host()
    dead_lettered(running)
    code, out, _ = cli(capsys, "dead-letters", "noted", str(app_dir), "--redrive", "--json")
    assert code == 0 and json.loads(out)["dead_letters"] == []
    assert len(running.dead_letters.entries("gated")) == 1


def test_an_unknown_function_is_a_usage_error(capsys: pytest.CaptureFixture[str], app_dir: Path) -> None:
    code, _, err = cli(capsys, "dead-letters", "ghost", str(app_dir))
    assert code == 2 and "ghost" in err and "gated" in err


def test_an_app_never_served_has_no_dead_letters(capsys: pytest.CaptureFixture[str], app_dir: Path) -> None:
    code, out, _ = cli(capsys, "dead-letters", "gated", str(app_dir))
    assert (code, out.strip()) == (0, "No dead letters for 'gated' on local (stage 'dev').")
    assert not (app_dir / ".portable-fn").exists()


def test_an_http_function_has_no_dead_letters_to_ask_for(capsys: pytest.CaptureFixture[str], app_dir: Path) -> None:
    code, _, err = cli(capsys, "dead-letters", "count", str(app_dir))
    assert code == 2 and "'count' is http-triggered and answers its callers, so it has no dead letters" in err


def test_a_state_dir_held_without_a_url_says_to_try_again(app_dir: Path) -> None:
    from portable_fn.local.letters import dead_letters
    from portable_fn.local.lock import StateLock
    from portable_fn.runtime.errors import ProviderError

    state_dir = app_dir / ".portable-fn" / "local"
    held = StateLock(state_dir)
    held.acquire("")  # what a dev host starting, or another reader, holds
    try:
        with pytest.raises(ProviderError, match=r"is held by process \d+ .*run the command again"):
            dead_letters(state_dir, "gated")
    finally:
        held.release()

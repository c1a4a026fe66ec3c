"""Reloading under the dev host: a host started with reload=True on a copy of apps/reloading, whose
reload_demo/functions.py the tests replace by a version from data/reload/ (the one with a syntax error is
kept as .py.txt, so linters pass over it).

Nothing here waits a fixed time: each test polls (`wait_for`) for what the reload must bring."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.local.reload import SourceWatcher, ship_rules, watched_files

from .conftest import LOCAL_APPS, Running

VERSIONS = Path(__file__).resolve().parent / "data" / "reload"
Wait = Callable[..., Any]


@pytest.fixture
def app_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(LOCAL_APPS / "reloading", tmp_path / "reloading"))


@pytest.fixture
def running(start_host: Callable[..., Running], app_copy: Path) -> Running:
    return start_host(app_copy, reload=True)


def edit(app: Path, version: str) -> Path:
    """Replace the app's module by `version`; the path of the file changed."""
    module = app / "reload_demo" / "functions.py"
    shutil.copyfile(VERSIONS / version, module)
    return module


def answered_version(running: Running) -> int | None:
    reply = running.client.request("GET", "/version")
    return reply.json()["version"] if reply.status == 200 else None


def logged(running: Running, text: str) -> str | None:
    return next((line for line in list(running.logs) if text in line), None)


def pending(running: Running, queue: str) -> list[dict[str, Any]]:
    return running.client.request("GET", f"/_local/queues/{queue}").json()["pending"]  # type: ignore[no-any-return]


def received(running: Running) -> list[dict[str, Any]]:
    """The RECEIVED records of the module serving now."""
    return running.host.app.function("work").handler.__globals__["RECEIVED"]  # type: ignore[no-any-return]


@pytest.mark.slow  # waits for the watcher's polls to see each edit
def test_the_next_request_after_a_change_sees_the_new_code(running: Running, app_copy: Path, wait_for: Wait) -> None:
    assert answered_version(running) == 1
    edit(app_copy, "functions_v2.py")
    wait_for(lambda: answered_version(running) == 2, what="version 2 answering")
    wait_for(lambda: logged(running, "reloaded 4 functions in "), what="the reload in the log")
    assert running.client.request("GET", "/added").json() == {"added": True}


@pytest.mark.slow  # waits for the watcher's polls to see each edit
def test_a_message_retrying_across_the_reload_is_delivered_to_the_new_code(
    running: Running, app_copy: Path, wait_for: Wait
) -> None:
    assert running.client.request("POST", "/_local/queues/jobs", json_body={"job": 7}).status == 202
    wait_for(lambda: any(p["attempt"] >= 2 for p in pending(running, "jobs")), what="version 1 asking again")
    edit(app_copy, "functions_v2.py")
    records = wait_for(lambda: received(running), what="version 2 doing the job")
    assert records[0]["job"] == {"job": 7}
    assert records[0]["attempt"] >= 2  # the same message, kept in the journal across the reload
    assert running.client.request("GET", "/_local/dead-letters").json() == []


@pytest.mark.slow  # waits for the watcher's polls to see each edit
@pytest.mark.parametrize(
    ("version", "line", "says"),
    [
        ("functions_syntax_error.py.txt", 14, "SyntaxError"),
        ("functions_bad_declaration.py", 12, "path"),
    ],
)
def test_a_broken_edit_keeps_the_old_code_serving_until_it_is_fixed(
    running: Running, app_copy: Path, wait_for: Wait, version: str, line: int, says: str
) -> None:
    module = edit(app_copy, version)
    failure = wait_for(lambda: logged(running, "reload failed"), what="the failed reload in the log")
    assert f"{module}" in failure and f"{line}" in failure and says in failure, failure
    assert answered_version(running) == 1
    edit(app_copy, "functions_v2.py")
    wait_for(lambda: answered_version(running) == 2, what="version 2 answering once fixed")


@pytest.mark.slow  # waits for the watcher's polls to see each edit
def test_functions_added_and_removed_are_picked_up(running: Running, app_copy: Path, wait_for: Wait) -> None:
    assert running.client.request("POST", "/_local/topics/news", json_body={"n": 1}).status == 404
    edit(app_copy, "functions_v2.py")
    wait_for(lambda: logged(running, "listen: added (topic)"), what="the reload in the log")
    assert running.client.request("POST", "/_local/schedules/tick/fire").status == 404
    assert running.client.request("POST", "/_local/topics/news", json_body={"n": 1}).status == 202
    wait_for(lambda: {"news": {"n": 1}} in received(running), what="the new topic subscriber's delivery")
    names = [f["name"] for f in running.client.request("GET", "/_local/functions").json()]
    assert names == ["version", "work", "added", "listen"]
    assert logged(running, "tick: removed")


@pytest.mark.slow  # waits for the watcher's polls to see each edit
def test_a_trigger_change_that_strands_messages_is_said_in_the_log(
    running: Running, app_copy: Path, wait_for: Wait
) -> None:
    assert running.client.request("POST", "/_local/queues/jobs", json_body={"job": 1}).status == 202
    edit(app_copy, "functions_work_is_http.py")
    note = wait_for(lambda: logged(running, "work: now http-triggered"), what="the reload in the log")
    assert "1 pending message(s) stay in journal.sqlite3" in note
    assert running.host.journal.counts() == {"work": 1}
    assert running.client.request("POST", "/work").json() == {"worked": True}


def test_without_reload_a_change_is_not_picked_up(start_host: Callable[..., Running], app_copy: Path) -> None:
    running = start_host(app_copy)
    assert running.host.source_watcher is None
    edit(app_copy, "functions_v2.py")
    assert answered_version(running) == 1


@pytest.mark.slow  # waits for the watcher's polls to see each edit
def test_a_module_written_after_the_import_that_needs_it_is_picked_up(
    running: Running, app_copy: Path, wait_for: Wait
) -> None:
    edit(app_copy, "functions_imports_helpers.py")
    failure = wait_for(lambda: logged(running, "reload failed"), what="the failed reload in the log")
    assert "reload_demo.helpers" in failure and "functions.py:7" in failure, failure
    shutil.copyfile(VERSIONS / "helpers.py", app_copy / "reload_demo" / "helpers.py")
    wait_for(lambda: answered_version(running) == 5, what="version 5 answering")


def test_the_files_watched_are_the_ones_that_ship_and_pyproject(app_copy: Path) -> None:
    (app_copy / "tests").mkdir()
    (app_copy / "tests" / "test_version.py").write_text("def test_nothing():\n    pass\n")
    (app_copy / ".portable-fn" / "local").mkdir(parents=True)
    (app_copy / ".portable-fn" / "local" / "journal.sqlite3").write_bytes(b"")
    (app_copy / "reload_demo" / "prices.json").write_text("{}")
    app = load_app(app_copy)
    watched = {str(p.relative_to(app_copy)) for p in watched_files(app, ship_rules(app))}
    assert watched == {
        "pyproject.toml",
        "reload_demo/__init__.py",
        "reload_demo/functions.py",
        "reload_demo/prices.json",
    }


class SavingHost:
    """A host whose swap saves a new file of the app, as an editor saving during a reload would."""

    def __init__(self, app: App, saved: Path) -> None:
        self.app, self.saved = app, saved

    def swap_app(self, app: App) -> list[str]:
        if not self.saved.exists():
            shutil.copyfile(VERSIONS / "helpers.py", self.saved)
        self.app = app
        return []


def test_a_file_saved_while_the_app_loads_is_a_change_of_its_own(app_copy: Path) -> None:
    host, logs = SavingHost(load_app(app_copy), app_copy / "reload_demo" / "helpers.py"), []
    watcher = SourceWatcher(host, logs.append)
    watcher.watch()
    edit(app_copy, "functions_v2.py")
    assert [watcher.poll() for _ in range(5)] == [False, True, False, True, False]  # each: settle, reload
    assert "(reload_demo/helpers.py changed)" in logs[-1]

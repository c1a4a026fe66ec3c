"""Starting and stopping the local dev host."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from portable_fn.app import load_app
from portable_fn.local.host import LocalHost
from portable_fn.runtime.errors import PortableFnError

WORKERS = Path(__file__).resolve().parent / "apps" / "workers"


def test_the_context_manager_serves_then_stops_every_thread(tmp_path: Path) -> None:
    logs: list[str] = []
    before = set(threading.enumerate())
    with LocalHost(load_app(WORKERS), port=0, state_dir=tmp_path, log=logs.append) as host:
        assert host.port != 0 and host.url == f"http://127.0.0.1:{host.port}"
        with urllib.request.urlopen(host.url + "/items/1", timeout=5) as reply:
            assert reply.status == 200
        assert (tmp_path / "buckets" / "inbox").is_dir()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(host.url + "/items/1", timeout=5)
    deadline = time.monotonic() + 2  # a request thread may still be closing its socket
    while (leftover := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert leftover == set()
    assert logs[0].startswith("portable-fn dev: app 'workers' on http://127.0.0.1:")


def test_a_port_in_use_says_what_to_do(tmp_path: Path) -> None:
    app = load_app(WORKERS)
    with LocalHost(app, port=0, state_dir=tmp_path, log=lambda line: None) as first:
        second = LocalHost(app, port=first.port, state_dir=tmp_path, log=lambda line: None)
        with pytest.raises(PortableFnError, match=f"cannot listen on 127.0.0.1:{first.port}.*--port 0"):
            second.start()


def test_a_host_that_is_not_an_address_of_this_machine_says_which_to_give(tmp_path: Path) -> None:
    host = LocalHost(load_app(WORKERS), host="192.0.2.1", port=0, state_dir=tmp_path, log=lambda line: None)
    with pytest.raises(
        PortableFnError, match=r"cannot listen on 192\.0\.2\.1:0 .*--host must be an address"
    ) as refused:
        host.start()
    assert "another dev host" not in str(refused.value)


def test_the_state_dir_defaults_to_the_app_folder() -> None:
    app = load_app(WORKERS)
    assert LocalHost(app, port=0).state_dir == WORKERS / ".portable-fn" / "local"


CTRL_C_ON_ANOTHER_THREAD = """
import linecache, signal, sys, threading, time
from pathlib import Path
from portable_fn.app import load_app
from portable_fn.local.host import LocalHost

def ctrl_c_once_the_host_waits():
    main = threading.main_thread().ident
    while True:  # until the main thread sleeps in serve_forever's loop
        frame = sys._current_frames().get(main)
        if frame is not None and "time.sleep" in linecache.getline(frame.f_code.co_filename, frame.f_lineno):
            break
        time.sleep(0.01)
    # What the kernel does under load: Ctrl-C lands on some other thread of the process, not the main one.
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)

threading.Thread(target=ctrl_c_once_the_host_waits, daemon=True).start()
LocalHost(load_app(Path(sys.argv[1])), port=0, state_dir=Path(sys.argv[2]), log=print).serve_forever()
"""


@pytest.mark.slow  # a host in a process of its own
def test_ctrl_c_stops_the_host_whichever_thread_the_kernel_hands_it_to(tmp_path: Path) -> None:
    # The main thread slept an hour at a time: Ctrl-C taken by a busy server thread waited for it to wake.
    import signal
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_ON_ANOTHER_THREAD, str(WORKERS), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,  # far past the half second it waits for; the old host would have slept for an hour
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert "portable-fn dev: stopping" in done.stdout, done.stdout + done.stderr


def test_two_http_functions_on_one_route_are_said_in_the_banner() -> None:
    """dev listed both on one URL and served the first: now the banner says so (a cloud decides for itself)."""
    from portable_fn.local.host import route_clashes
    from portable_fn.runtime import Request, function, http

    @function(trigger=http("GET", "/items/{item_id}"), name="first")
    def first(request: Request) -> dict:  # type: ignore[type-arg]
        return {}

    @function(trigger=http("GET", "/items/{id}"), name="second")
    def second(request: Request) -> dict:  # type: ignore[type-arg]
        return {}

    specs = [first.__portable_fn__, second.__portable_fn__]  # type: ignore[attr-defined]
    assert route_clashes(specs) == [
        "'first' and 'second' are both on GET /items/{id}: dev serves only 'first'; give each its own method or path"
    ]
    assert route_clashes(specs[:1]) == []

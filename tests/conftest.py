"""Shared fixtures: paths to the repository, its sample and the test apps; the suite's bytecode cache and
hypothesis profile; the `registry` marker, which skips a test that needs PyPI or npm when that registry
cannot be reached; the `slow` marker, which `pytest -m "not slow"` leaves out for a fast inner loop."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import urllib.request
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from .app_copy import copy_app


def use_bytecode_cache(cache: Path, environ: MutableMapping[str, str]) -> None:
    """Keep bytecode in `cache`, for this interpreter and every one it starts.

    This machine's environment (like many CI images) sets PYTHONDONTWRITEBYTECODE, so every interpreter the
    suite starts (each xdist worker, `portable-fn`, the runtimes behind the emulators) would compile all it
    imports, and pytest would rewrite the assertions of every test module again on each run: about a third of
    the fast loop's CPU. A bytecode cache outside the checkout (Python's `PYTHONPYCACHEPREFIX`, which pytest's
    assertion rewriting honours too) writes nothing next to the sources, which is what that setting is there
    for. Python trusts a cached .pyc on its source's mtime in seconds and size, like any `__pycache__`: code
    that rewrites a module and imports it again within a second drops the .pyc first (`dev`'s reload does).
    A prefix already set is kept; PORTABLE_FN_TEST_BYTECODE=0 turns the cache off. When a run starts, the
    mirror of each temporary directory that is gone (tests' own apps and virtualenvs of earlier runs) is
    cleared, so the cache stays the size of the environment's code; a directory that still exists may be
    another run's, going on beside this one (two nox sessions), and keeps its mirror."""
    if environ.get("PORTABLE_FN_TEST_BYTECODE") == "0":
        return
    prefix = environ.setdefault("PYTHONPYCACHEPREFIX", str(cache))
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if "PYTEST_XDIST_WORKER" not in environ:  # the run's first process, before any worker starts
        prune_mirror(Path(prefix), Path(tempfile.gettempdir()).resolve())
    sys.pycache_prefix, sys.dont_write_bytecode = prefix, False


def prune_mirror(prefix: Path, real: Path, depth: int = 3) -> None:
    """Remove what `prefix` mirrors under `real` whose directory no longer exists, `depth` levels down
    (`/tmp/pytest-of-USER/pytest-N/...`: pytest keeps the last three runs' directories)."""
    mirror = prefix.joinpath(*real.parts[1:])
    if depth == 0 or not mirror.is_dir():
        return
    for cached in mirror.iterdir():
        if (real / cached.name).is_dir():
            prune_mirror(prefix, real / cached.name, depth - 1)
        else:
            shutil.rmtree(cached, ignore_errors=True)


use_bytecode_cache(Path(__file__).resolve().parent.parent / ".pytest_cache" / "pycache", os.environ)


def ctrl_c_works_in_children() -> None:
    """Let Ctrl-C (SIGINT) stop the programs the suite starts, as it does for a user at a terminal.

    A run started in the background of a script (`python -m pytest &`, as some CI runners and `setsid` start
    it) inherits SIGINT ignored, and an ignored signal stays ignored across `exec` into every process the
    suite starts: each `portable-fn dev` a test stops with Ctrl-C then ran on until the test killed it 30 s
    later (eight such tests took 4 of a run's 25 minutes). Any handler other than "ignore" in this process
    becomes the default in a child, so the suite puts back Python's own."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


ctrl_c_works_in_children()

# The suite must pass on a busy machine: no deadlines, no timing health checks, and a fixed seed so a
# run is repeatable (a failure prints its example and `@reproduce_failure` blob). The database is off
# so a run leaves nothing behind in the checkout.
settings.register_profile(
    "suite",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.load_profile("suite")
# The fast loop (`pytest -m "not slow"`) tries 10 examples where a property test sets no number of its own,
# as hypothesis's documentation suggests for development; the whole suite tries its default 100.
settings.register_profile("fast", parent=settings.get_profile("suite"), max_examples=10)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many workers `-n auto` (the suite's default) starts: three for every two cores.

    Much of the suite waits (on the emulators, the runtimes and the CLIs it starts, and on the servers it
    talks to), so one worker per core left a quarter of the CPU idle: on the 2-core machine, two workers
    ran the suite in ~1,180 s with the cores 66% busy, three in ~980 s with them 94% busy. More would only
    queue for the cores. PYTEST_XDIST_AUTO_NUM_WORKERS, xdist's own setting, still wins."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + cores // 2


def pytest_configure(config: pytest.Config) -> None:
    if "not slow" in (config.getoption("markexpr", None) or ""):
        settings.load_profile("fast")
        _watching["fast loop"] = True


DEFAULT_REGISTRIES = {"pypi": "https://pypi.org/simple/", "npm": "https://registry.npmjs.org/"}
# Fixtures that download from a registry: a test using one (directly or not) is marked `registry(...)`.
REGISTRY_FIXTURES = {
    "real_wheel_cache": "pypi",  # real `pip download` of manylinux wheels (AWS, Azure packaging)
    "real_pin_cache": "pypi",  # real pip resolver pinning the shop (GCP packaging)
    "shop_task": "pypi",  # the shop's Lambda zip with its real wheels (AWS data plane)
    "sdk2_path": "pypi",  # the cloudevents 2.x SDK, installed beside the 1.x one
    "azurite": "npm",  # Azurite, installed from npm once per cache
}


# Fixtures that start a server or a runtime in another process: a test using one is marked `slow`, as is
# a test marked `registry` (a real download). A test slow for another reason says so: `@pytest.mark.slow`.
SLOW_FIXTURES = {
    "moto_endpoint",  # moto's server (AWS deploy)
    "azurite",  # Azurite under Node (Azure deploy)
    "pubsub_emulator",  # gcloud's Pub/Sub emulator under Java
    "firestore_emulator",  # gcloud's Firestore emulator under Java
    "storage_emulator",  # gcp-storage-emulator (GCP deploy)
    "lambda_function",  # the real awslambdaric client, one process per function
    "dev_process",  # `portable-fn dev` as a process of its own (tests/local/conftest.py)
    "runners",  # every cloud's runner for the portability contract, each behind its emulator
}
# What a test not marked `slow` may start: git answers `rev-parse` in milliseconds (deploy records the commit).
FAST_PROGRAMS = {"git"}
# The standard library's own probes of the machine (`uname -p`, `file`, `ldconfig -p`), run once per process by
# whichever test first asks: `platform` and `ctypes.util` start them, not the test.
_STDLIB = Path(sysconfig.get_paths()["stdlib"])
STDLIB_PROBES = {str(_STDLIB / "platform.py"), str(_STDLIB / "ctypes" / "util.py")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        for fixture in fixtures & REGISTRY_FIXTURES.keys():
            item.add_marker(pytest.mark.registry(REGISTRY_FIXTURES[fixture]))
        if fixtures & SLOW_FIXTURES or item.get_closest_marker("registry"):
            item.add_marker(pytest.mark.slow)


# A process started by a test (an interpreter, `portable-fn`, a server) costs it a second or more, so a test
# that starts one is `slow`. The audit hook sees every process the test's own thread starts, its fixtures'
# included; a test not marked `slow` that starts one fails, naming it. Other threads are not watched: one
# left running by an earlier test must not fail this one. Only in the fast loop (`-m "not slow"`), which is
# what the rule keeps fast: in the whole suite a cache filled on first use (a fresh CI machine's) may start a
# process in whichever test asks first, and that costs the whole run nothing.
_watched: list[list[str]] = []  # the processes the running test has started
_watching: dict[str, bool] = {"on": False, "fast loop": False}


def _audit(event: str, args: tuple[object, ...]) -> None:
    if not _watching["on"] or threading.current_thread() is not threading.main_thread():
        return
    if event == "subprocess.Popen":
        argv = args[1] if isinstance(args[1], (list, tuple)) else [args[1]]
        program = Path(os.fsdecode(args[0] or argv[0])).name  # type: ignore[arg-type]
        if program not in FAST_PROGRAMS and not _started_by_a_stdlib_probe():
            _watched.append([str(a) for a in argv])
    elif event in ("os.system", "os.posix_spawn", "os.fork", "os.forkpty") and not _inside_popen():
        _watched.append([event, *(str(a) for a in args[:1])])


def _inside_popen() -> bool:
    """Whether the process is being started by `subprocess.Popen`, already counted by its own event (from
    Python 3.13 Popen starts many programs with os.posix_spawn)."""
    return sys._getframe(2).f_code.co_filename == subprocess.__file__


def _started_by_a_stdlib_probe() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename in STDLIB_PROBES:
            return True
        frame = frame.f_back
    return False


sys.addaudithook(_audit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        outcome = yield  # a test that fails anyway keeps its own failure
    finally:
        started, _watching["on"] = list(_watched), False
    if started:
        shown = "; ".join(" ".join(argv)[:120] for argv in started[:3])
        pytest.fail(
            f"this test is not marked slow but started {len(started)} process(es): {shown}. A process costs the"
            " fast loop (`pytest -m 'not slow'`) a second or more: mark the test `@pytest.mark.slow  # <what it"
            " starts>` (or its module: `pytestmark = pytest.mark.slow`), or add the fixture that starts it to"
            " SLOW_FIXTURES in tests/conftest.py.",
            pytrace=False,
        )
    return outcome


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test marked `registry("pypi")` / `registry("npm")`, before its fixtures download anything,
    when that registry does not answer. Then start watching for processes the test starts (see `_audit`)."""
    _watched.clear()
    _watching["on"] = _watching["fast loop"] and item.get_closest_marker("slow") is None
    for mark in item.iter_markers("registry"):
        problem = registry_problem(mark.args[0])
        if problem:
            pytest.skip(problem)


@functools.cache
def registry_problem(name: str) -> str | None:
    """Why the registry `name` cannot be used from here, or None when it answers (asked once per run)."""
    url = _registry_url(name)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=15):
            return None
    except Exception as exc:  # any failure means the same: this test cannot run here
        return f"needs the {name} registry ({url}), which cannot be reached from here: {exc}"


def _registry_url(name: str) -> str:
    if name == "pypi":
        return os.environ.get("PIP_INDEX_URL") or DEFAULT_REGISTRIES["pypi"]
    if name == "npm" and shutil.which("npm"):
        found = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True, check=False)
        return found.stdout.strip() or DEFAULT_REGISTRIES["npm"]
    return DEFAULT_REGISTRIES[name]


REPO = Path(__file__).resolve().parent.parent
APPS = Path(__file__).resolve().parent / "apps"
# The test apps are inputs: their own tests and conftest.py (which packaging must leave out) are not ours.
collect_ignore = ["apps"]


@pytest.fixture(autouse=True)
def _process_state_restored() -> Iterator[None]:
    """What a test changes of this process's root logger and publisher is put back after it: a shim loaded with a
    cloud's variables set configures logging for that cloud (JSON lines on every root handler, its level,
    `logs.configure_deployed`), and a function that sent an event under a cloud's PORTABLE_FN_PROVIDER keeps that
    cloud's publisher (`channels.publisher`). The tests after it on this worker inherited both, whatever order
    pytest-randomly gives them."""
    import logging

    from portable_fn.runtime import channels

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    formatters = [handler.formatter for handler in handlers]
    publisher = channels.use_publisher(None)
    channels.use_publisher(publisher)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
    for handler, formatter in zip(handlers, formatters):
        handler.setFormatter(formatter)
    channels.use_publisher(publisher)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shop_dir() -> Path:
    return REPO / "samples" / "shop"


@pytest.fixture
def apps() -> Path:
    return APPS


@pytest.fixture
def shop_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of samples/shop (deploys write into the app directory), data kept in tmp."""
    target = copy_app(REPO / "samples" / "shop", tmp_path)
    monkeypatch.setenv("SHOP_DATA_DIR", str(tmp_path / "shop-data"))
    return target

"""`portable-fn init`, as a new user runs it: the app's own tests pass with a plain `pytest`, its local state is
ignored by git, and what its handlers log shows in `portable-fn dev`. Every template (`create_app`) and a
function of every trigger kind added by `new_function` loads, is served by the dev host and passes its own
generated test."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.local.host import LocalHost
from portable_fn.runtime.errors import ConfigError
from portable_fn.runtime.function import FunctionSpec
from portable_fn.scaffold import TEMPLATES, TRIGGERS, BadName, create_app, new_function

PYTEST = Path(sys.executable).parent / "pytest"  # the console script of this environment


def init(where: Path, name: str = "demo") -> Path:
    created = subprocess.run(["portable-fn", "init", name], cwd=where, capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    return where / name


def clean_env() -> dict[str, str]:
    """The environment without this repository's traces (no PYTHONPATH, no pytest options)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}


@pytest.mark.slow  # runs pytest or dev in a process of its own
def test_a_plain_pytest_passes_in_the_new_app(tmp_path: Path) -> None:
    app = init(tmp_path)
    ran = subprocess.run(
        [str(PYTEST), "-q", "-p", "no:cacheprovider"], cwd=app, capture_output=True, text=True, env=clean_env()
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "3 passed" in ran.stdout


@pytest.mark.slow  # the CLI in a process of its own
def test_git_ignores_the_local_state(tmp_path: Path) -> None:
    app = init(tmp_path)
    lines = (app / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".portable-fn/" in lines and "__pycache__/" in lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: object, what: str, limit_s: float = 120) -> None:
    """Poll `check()` until it is true; the limit only bounds a hang, it is not a speed requirement."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {limit_s} s")


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.slow  # runs pytest or dev in a process of its own
def test_the_handlers_logger_lines_show_in_dev(tmp_path: Path) -> None:
    app, port, log = init(tmp_path), free_port(), tmp_path / "dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(
            ["portable-fn", "dev", str(app), "--port", str(port), "--state-dir", str(tmp_path / "state")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )
    try:
        wait_for(lambda: answers(port) or dev.poll() is not None, "portable-fn dev listening")
        assert dev.poll() is None, log.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello/world", timeout=30) as response:
            assert response.status == 200
        wait_for(lambda: "greeting world" in log.read_text(errors="replace"), "the logger line in the dev log", 30)
    finally:
        dev.terminate()
        dev.wait(timeout=30)


# -- templates and new functions, served by the dev host ---------------------------------------------


def run_tests(app: Path) -> subprocess.CompletedProcess[str]:
    """The app's own suite, as its user runs it: a plain `pytest -v` in the app's directory."""
    return subprocess.run(
        [str(PYTEST), "-v", "-p", "no:cacheprovider"], cwd=app, capture_output=True, text=True, env=clean_env()
    )


def trigger_once(host: LocalHost, spec: FunctionSpec) -> None:
    """Send one function one input, through the host as `portable-fn dev` serves it."""
    trigger: Any = spec.trigger
    if trigger.kind == "http":
        path = re.sub(r"\{[^}]+\}", "x", trigger.path)
        request = urllib.request.Request(host.url + path, method=trigger.method)
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
    elif trigger.kind in ("queue", "topic"):
        body = json.dumps({"id": "1", "items": 1}).encode()
        host.publish(trigger.kind, trigger.name, {"content-type": "application/json"}, body)
    elif trigger.kind == "schedule":
        host.fire(spec.name)
    else:
        key = f"{trigger.prefix}{spec.name}{trigger.suffix}"
        host.put_object(trigger.bucket, key, b"some bytes")
        if trigger.on == "deleted":  # once the watcher has seen it created
            polls = host.watcher.polls
            wait_for(lambda: host.watcher.polls >= polls + 3, f"the bucket watcher seeing {key}")
            host.delete_object(trigger.bucket, key)


def served(app_dir: Path, state: Path) -> list[str]:
    """Serve the app on a free port, trigger each function once; each one's log line."""
    app, logs = load_app(app_dir), []
    with LocalHost(app, port=0, state_dir=state, log=logs.append, retry_backoff_s=0.02) as host:
        for spec in app.functions:
            trigger_once(host, spec)
            outcome = "-> 200" if spec.trigger.kind == "http" else "-> ack"
            wait_for(
                lambda: any(f" {spec.name} [" in line and outcome in line for line in logs),  # noqa: B023
                f"{spec.name} answering {outcome}",
                60,
            )
    return [line for line in logs if " -> " in line]


@pytest.mark.slow  # runs pytest or dev in a process of its own
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_loads_is_served_and_passes_its_own_tests(tmp_path: Path, template: str) -> None:
    app = create_app(tmp_path / "demo-app", template)
    assert served(app, tmp_path / "state")
    ran = run_tests(app)
    assert ran.returncode == 0 and " passed" in ran.stdout, ran.stdout + ran.stderr
    readme = (app / "README.md").read_text()
    assert "portable-fn dev" in readme and "portable-fn new" in readme


@pytest.mark.slow  # runs pytest or dev in a process of its own
def test_new_function_adds_each_trigger_kind_with_a_test_that_passes(tmp_path: Path) -> None:
    app = create_app(tmp_path / "demo-app")
    for trigger in TRIGGERS:
        written = new_function(app, f"on_{trigger}", trigger)
        assert written == [
            app / "demo_app" / f"on_{trigger}.py",
            app / "tests" / f"test_on_{trigger}.py",
            app / "pyproject.toml",
        ]
    kinds = {spec.name: spec.trigger.kind for spec in load_app(app).functions}
    assert {f"on_{t}": t for t in TRIGGERS}.items() <= kinds.items()
    ran = run_tests(app)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for trigger in TRIGGERS:
        assert re.search(rf"tests/test_on_{trigger}.py::\S+ PASSED", ran.stdout), ran.stdout
    assert len(served(app, tmp_path / "state")) == len(kinds)


@pytest.mark.slow  # runs pytest in a process of its own
def test_a_function_whose_name_starts_with_test_is_not_collected_as_a_test(tmp_path: Path) -> None:
    app = create_app(tmp_path / "demo-app")
    new_function(app, "testimonials", "http")  # imported by its test module, where pytest looks for test*
    ran = run_tests(app)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "tests/test_testimonials.py::test_testimonials_answers PASSED" in ran.stdout, ran.stdout


def test_new_function_keeps_the_rest_of_pyproject_as_it_was(tmp_path: Path) -> None:
    app = create_app(tmp_path / "demo-app")
    pyproject = app / "pyproject.toml"
    text = pyproject.read_text()
    listed = 'modules = [\n    "demo_app.functions",  # the API\n]'
    pyproject.write_text(text.replace('modules = ["demo_app.functions"]', listed))
    new_function(app, "resize", "storage")
    assert pyproject.read_text() == text.replace(
        'modules = ["demo_app.functions"]', listed.replace("\n]", '\n    "demo_app.resize",\n]')
    )


@pytest.mark.parametrize(
    ("name", "ends"),
    [
        ("Resize", "the cloud function). Try 'resize'."),
        ("make-thumbnail", "the cloud function). Try 'make_thumbnail'."),
        ("Make  Thumbnail!", "the cloud function). Try 'make_thumbnail'."),
        ("Über-Résumé", "the cloud function). Try 'uber_resume'."),
        ("2nd-pass", "the cloud function)."),  # no name close enough starts with a letter
        ("Class", "the cloud function)."),  # "class" is a keyword
        ("Hello", "the cloud function)."),  # the app's function "hello" has that name already
    ],
)
def test_a_bad_function_name_is_answered_with_the_name_meant_when_there_is_one(
    tmp_path: Path, name: str, ends: str
) -> None:
    app = create_app(tmp_path / "demo-app")
    with pytest.raises(BadName) as refused:
        new_function(app, name, "queue")
    assert str(refused.value).endswith(ends)


@pytest.mark.parametrize(
    ("name", "ends"),
    [("Bad_Name", "Try 'bad-name'."), ("My Shop 2", "Try 'my-shop-2'."), ("2shop", "(it names every cloud resource).")],
)
def test_a_bad_app_name_is_answered_with_the_name_meant_when_there_is_one(tmp_path: Path, name: str, ends: str) -> None:
    with pytest.raises(BadName) as refused:
        create_app(tmp_path / name)
    assert str(refused.value).endswith(ends)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "trigger", "says"),
    [
        ("hello", "http", "already has a function named 'hello' (demo_app/functions.py:"),
        ("Resize", "queue", "Function name 'Resize' is invalid"),
        ("make-thumbnail", "queue", "Function name 'make-thumbnail' is invalid"),
        ("class", "queue", "not a Python keyword (it names the module, the handler and the cloud function)."),
        ("resize", "email", "There is no trigger 'email'; choose one of http, queue, topic, schedule, storage"),
    ],
)
def test_new_function_refuses_a_name_in_use_or_a_bad_one_and_writes_nothing(
    tmp_path: Path, name: str, trigger: str, says: str
) -> None:
    app = create_app(tmp_path / "demo-app")
    before = sorted(p.relative_to(app) for p in app.rglob("*"))
    pyproject = (app / "pyproject.toml").read_text()
    with pytest.raises(ConfigError) as refused:
        new_function(app, name, trigger)
    assert says in str(refused.value)
    assert sorted(p.relative_to(app) for p in app.rglob("*")) == before
    assert (app / "pyproject.toml").read_text() == pyproject


def test_new_function_refuses_a_function_named_by_name_and_a_module_that_exists(tmp_path: Path) -> None:
    app = create_app(tmp_path / "demo-app")
    new_function(app, "resize", "queue")
    with pytest.raises(ConfigError, match="already has a function named 'resize'"):
        new_function(app, "resize", "http")
    (app / "demo_app" / "notes.py").write_text("NOTES = []\n")
    with pytest.raises(ConfigError, match=r"notes\.py already exists; choose another function name"):
        new_function(app, "notes", "http")


@pytest.mark.parametrize("given", [".", ".."])
def test_init_of_a_path_that_names_no_directory_asks_for_the_apps_name(given: str) -> None:
    with pytest.raises(BadName) as refused:
        create_app(Path(given))
    assert str(refused.value) == (
        f"init creates a new directory named after the app, and {given!r} names none: give the app's name, like "
        "`portable-fn init my-app`."
    )


def test_an_unknown_template_lists_the_ones_there_are(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="There is no template 'flask'; choose one of api, queue-worker"):
        create_app(tmp_path / "demo-app", "flask")
    assert not (tmp_path / "demo-app").exists()

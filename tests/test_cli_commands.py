"""The commands wired to other parts of portable-fn: `init --template`, `new`, `openapi`, and `dev`'s
`--reload/--no-reload`, each run against the real part it calls."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from portable_fn.cli import _optional, main
from portable_fn.runtime.errors import PortableFnError
from portable_fn.scaffold import TEMPLATES


def test_init_help_lists_the_templates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--help"]) == 0
    shown = capsys.readouterr().out
    assert "Templates:" in shown and all(name in shown for name in TEMPLATES)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_init_writes_the_chosen_template(capsys, tmp_path: Path, template: str) -> None:
    target = tmp_path / "my-app"
    assert main(["init", str(target), "--template", template]) == 0
    assert capsys.readouterr().out == f"Created {target}. Next: portable-fn dev {target}\n"
    assert 'app = "my-app"' in (target / "pyproject.toml").read_text()


def test_an_unknown_template_is_a_usage_error_listing_them(capsys, tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "my-app"), "--template", "blog"]) == 2
    err = capsys.readouterr().err
    assert "'blog' is not a template; choose one of " + ", ".join(sorted(TEMPLATES)) in err
    assert not (tmp_path / "my-app").exists()


@pytest.mark.slow  # the CLI in a process of its own
def test_new_adds_a_function_and_prints_the_files_written(capsys, tmp_path: Path) -> None:
    app = tmp_path / "photos"
    assert main(["init", str(app)]) == 0
    capsys.readouterr()
    assert main(["new", "resize", str(app), "--trigger", "storage"]) == 0
    written = [Path(line) for line in capsys.readouterr().out.splitlines()]
    assert written and all(path.is_file() for path in written)
    assert any(path.name == "test_resize.py" for path in written)
    planned = subprocess.run(["portable-fn", "plan", str(app), "--json"], capture_output=True, text=True)
    assert planned.returncode == 0, planned.stderr
    names = [s["name"] for s in json.loads(planned.stdout)["plan"]["steps"]]
    assert "photos-dev-resize" in names


def test_new_needs_a_known_trigger(capsys, tmp_path: Path) -> None:
    assert main(["new", "resize", str(tmp_path), "--trigger", "email"]) == 2
    assert "'email' is not one of 'http', 'queue', 'topic', 'schedule', 'storage'" in capsys.readouterr().err


def test_openapi_prints_the_document_or_writes_it(capsys, shop_copy: Path, tmp_path: Path) -> None:
    assert main(["openapi", str(shop_copy)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["openapi"].startswith("3.1") and "/orders" in document["paths"]
    target = tmp_path / "openapi.json"
    assert main(["openapi", str(shop_copy), "--output", str(target)]) == 0
    assert json.loads(target.read_text()) == document
    assert capsys.readouterr().out == ""


def test_a_part_that_is_missing_makes_its_command_unavailable() -> None:
    with pytest.raises(PortableFnError) as missing:
        _optional("portable_fn.scaffold", "no_such_function", "new")
    assert str(missing.value).startswith(
        "`portable-fn new` is unavailable in this installation: portable_fn.scaffold.no_such_function is missing."
    )


def dev_output(app: Path, state: Path, *flag: str, until: str) -> list[str]:
    """What `portable-fn dev` logs up to a line holding `until` (after a request has been served), then
    up to its exit on Ctrl-C."""
    dev = subprocess.Popen(
        ["portable-fn", "dev", str(app), "--port", "0", "--state-dir", str(state), *flag],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert dev.stdout is not None
    seen: list[str] = []
    try:
        for line in dev.stdout:
            seen.append(line)
            if found := re.match(r"portable-fn dev: app '\S+' on (http://\S+) ", line):
                with pytest.raises(urllib.error.HTTPError):
                    urllib.request.urlopen(found.group(1) + "/nope", timeout=30)
            if all(any(marker in said for said in seen) for marker in (until, " GET /nope -> 404")):
                break
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            rest, _ = dev.communicate(timeout=120)
        except subprocess.TimeoutExpired:  # never hang the suite on a host that does not stop
            dev.kill()
            rest, _ = dev.communicate()
    return seen + rest.splitlines(keepends=True)


@pytest.mark.slow  # `portable-fn dev` in a process of its own
def test_dev_reloads_by_default(tmp_path: Path) -> None:
    app = tmp_path / "watched"
    assert subprocess.run(["portable-fn", "init", str(app)], capture_output=True).returncode == 0
    seen = dev_output(app, tmp_path / "state", until="  reloading when a file of the app changes")
    assert f"  reloading when a file of the app changes ({app})\n" in seen, "".join(seen)


@pytest.mark.slow  # `portable-fn dev` in a process of its own
def test_dev_with_no_reload_does_not_watch(tmp_path: Path) -> None:
    """The host logs that it watches before it has started, and `stopping` only once started; so a run
    that got to `stopping` without the watcher's line did not watch. (Ctrl-C while it was still starting,
    which can happen, gives no answer: that run is tried again.)"""
    app = tmp_path / "watched"
    assert subprocess.run(["portable-fn", "init", str(app)], capture_output=True).returncode == 0
    for attempt in range(5):
        seen = dev_output(app, tmp_path / f"state-{attempt}", "--no-reload", until=" GET /nope -> 404")
        if "portable-fn dev: stopping\n" in seen:
            break
    assert "portable-fn dev: stopping\n" in seen, "".join(seen)
    assert not [line for line in seen if "reloading when" in line]

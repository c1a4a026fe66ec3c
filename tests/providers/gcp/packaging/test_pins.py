"""Pinning the app's dependencies for Cloud Functions: pip's report read right, cached, errors that help."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp._pins import Target, cache_key, pinned, pins_from_report, pip_resolve
from portable_fn_gcp.packaging import FUNCTIONS_FRAMEWORK, build_package

from portable_fn.app import load_app
from portable_fn.runtime.errors import DeployError

DATA = Path(__file__).with_name("data")


def test_a_pip_report_becomes_one_sorted_pin_per_distribution() -> None:
    """Golden: a real `pip install --dry-run --report` (trimmed to the fields pip's report has for
    each install) and the pins it gives."""
    report = json.loads((DATA / "pip-report-shop.json").read_text())
    expected = (DATA / "pip-report-shop.pins.txt").read_text().splitlines()
    assert pins_from_report(report) == expected


def test_a_direct_reference_stays_a_direct_reference() -> None:
    url = "https://example.invalid/wheels/tinydep-1.0-py3-none-any.whl"
    report = {
        "install": [
            {"metadata": {"name": "TinyDep", "version": "1.0"}, "is_direct": True, "download_info": {"url": url}}
        ]
    }
    assert pins_from_report(report) == [f"tinydep @ {url}"]


def test_pins_are_resolved_once_per_requirement_set_and_python(
    tmp_path: Path, load_test_app: Any, fake_resolve: Any
) -> None:
    notes: list[str] = []
    app = load_test_app("tiny")
    first = build_package(app, "dev", tmp_path / "a", notes.append, cache_dir=tmp_path / "cache", resolve=fake_resolve)
    again = build_package(app, "dev", tmp_path / "b", notes.append, cache_dir=tmp_path / "cache", resolve=fake_resolve)
    assert len(fake_resolve.calls) == 1 and first.sha256 == again.sha256
    assert fake_resolve.calls[0] == (("tinydep==1.0", FUNCTIONS_FRAMEWORK), Target("3.12"))
    assert any("from the cache" in note for note in notes)
    pinned(["tinydep==1.0", FUNCTIONS_FRAMEWORK], Target("3.11"), tmp_path / "cache", fake_resolve, notes.append)
    pinned(["tinydep==1.1"], Target("3.12"), tmp_path / "cache", fake_resolve, notes.append)
    assert len(fake_resolve.calls) == 3


def test_the_cache_key_ignores_order_but_not_versions() -> None:
    target = Target("3.11")
    assert cache_key(["a", "b"], target) == cache_key(["b", "a"], target)
    assert cache_key(["a"], target) != cache_key(["a"], Target("3.12"))
    assert cache_key(["a==1"], target) != cache_key(["a==2"], target)


def test_the_platforms_reach_the_runtimes_glibc() -> None:
    assert Target("3.11").platforms[0] == "manylinux2014_x86_64"
    assert Target("3.11").platforms[-1] == "manylinux_2_35_x86_64"
    assert Target("3.13").platforms[-1] == "manylinux_2_39_x86_64"


@pytest.mark.registry("pypi")  # the real pip resolver reads PyPI
def test_real_pip_pins_the_shop_for_python_311() -> None:
    pins = pip_resolve(["pydantic>=2.5", FUNCTIONS_FRAMEWORK], Target("3.11"))
    names = {pin.split("==")[0] for pin in pins}
    assert {"pydantic", "pydantic-core", "functions-framework", "flask", "werkzeug"} <= names
    assert FUNCTIONS_FRAMEWORK in pins and all("==" in pin for pin in pins)


@pytest.mark.registry("pypi")  # the real pip resolver reads PyPI
def test_a_version_that_does_not_exist_names_the_package_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as caught:
        pip_resolve(["pydantic==0.0.0.1"], Target("3.11"))
    message = str(caught.value)
    assert "'pydantic==0.0.0.1'" in message and "CPython 3.11 on Linux x86_64" in message
    assert re.search(r"the newest versions that have one: 2\.\d+", message)
    assert "Fix the requirement's version" in message


@pytest.mark.registry("pypi")  # the real pip finds no wheel on PyPI
def test_a_package_without_a_wheel_is_refused_when_packaging(tmp_path: Path) -> None:
    """docopt is published as a source distribution only; nothing is cached or written."""
    app_dir = shutil.copytree(Path(__file__).with_name("apps") / "reqfile", tmp_path / "app")
    (app_dir / "requirements.txt").write_text("docopt==0.6.2\n")
    with pytest.raises(DeployError) as caught:
        build_package(load_app(app_dir), "dev", tmp_path / "out", lambda m: None, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith("Packaging 'reqfile' for gcp: No wheel of 'docopt==0.6.2'")
    assert "no wheel of it at all" in message and "use an alternative that publishes wheels" in message
    assert not (tmp_path / "out").exists() and not list((tmp_path / "cache").glob("*.json"))

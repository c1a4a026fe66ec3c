"""Dependencies are wheels for Lambda's platform, never for this machine, and are downloaded once.

The tests that read PyPI use the real `pip download`; the others pass a fake pip and count its calls.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws._wheels import Target, cache_key, check_fits
from portable_fn_aws.packaging import build_package

from portable_fn.runtime.errors import DeployError

SO = re.compile(r"^pydantic_core/_pydantic_core\.(.+)\.so$")


def wheel_tags(archive: zipfile.ZipFile) -> dict[str, list[str]]:
    """`Tag:` lines of every `.dist-info/WHEEL` in the zip, by distribution directory."""
    return {
        name.split("/")[0]: [line[5:] for line in archive.read(name).decode().splitlines() if line.startswith("Tag: ")]
        for name in archive.namelist()
        if name.endswith(".dist-info/WHEEL")
    }


def test_pydantic_core_is_the_manylinux_cp311_x86_64_build(
    shop_dir: Path, tmp_path: Path, real_wheel_cache: Path, load_test_app: Any
) -> None:
    from portable_fn.app import load_app

    artifact = build_package(load_app(shop_dir), "dev", tmp_path, lambda m: None, cache_dir=real_wheel_cache)
    with zipfile.ZipFile(artifact.path) as archive:
        extensions = [n for n in archive.namelist() if n.endswith(".so")]
        tags = wheel_tags(archive)
    assert [SO.match(n).group(1) for n in extensions if SO.match(n)] == ["cpython-311-x86_64-linux-gnu"]
    assert len(extensions) == 1
    core = next(tags[d] for d in tags if d.startswith("pydantic_core-"))
    assert core and all(re.fullmatch(r"cp311-cp311-manylinux(2014|_2_\d+)_x86_64", t) for t in core)
    plain_linux = [t for ts in tags.values() for t in ts if re.search(r"-linux_", t)]
    assert not plain_linux  # a wheel built on this machine would be tagged linux_x86_64


def test_arm64_functions_get_aarch64_wheels(tmp_path: Path, real_wheel_cache: Path, load_test_app: Any) -> None:
    notes: list[str] = []
    artifact = build_package(load_test_app("arm"), "dev", tmp_path, notes.append, cache_dir=real_wheel_cache)
    with zipfile.ZipFile(artifact.path) as archive:
        extensions = [n for n in archive.namelist() if n.endswith(".so")]
        core = next(t for d, t in wheel_tags(archive).items() if d.startswith("pydantic_core-"))
    assert extensions == ["pydantic_core/_pydantic_core.cpython-311-aarch64-linux-gnu.so"]
    assert all(t.endswith("_aarch64") for t in core)
    assert artifact.architecture == "arm64"
    assert "manylinux2014_aarch64" in notes[0]


@pytest.mark.registry("pypi")  # the real pip finds no wheel on PyPI
def test_a_dependency_without_a_wheel_is_an_error_naming_it_and_the_options(tmp_path: Path, load_test_app: Any) -> None:
    with pytest.raises(DeployError) as caught:
        build_package(
            load_test_app("sdist_only"), "dev", tmp_path / "out", lambda m: None, cache_dir=tmp_path / "cache"
        )
    message = str(caught.value)
    assert message.startswith("Packaging 'sdist-only' for aws: No wheel of 'docopt==0.6.2' fits")
    assert "pick a version" in message and "pure-Python alternative" in message and "container" in message
    assert not (tmp_path / "out").exists()
    assert not list((tmp_path / "cache").iterdir())  # a failed download leaves nothing to be taken as cached


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_a_second_build_takes_the_wheels_from_the_cache(tmp_path: Path, load_test_app: Any, fake_pip: Any) -> None:
    app = load_test_app("tiny")
    notes: list[str] = []
    first = build_package(app, "dev", tmp_path / "a", notes.append, cache_dir=tmp_path / "c", pip_download=fake_pip)
    second = build_package(app, "dev", tmp_path / "b", notes.append, cache_dir=tmp_path / "c", pip_download=fake_pip)
    assert len(fake_pip.calls) == 1 and first.sha256 == second.sha256
    assert fake_pip.calls[0] == (("tinydep==1.0",), Target("3.12", "x86_64"))
    assert any("from the cache" in note for note in notes)


def test_the_cache_is_keyed_by_requirements_platform_and_python() -> None:
    base = cache_key(["b", "a"], Target("3.11", "x86_64"))
    assert base == cache_key(["a", "b"], Target("3.11", "x86_64"))
    assert (
        len(
            {
                base,
                cache_key(["a"], Target("3.11", "x86_64")),
                cache_key(["a", "b"], Target("3.12", "x86_64")),
                cache_key(["a", "b"], Target("3.11", "arm64")),
            }
        )
        == 4
    )


def test_platforms_stop_at_the_glibc_of_the_runtime() -> None:
    assert Target("3.11", "x86_64").platforms[0] == "manylinux2014_x86_64"
    assert Target("3.11", "x86_64").platforms[-1] == "manylinux_2_26_x86_64"  # Amazon Linux 2
    assert Target("3.12", "arm64").platforms[-1] == "manylinux_2_34_aarch64"  # Amazon Linux 2023


@pytest.mark.parametrize(
    "filename",
    [
        "pydantic_core-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "cryptography-42.0-cp39-abi3-manylinux_2_17_x86_64.whl",
        "six-1.16.0-py2.py3-none-any.whl",
        "old-0.1-py35.py36-none-any.whl",
    ],
)
def test_wheels_lambda_can_load_fit(filename: str) -> None:
    check_fits(filename, Target("3.11", "x86_64"))


@pytest.mark.parametrize(
    "filename",
    [
        "mylib-1.0-cp311-cp311-linux_x86_64.whl",  # built on this machine
        "pydantic_core-2.0-cp311-cp311-manylinux_2_17_aarch64.whl",
        "pydantic_core-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "numpy-2.0-cp311-cp311-manylinux_2_28_x86_64.whl",  # needs a newer glibc than Amazon Linux 2
        "pywin-1.0-cp311-cp311-win_amd64.whl",
    ],
)
def test_wheels_lambda_cannot_load_are_refused(filename: str) -> None:
    with pytest.raises(DeployError, match="does not fit Lambda"):
        check_fits(filename, Target("3.11", "x86_64"))


def test_a_wheel_for_this_machine_from_the_downloader_is_refused(
    tmp_path: Path, load_test_app: Any, fake_pip: Any
) -> None:
    fake_pip.wheels = {"tinydep-1.0-cp312-cp312-linux_x86_64.whl": {"tinydep/__init__.py": b""}}
    with pytest.raises(DeployError, match=r"Packaging 'tiny' for aws: The wheel tinydep-1.0-cp312"):
        build_package(
            load_test_app("tiny"),
            "dev",
            tmp_path / "out",
            lambda m: None,
            cache_dir=tmp_path / "cache",
            pip_download=fake_pip,
        )

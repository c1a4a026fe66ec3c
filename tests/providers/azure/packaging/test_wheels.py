"""Dependencies are wheels for Azure's Linux x86_64, never for this machine, and are downloaded once.

The test that reads PyPI uses the real `pip download`; the others pass a fake pip and count its calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure._wheels import Target, cache_key, check_fits
from portable_fn_azure.packaging import build_package, pip_arguments

from portable_fn.runtime.errors import DeployError


@pytest.mark.registry("pypi")  # the real pip finds no wheel on PyPI
def test_a_dependency_without_a_wheel_is_an_error_naming_it_and_the_options(tmp_path: Path, load_test_app: Any) -> None:
    with pytest.raises(DeployError) as caught:
        build_package(
            load_test_app("sdist_only"), "dev", tmp_path / "out", lambda m: None, cache_dir=tmp_path / "cache"
        )
    message = str(caught.value)
    assert message.startswith("Packaging 'sdist-only' for azure: No wheel of 'docopt==0.6.2' fits")
    assert "remote_build = true" in message and "remote_build=True" in message
    assert "another version of 'docopt'" in message and "pure-Python alternative" in message
    assert not (tmp_path / "out").exists()
    assert not list((tmp_path / "cache").iterdir())  # a failed download leaves nothing to be taken as cached


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_a_second_build_takes_the_wheels_from_the_cache(tmp_path: Path, load_test_app: Any, fake_pip: Any) -> None:
    app = load_test_app("tiny")
    notes: list[str] = []
    first = build_package(app, "dev", tmp_path / "a", notes.append, cache_dir=tmp_path / "c", pip_download=fake_pip)
    second = build_package(app, "dev", tmp_path / "b", notes.append, cache_dir=tmp_path / "c", pip_download=fake_pip)
    assert len(fake_pip.calls) == 1 and first.sha256 == second.sha256
    assert fake_pip.calls[0] == (("tinydep==1.0", "azure-functions"), Target("3.12"))
    assert any("from the cache" in note for note in notes)


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_another_requirement_set_is_downloaded_again(tmp_path: Path, load_test_app: Any, fake_pip: Any) -> None:
    import shutil

    app_dir = shutil.copytree(load_test_app("tiny").root, tmp_path / "app")
    build_package(
        load_test_app("tiny"), "dev", tmp_path / "a", lambda m: None, cache_dir=tmp_path / "c", pip_download=fake_pip
    )
    pyproject = app_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("tinydep==1.0", "tinydep==1.1"))
    from portable_fn.app import load_app

    build_package(
        load_app(app_dir), "dev", tmp_path / "b", lambda m: None, cache_dir=tmp_path / "c", pip_download=fake_pip
    )
    assert [call[0][0] for call in fake_pip.calls] == ["tinydep==1.0", "tinydep==1.1"]


def test_the_cache_is_keyed_by_requirement_set_and_python() -> None:
    base = cache_key(["b", "a"], Target("3.11"))
    assert base == cache_key(["a", "b"], Target("3.11"))
    assert len({base, cache_key(["a"], Target("3.11")), cache_key(["a", "b"], Target("3.12"))}) == 3


def test_platforms_are_manylinux_x86_64_from_2_17_to_2_28() -> None:
    platforms = Target("3.11").platforms
    assert platforms[0] == "manylinux2014_x86_64"
    assert platforms[1:] == tuple(f"manylinux_2_{n}_x86_64" for n in range(17, 29))


def test_pip_gets_option_lines_as_words() -> None:
    assert pip_arguments(["--extra-index-url https://x.invalid/simple", "a>=1; python_version >= '3.8'"]) == [
        "--extra-index-url",
        "https://x.invalid/simple",
        "a>=1; python_version >= '3.8'",
    ]


@pytest.mark.parametrize(
    "filename",
    [
        "pydantic_core-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy-2.0-cp311-cp311-manylinux_2_28_x86_64.whl",
        "cryptography-42.0-cp39-abi3-manylinux_2_17_x86_64.whl",
        "azure_functions-1.21.0-py3-none-any.whl",
        "six-1.16.0-py2.py3-none-any.whl",
    ],
)
def test_wheels_azure_can_load_fit(filename: str) -> None:
    check_fits(filename, Target("3.11"))


@pytest.mark.parametrize(
    "filename",
    [
        "mylib-1.0-cp311-cp311-linux_x86_64.whl",  # built on this machine
        "pydantic_core-2.0-cp311-cp311-manylinux_2_17_aarch64.whl",
        "pydantic_core-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "numpy-2.3-cp311-cp311-manylinux_2_34_x86_64.whl",  # newer glibc than Azure's oldest image
        "pydantic_core-2.0-cp311-cp311-macosx_11_0_arm64.whl",
        "pywin-1.0-cp311-cp311-win_amd64.whl",
    ],
)
def test_wheels_azure_cannot_load_are_refused(filename: str) -> None:
    with pytest.raises(DeployError, match="does not fit Azure Functions"):
        check_fits(filename, Target("3.11"))


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_a_wheel_for_this_machine_from_the_downloader_is_refused(
    tmp_path: Path, load_test_app: Any, fake_pip: Any
) -> None:
    fake_pip.wheels = {"tinydep-1.0-cp312-cp312-linux_x86_64.whl": {"tinydep/__init__.py": b""}}
    with pytest.raises(DeployError, match=r"Packaging 'tiny' for azure: The wheel tinydep-1.0-cp312"):
        build_package(
            load_test_app("tiny"),
            "dev",
            tmp_path / "out",
            lambda m: None,
            cache_dir=tmp_path / "cache",
            pip_download=fake_pip,
        )

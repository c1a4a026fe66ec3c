"""What goes into the Cloud Functions source zip, and that the same inputs always give the same bytes.

The shop sample is packaged with its real pins (pip's resolver, once per session); the other apps use
a fake resolver, since these tests are about the zip itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import portable_fn_gcp
import pytest
from portable_fn_gcp.packaging import (
    FIRESTORE,
    FUNCTIONS_FRAMEWORK,
    build_package,
    requirements,
    shim_files,
    with_functions_framework,
)
from portable_fn_gcp.shim import generate_main

from portable_fn.app import load_app
from portable_fn.deploy.models import Artifact
from portable_fn.runtime.errors import DeployError

APPS = Path(__file__).with_name("apps")


def read(artifact: Artifact) -> dict[str, bytes]:
    with zipfile.ZipFile(artifact.path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def build_shop(shop: Path, out: Path, cache: Path) -> Artifact:
    return build_package(load_app(shop), "dev", out, lambda message: None, cache_dir=cache)


def test_rebuilding_and_touching_files_give_the_same_bytes(
    shop_copy: Path, tmp_path: Path, real_pin_cache: Path, private_copy: Any
) -> None:
    first = build_shop(shop_copy, tmp_path / "a", real_pin_cache)
    again = build_shop(shop_copy, tmp_path / "b", real_pin_cache)
    cache = private_copy(real_pin_cache)  # the run's workers share the cache: touch a copy of it
    for path in [*shop_copy.rglob("*"), *cache.rglob("*")]:
        os.utime(path, (1_900_000_000, 1_900_000_000))
    touched = build_shop(shop_copy, tmp_path / "c", cache)
    assert first.sha256 == again.sha256 == touched.sha256
    assert first.path.read_bytes() == touched.path.read_bytes()
    assert first.path.name == "shop-gcp.zip" and first.files == len(read(first))


def test_a_code_change_changes_the_hash(shop_copy: Path, tmp_path: Path, real_pin_cache: Path) -> None:
    before = build_shop(shop_copy, tmp_path / "a", real_pin_cache)
    with (shop_copy / "shop" / "models.py").open("a") as f:
        f.write("# changed\n")
    assert build_shop(shop_copy, tmp_path / "b", real_pin_cache).sha256 != before.sha256


def test_the_zip_holds_main_pinned_requirements_user_code_runtime_and_shim(
    shop_copy: Path, tmp_path: Path, real_pin_cache: Path
) -> None:
    (shop_copy / ".env").write_text("SECRET=hunter2\n")
    (shop_copy / ".git").mkdir()
    (shop_copy / ".git" / "config").write_text("[core]\n")
    (shop_copy / ".venv" / "lib").mkdir(parents=True)
    (shop_copy / ".venv" / "lib" / "site.py").write_text("# a virtualenv\n")
    (shop_copy / "deploy-key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    files = read(build_shop(shop_copy, tmp_path / "out", real_pin_cache))
    assert {
        "main.py",
        "requirements.txt",
        "shop/functions.py",
        "shop/models.py",
        "pyproject.toml",
        "portable_fn/__init__.py",
        "portable_fn/runtime/dispatch.py",
        "portable_fn_gcp/__init__.py",
        "portable_fn_gcp/shim.py",
    } <= set(files)
    assert not [n for n in files if n.startswith((".git/", ".venv/")) or n in (".env", "deploy-key.pem")]
    assert not [n for n in files if "__pycache__" in n or n.endswith(".pyc")]  # the build compiles: see packaging
    assert not [n for n in files if n.startswith(("pydantic", "flask", "functions_framework"))]  # built remotely
    assert not [n for n in files if n.startswith("portable_fn_gcp/") and "deploy" in n]
    assert b"hunter2" not in b"".join(files.values())


def test_requirements_txt_pins_every_distribution(shop_copy: Path, tmp_path: Path, real_pin_cache: Path) -> None:
    text = read(build_shop(shop_copy, tmp_path / "out", real_pin_cache))["requirements.txt"].decode()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)
    names = [line.split("==")[0] for line in lines]
    assert {"pydantic", "pydantic-core", "functions-framework", "flask"} <= set(names)
    assert FUNCTIONS_FRAMEWORK in lines
    assert names == sorted(names) and len(names) == len(set(names))
    assert not [n for n in names if n.startswith("portable-fn")]


def test_main_py_is_the_generated_entry_module(shop_copy: Path, tmp_path: Path, real_pin_cache: Path) -> None:
    app = load_app(shop_copy)
    files = read(build_package(app, "dev", tmp_path / "out", lambda m: None, cache_dir=real_pin_cache))
    assert files["main.py"].decode() == generate_main(app)


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_the_zip_imports_with_only_itself_on_the_path(tmp_path: Path, load_test_app: Any, fake_resolve: Any) -> None:
    """Unzipped alone (no site-packages), the shim and the runtime import: they need the stdlib only."""
    artifact = build_package(
        load_test_app("tiny"),
        "dev",
        tmp_path / "out",
        lambda m: None,
        cache_dir=tmp_path / "cache",
        resolve=fake_resolve,
    )
    task = tmp_path / "task"
    shutil.unpack_archive(artifact.path, task)
    probe = "import portable_fn_gcp.shim, portable_fn.runtime, gcp_tiny_app; print('ok')"
    done = subprocess.run(
        [sys.executable, "-s", "-S", "-c", probe],
        cwd=task,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(task), "PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok"]


def test_the_user_module_cannot_be_named_main(tmp_path: Path, load_test_app: Any, fake_resolve: Any) -> None:
    with pytest.raises(DeployError, match=r"'shadowed' for gcp: .*main.py would be replaced.*Rename the module"):
        build_package(
            load_test_app("shadowed"),
            "dev",
            tmp_path / "out",
            lambda m: None,
            cache_dir=tmp_path / "cache",
            resolve=fake_resolve,
        )
    assert not fake_resolve.calls and not (tmp_path / "out").exists()


def test_a_user_requirements_txt_is_replaced_by_the_pinned_one(
    tmp_path: Path, load_test_app: Any, make_resolve: Any
) -> None:
    resolve = make_resolve(["requests==2.32.3", "functions-framework==3.9.2", "urllib3==2.2.3"])
    files = read(
        build_package(
            load_test_app("reqfile"),
            "dev",
            tmp_path / "out",
            lambda m: None,
            cache_dir=tmp_path / "cache",
            resolve=resolve,
        )
    )
    assert files["requirements.txt"].decode().splitlines()[2:] == [
        "--extra-index-url https://pypi.example.invalid/simple",
        "functions-framework==3.9.2",
        "requests==2.32.3",
        "urllib3==2.2.3",
    ]
    assert resolve.calls[0][0] == (
        "--extra-index-url https://pypi.example.invalid/simple",
        "requests>=2",
        "Functions_Framework>=3.9",
    )


def test_only_the_shim_side_of_the_provider_ships() -> None:
    shipped = {name for name, _ in shim_files()}
    assert {"portable_fn_gcp/__init__.py", "portable_fn_gcp/shim.py"} <= shipped
    assert not shipped & {"portable_fn_gcp/provider.py", "portable_fn_gcp/packaging.py", "portable_fn_gcp/_pins.py"}


def test_an_init_that_imports_the_provider_side_ships_as_a_stub(tmp_path: Path) -> None:
    package = tmp_path / "portable_fn_gcp"
    shutil.copytree(Path(portable_fn_gcp.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text('"""x"""\nfrom .provider import GcpProvider\nimport google.cloud\n')
    entries = dict(shim_files(package))
    assert entries["portable_fn_gcp/__init__.py"] == (
        b'"""portable-fn on Google Cloud Functions: the runtime shim."""\n'
    )
    assert "portable_fn_gcp/provider.py" not in entries


def test_requirements_leave_portable_fn_itself_out(shop_dir: Path, load_test_app: Any) -> None:
    assert requirements(load_app(shop_dir)) == ["pydantic>=2.5"]
    assert requirements(load_test_app("tiny")) == ["tinydep==1.0"]
    assert requirements(load_test_app("reqfile")) == [
        "--extra-index-url https://pypi.example.invalid/simple",
        "requests>=2",
        "Functions_Framework>=3.9",
    ]


def test_functions_framework_is_added_unless_the_app_names_its_own() -> None:
    assert with_functions_framework(["pydantic>=2.5"]) == ["pydantic>=2.5", FUNCTIONS_FRAMEWORK]
    assert with_functions_framework(["functions_framework==3.9.2"]) == ["functions_framework==3.9.2"]


def test_a_nested_requirements_file_is_refused(tmp_path: Path) -> None:
    app_dir = shutil.copytree(APPS / "reqfile", tmp_path / "app")
    (app_dir / "requirements.txt").write_text("-r base.txt\n")
    with pytest.raises(DeployError, match=r"'-r base.txt'; list every requirement in this one file"):
        requirements(load_app(app_dir))


STATEFUL = Path(__file__).parents[1] / "deploy" / "apps" / "stateful"


def test_an_app_using_a_state_ships_the_firestore_backend_and_its_client(tmp_path: Path, fake_resolve: Any) -> None:
    app = load_app(STATEFUL)
    files = read(build_package(app, "dev", tmp_path / "out", lambda m: None, resolve=fake_resolve, cache_dir=tmp_path))
    assert "portable_fn_gcp/state.py" in files
    assert fake_resolve.calls[0][0] == (FIRESTORE, FUNCTIONS_FRAMEWORK)


def test_an_app_without_state_ships_neither(tmp_path: Path, load_test_app: Any, fake_resolve: Any) -> None:
    app = load_test_app("tiny")
    files = read(build_package(app, "dev", tmp_path / "out", lambda m: None, resolve=fake_resolve, cache_dir=tmp_path))
    assert "portable_fn_gcp/state.py" not in files
    assert FIRESTORE not in fake_resolve.calls[0][0]

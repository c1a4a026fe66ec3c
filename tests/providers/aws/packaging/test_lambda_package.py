"""What goes into the Lambda zip, and that the same inputs always give the same bytes.

The shop sample is packaged with its real dependencies (pydantic, downloaded once per session from PyPI
for Lambda's platform); the other apps use a fake pip, since these tests are about the zip itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import portable_fn_aws
import pytest
from portable_fn_aws.packaging import SizeBudget, build_package, handler_string, requirements, shim_files

from portable_fn.app import load_app
from portable_fn.bytecode import Interpreters
from portable_fn.runtime.errors import DeployError

APPS = Path(__file__).with_name("apps")
SHIPPED_SHIM = {
    "__init__.py",
    "shim.py",
    "http_events.py",
    "http_routes.py",
    "records.py",
    "dead_letter.py",
    "visibility.py",
    "state.py",
    "publish.py",
    "secrets.py",
    "buckets.py",
}


def names_in(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def build_shop(shop: Path, out: Path, cache: Path) -> Any:
    return build_package(load_app(shop), "dev", out, lambda message: None, cache_dir=cache)


def test_rebuilding_and_touching_files_give_the_same_bytes(
    shop_copy: Path, tmp_path: Path, real_wheel_cache: Path, private_copy: Any
) -> None:
    first = build_shop(shop_copy, tmp_path / "a", real_wheel_cache)
    again = build_shop(shop_copy, tmp_path / "b", real_wheel_cache)
    cache = private_copy(real_wheel_cache)  # the run's workers share the cache: touch a copy of it
    for path in [*shop_copy.rglob("*"), *cache.rglob("*")]:
        os.utime(path, (1_900_000_000, 1_900_000_000))
    touched = build_shop(shop_copy, tmp_path / "c", cache)
    assert first.sha256 == again.sha256 == touched.sha256
    assert first.path.read_bytes() == touched.path.read_bytes()


def test_a_code_change_changes_the_hash(shop_copy: Path, tmp_path: Path, real_wheel_cache: Path) -> None:
    before = build_shop(shop_copy, tmp_path / "a", real_wheel_cache)
    with (shop_copy / "shop" / "models.py").open("a") as f:
        f.write("# changed\n")
    assert build_shop(shop_copy, tmp_path / "b", real_wheel_cache).sha256 != before.sha256


def test_the_zip_holds_entry_module_user_code_runtime_shim_and_dependencies(
    shop_copy: Path, tmp_path: Path, real_wheel_cache: Path
) -> None:
    (shop_copy / ".env").write_text("SECRET=hunter2\n")
    (shop_copy / ".git").mkdir()
    (shop_copy / ".git" / "config").write_text("[core]\n")
    artifact = build_shop(shop_copy, tmp_path / "out", real_wheel_cache)
    names = names_in(artifact.path)
    assert {
        "portable_fn_entry.py",
        "shop/functions.py",
        "shop/models.py",
        "portable_fn/__init__.py",
        "portable_fn/runtime/dispatch.py",
        "pydantic/main.py",
    } <= names
    shim = {n.split("/")[1] for n in names if n.startswith("portable_fn_aws/") and "__pycache__" not in n}
    assert shim == SHIPPED_SHIM
    assert any(n.startswith("pydantic_core-") and n.endswith(".dist-info/METADATA") for n in names)
    assert (
        {n for n in names if n.endswith(".pyc")}
        == {  # bytecode for the app's Python, one per source
            f"{folder}/__pycache__/{file[:-3]}.cpython-311.pyc".lstrip("/")
            for folder, _, file in (n.rpartition("/") for n in names if n.endswith(".py"))
        }
    )
    assert ".env" not in names and not any(n.startswith(".git/") for n in names)
    assert b"hunter2" not in artifact.path.read_bytes()
    assert artifact.files == len(names) and artifact.unzipped_size > artifact.size
    assert artifact.via_s3 is False and artifact.architecture == "x86_64"


def test_the_entry_module_exposes_one_handler_per_function(
    shop_copy: Path, tmp_path: Path, real_wheel_cache: Path
) -> None:
    app = load_app(shop_copy)
    artifact = build_package(app, "dev", tmp_path / "out", lambda m: None, cache_dir=real_wheel_cache)
    with zipfile.ZipFile(artifact.path) as archive:
        source = archive.read("portable_fn_entry.py").decode()
    assert "from portable_fn_aws.shim import make_handler" in source
    assert "import shop.functions as _m0" in source
    assert "create_order = make_handler(_m0.create_order.__portable_fn__, ROUTES)" in source  # an HTTP function
    assert "\nROUTES = (('POST', '/orders')," in source  # every HTTP route of the app: its HTTP API's 405 and 404
    assert "globals()['place_order-run'] = make_handler(_m0.place_order.runner.__portable_fn__)" in source
    assert [handler_string(s) for s in app.functions][:3] == [
        "portable_fn_entry.place_order-run",  # the workflow's runner: Lambda looks the name up as it is
        "portable_fn_entry.create_order",
        "portable_fn_entry.get_order",
    ]


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_the_entry_module_imports_with_only_the_zip_on_the_path(
    tmp_path: Path, load_test_app: Any, fake_pip: Any
) -> None:
    """Unzipped alone (no site-packages), `portable_fn_entry` imports and holds every handler."""
    app = load_test_app("tiny")
    artifact = build_package(
        app, "dev", tmp_path / "out", lambda m: None, cache_dir=tmp_path / "cache", pip_download=fake_pip
    )
    task = tmp_path / "task"
    shutil.unpack_archive(artifact.path, task)
    probe = (
        "import portable_fn_entry as e, tinydep, tinydep_extra; "
        "print(callable(e.ping), callable(getattr(e, 'run-job')), tinydep.VALUE)"
    )
    done = subprocess.run(
        [sys.executable, "-s", "-S", "-c", probe],
        cwd=task,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(task), "PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "pong"]
    assert handler_string(app.function("run-job")) == "portable_fn_entry.run-job"


def test_wheels_unpack_like_an_install_without_their_bytecode_or_scripts(
    tmp_path: Path, load_test_app: Any, fake_pip: Any
) -> None:
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    artifact = build_package(
        load_test_app("tiny"),
        "dev",
        tmp_path / "out",
        lambda m: None,
        cache_dir=tmp_path / "cache",
        pip_download=fake_pip,
        interpreters=Interpreters(running_version="0.0", path=str(nowhere), pyenv_root=nowhere),
    )
    deps = {n for n in names_in(artifact.path) if n.startswith("tinydep")}
    assert deps == {
        "tinydep/__init__.py",
        "tinydep_extra.py",
        "tinydep-1.0.dist-info/METADATA",
        "tinydep-1.0.dist-info/WHEEL",
        "tinydep-1.0.dist-info/RECORD",
    }


def test_only_the_shim_side_of_the_provider_ships(tmp_path: Path) -> None:
    assert {name.split("/")[1] for name, _ in shim_files()} == SHIPPED_SHIM


def test_an_init_that_imports_the_provider_side_ships_as_a_stub(tmp_path: Path) -> None:
    package = tmp_path / "portable_fn_aws"
    shutil.copytree(Path(portable_fn_aws.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text('"""x"""\nfrom .provider import AwsProvider\nimport boto3\n')
    entries = dict(shim_files(package))
    assert entries["portable_fn_aws/__init__.py"] == b'"""portable-fn on AWS Lambda: the runtime shim."""\n'
    assert "portable_fn_aws/provider.py" not in entries


def test_requirements_leave_portable_fn_itself_out(shop_dir: Path, load_test_app: Any) -> None:
    assert requirements(load_app(shop_dir)) == ["pydantic>=2.5"]
    assert requirements(load_test_app("tiny")) == ["tinydep==1.0"]
    assert requirements(load_test_app("sdist_only")) == ["docopt==0.6.2"]


def test_a_requirements_file_passes_index_options_and_refuses_nested_files(tmp_path: Path) -> None:
    app_dir = shutil.copytree(APPS / "sdist_only", tmp_path / "app")
    (app_dir / "requirements.txt").write_text(
        "# pinned\n--extra-index-url https://pypi.example.invalid/simple\nrequests>=2  # http\nportable-fn-aws\n"
    )
    assert requirements(load_app(app_dir)) == [
        "--extra-index-url",
        "https://pypi.example.invalid/simple",
        "requests>=2",
    ]
    (app_dir / "requirements.txt").write_text("-r base.txt\n")
    with pytest.raises(DeployError, match=r"'-r base.txt'; list every requirement in this one file"):
        requirements(load_app(app_dir))


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_over_the_direct_upload_limit_the_zip_goes_through_s3(
    tmp_path: Path, load_test_app: Any, fake_pip: Any
) -> None:
    notes: list[str] = []
    artifact = build_package(
        load_test_app("tiny"),
        "dev",
        tmp_path / "out",
        notes.append,
        cache_dir=tmp_path / "cache",
        pip_download=fake_pip,
        budget=SizeBudget(direct_upload=1024),
    )
    assert artifact.via_s3 is True and artifact.to_dict()["via_s3"] is True
    assert "uploaded through S3" in notes[-1]


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_over_the_unzipped_limit_is_an_error_before_anything_is_written(
    tmp_path: Path, load_test_app: Any, fake_pip: Any
) -> None:
    with pytest.raises(DeployError) as caught:
        build_package(
            load_test_app("tiny"),
            "dev",
            tmp_path / "out",
            lambda m: None,
            cache_dir=tmp_path / "cache",
            pip_download=fake_pip,
            budget=SizeBudget(unzipped=4096),
        )
    message = str(caught.value)
    assert "'tiny'" in message and "unzipped" in message
    assert "layer" in message and "container image" in message and "Trim the dependencies" in message
    assert not (tmp_path / "out").exists()

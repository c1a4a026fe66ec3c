"""What goes into the Azure Functions zip, and that the same inputs always give the same bytes.

The shop sample is packaged with its real dependencies (pydantic and azure-functions, downloaded once
per session from PyPI for Linux x86_64 and the shop's Python 3.11, or the running Python where the zip is
imported); the tiny app uses a fake pip, since those tests are about the zip itself.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.packaging import build_package, requirement_lines, shim_files

from portable_fn.app import load_app
from portable_fn.bytecode import Interpreters
from portable_fn.runtime.errors import ConfigError, DeployError

APPS = Path(__file__).with_name("apps")
SITE = ".python_packages/lib/site-packages/"
CORE_SO = SITE + "pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so"
SHOP_FUNCTIONS = {
    "create_order",
    "get_order",
    "fulfil",
    "sweep",
    "nightly_report",
    "on_upload",
    "notify",
    "confirm_payment",
    "place_order-run",  # the order workflow's runner
    "zz_not_found",  # what no route takes: dev's 404 (`codegen.not_found_name`)
}
# The shop keeps state and sends (its workflow): the state backend, the publisher and their SDKs ship too.
SHOP_REQUIREMENTS = ["pydantic>=2.5", "azure-functions", "azure-data-tables>=12.4", "azure-identity>=1.15"]
SHOP_REQUIREMENTS += ["azure-storage-queue>=12.9"]
RUNNING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
SHIPPED_SHIM = {f"portable_fn_azure/{name}.py" for name in ("__init__", "shim", "events", "http_adapter")}


def names_in(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def read(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode("utf-8")


def read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def build_shop(shop: Path, out: Path, cache: Path, **options: Any) -> Any:
    return build_package(load_app(shop), "dev", out, lambda message: None, cache_dir=cache, **options)


def set_python(app_dir: Path, python: str) -> None:
    """Set the app's `python` setting, so its zip holds wheels that interpreter can import."""
    pyproject = app_dir / "pyproject.toml"
    text = pyproject.read_text()
    assert 'python = "3.11"\n' in text
    pyproject.write_text(text.replace('python = "3.11"\n', f'python = "{python}"\n'))


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


def test_the_zip_holds_the_app_the_runtime_the_shim_and_linux_dependencies(
    shop_copy: Path, tmp_path: Path, real_wheel_cache: Path
) -> None:
    (shop_copy / ".env").write_text("SECRET=hunter2\n")
    (shop_copy / "local.settings.json").write_text('{"Values": {"AzureWebJobsStorage": "hunter3"}}\n')
    (shop_copy / ".git").mkdir()
    (shop_copy / ".git" / "config").write_text("[core]\n")
    artifact = build_shop(shop_copy, tmp_path / "out", real_wheel_cache)
    names = names_in(artifact.path)
    assert {
        "function_app.py",
        "host.json",
        "requirements.txt",
        "shop/functions.py",
        "shop/models.py",
        "portable_fn/__init__.py",
        "portable_fn/runtime/dispatch.py",
        "portable_fn_azure/__init__.py",
        "portable_fn_azure/shim.py",
        SITE + "pydantic/main.py",
        SITE + "azure/functions/__init__.py",
        CORE_SO,
    } <= names
    assert any(n.startswith(SITE + "pydantic_core-") and n.endswith(".dist-info/METADATA") for n in names)
    assert all(n.endswith((".cpython-311-x86_64-linux-gnu.so", ".abi3.so")) for n in names if n.endswith(".so"))
    assert (
        {n for n in names if n.endswith(".pyc")}
        == {  # bytecode for the app's Python, one per source
            f"{folder}/__pycache__/{file[:-3]}.cpython-311.pyc".lstrip("/")
            for folder, _, file in (n.rpartition("/") for n in names if n.endswith(".py"))
        }
    )
    shipped = {n for n in names if n.startswith("portable_fn_azure/") and n.endswith(".py")}
    assert shipped == SHIPPED_SHIM | {  # the state and publish clients, with the running function's identity
        "portable_fn_azure/state.py",
        "portable_fn_azure/publish.py",
        "portable_fn_azure/identity.py",
    }
    assert not {".env", "local.settings.json"} & names and not any(n.startswith(".git/") for n in names)
    assert b"hunter2" not in artifact.path.read_bytes() and b"hunter3" not in artifact.path.read_bytes()
    assert read(artifact.path, "requirements.txt") == "\n".join(SHOP_REQUIREMENTS) + "\n"
    assert "extensionBundle" in read(artifact.path, "host.json")
    assert artifact.files == len(names) and artifact.remote_build is False and artifact.python == "3.11"


def test_the_unzipped_package_imports_and_azure_functions_indexes_every_function(
    shop_copy: Path, tmp_path: Path, real_wheel_cache: Path
) -> None:
    """The host's view: wwwroot (read-only, as run-from-package mounts it) and its
    `.python_packages/lib/site-packages` on the path, nothing else of this machine's but (last) the
    azure-functions the host would bring; every module comes from the zip, as bytecode: none is compiled
    (`-v` names where each code object comes from), and no provider-side module is there to load.
    The shop is packaged for the running Python, as the host's Python is the one the app names."""
    import azure.functions

    set_python(shop_copy, RUNNING_PYTHON)
    artifact = build_shop(shop_copy, tmp_path / "out", real_wheel_cache)
    assert artifact.python == RUNNING_PYTHON
    root = tmp_path / "wwwroot"
    shutil.unpack_archive(artifact.path, root)
    assert not (root / "portable_fn_azure" / "codegen.py").exists()
    host_library = Path(azure.functions.__file__).parents[2]
    probe = (
        "import sys, function_app, azure.functions as func, pydantic_core, portable_fn, portable_fn_azure\n"
        "apps = [v for v in vars(function_app).values() if isinstance(v, func.FunctionRegister)]\n"
        "assert len(apps) == 1, apps\n"
        "print(' '.join(sorted(f.get_function_name() for f in apps[0].get_functions())))\n"
        "for module in (function_app, func, pydantic_core, portable_fn, portable_fn_azure):\n"
        "    print(module.__file__)\n"
        "print(sorted(m for m in sys.modules if m.startswith('portable_fn_azure.')))\n"
    )
    path = os.pathsep.join([str(root / SITE), str(root), str(host_library)])
    read_only(root)
    try:
        done = subprocess.run(
            [sys.executable, "-v", "-s", "-S", "-c", probe],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            env={
                "PYTHONPATH": path,
                "PATH": os.environ.get("PATH", ""),
                "SHOP_DATA_DIR": str(tmp_path / "data"),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        )
    finally:
        writable(root)
    assert done.returncode == 0, done.stderr[-3000:]
    functions, *files, shim = done.stdout.splitlines()
    assert set(functions.split()) == SHOP_FUNCTIONS
    assert all(Path(f).resolve().is_relative_to(root.resolve()) for f in files), files
    assert "codegen" not in shim and "names" not in shim
    origins = re.findall(r"^# code object from '?([^'\n]+)'?$", done.stderr, re.MULTILINE)
    ours = [origin for origin in origins if origin.startswith(str(root))]
    assert [o for o in ours if o.endswith(".py")] == []
    assert str(root / "__pycache__" / f"function_app.{sys.implementation.cache_tag}.pyc") in ours
    assert str(root / SITE / "pydantic_core" / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc") in ours


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_a_remote_build_ships_source_and_requirements_only(tmp_path: Path, load_test_app: Any, fake_pip: Any) -> None:
    app = load_test_app("tiny")
    remote = build_package(
        app,
        "dev",
        tmp_path / "r",
        lambda m: None,
        remote_build=True,
        cache_dir=tmp_path / "cache",
        pip_download=fake_pip,
    )
    names = names_in(remote.path)
    assert not fake_pip.calls and remote.remote_build and remote.to_dict()["remote_build"] is True
    assert not [n for n in names if n.startswith(".python_packages/")]
    assert {
        "function_app.py",
        "host.json",
        "requirements.txt",
        "tiny_app.py",
        "portable_fn/__init__.py",
        "portable_fn_azure/shim.py",
    } <= names
    assert read(remote.path, "requirements.txt") == "tinydep==1.0\nazure-functions\n"


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_the_remote_build_setting_is_read_per_stage(tmp_path: Path, load_test_app: Any, fake_pip: Any) -> None:
    app = load_test_app("tiny")
    prod = build_package(app, "prod", tmp_path / "p", lambda m: None, cache_dir=tmp_path / "c", pip_download=fake_pip)
    assert prod.remote_build and not fake_pip.calls
    dev = build_package(app, "dev", tmp_path / "d", lambda m: None, cache_dir=tmp_path / "c", pip_download=fake_pip)
    assert not dev.remote_build and len(fake_pip.calls) == 1
    assert SITE + "tinydep/__init__.py" in names_in(dev.path)


def test_a_remote_build_setting_that_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    """Refused when the app is loaded (the settings model), before anything is packaged."""
    app_dir = shutil.copytree(APPS / "tiny", tmp_path / "app")
    with (app_dir / "pyproject.toml").open("a") as f:
        f.write('\n[tool.portable-fn.azure]\nremote_build = "yes"\n')
    with pytest.raises(ConfigError, match=r"tool.portable-fn.azure.remote_build: must be true or false, not 'yes'"):
        load_app(app_dir)


def test_wheels_unpack_under_python_packages_like_an_install(tmp_path: Path, load_test_app: Any, fake_pip: Any) -> None:
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
    names = names_in(artifact.path)
    assert {n[len(SITE) :] for n in names if n.startswith(SITE)} == {
        "tinydep/__init__.py",
        "tinydep_extra.py",
        "tinydep-1.0.dist-info/METADATA",
        "tinydep-1.0.dist-info/WHEEL",
        "tinydep-1.0.dist-info/RECORD",
    }
    assert "local.settings.json" not in names


def test_the_shim_ships_with_what_it_imports_and_nothing_of_the_deploy_side() -> None:
    """`codegen` (and `names`, which only it imports) write function_app.py when packaging; nothing the
    shim imports names them."""
    shipped = {name for name, _ in shim_files("from portable_fn_azure.shim import x\n")}
    assert shipped == SHIPPED_SHIM
    assert (
        not {
            "portable_fn_azure/packaging.py",
            "portable_fn_azure/_wheels.py",
            "portable_fn_azure/codegen.py",
            "portable_fn_azure/names.py",
            "portable_fn_azure/provider.py",
        }
        & shipped
    )
    assert not any(name.startswith("portable_fn_azure/deploy/") for name in shipped)


def test_the_shim_closure_follows_imports_and_stubs_an_init_that_imports_more(tmp_path: Path) -> None:
    package = tmp_path / "portable_fn_azure"
    package.mkdir()
    (package / "__init__.py").write_text('"""x"""\nfrom .provider import AzureProvider\n')
    (package / "shim.py").write_text("import json\nfrom . import events\nfrom .convert import to_request\n")
    (package / "events.py").write_text("from portable_fn.runtime import CloudEvent\n")
    (package / "convert.py").write_text("import azure.functions as func\n")
    (package / "extra.py").write_text("")
    (package / "provider.py").write_text("import azure.mgmt.web\n")
    entries = dict(shim_files("import azure.functions\nfrom portable_fn_azure import extra\n", package))
    assert sorted(entries) == [
        "portable_fn_azure/__init__.py",
        "portable_fn_azure/convert.py",
        "portable_fn_azure/events.py",
        "portable_fn_azure/extra.py",
        "portable_fn_azure/shim.py",
    ]
    assert entries["portable_fn_azure/__init__.py"] == b'"""portable-fn on Azure Functions: the runtime shim."""\n'


def test_requirements_leave_portable_fn_out_and_add_azure_functions(shop_dir: Path, load_test_app: Any) -> None:
    assert requirement_lines(load_app(shop_dir)) == SHOP_REQUIREMENTS
    assert requirement_lines(load_test_app("tiny")) == ["tinydep==1.0", "azure-functions"]
    assert requirement_lines(load_test_app("sdist_only")) == ["docopt==0.6.2", "azure-functions"]


def test_a_requirements_file_keeps_its_options_and_its_azure_functions_pin(tmp_path: Path) -> None:
    app_dir = shutil.copytree(APPS / "sdist_only", tmp_path / "app")
    (app_dir / "requirements.txt").write_text(
        "# pinned\n--extra-index-url https://pypi.example.invalid/simple\nrequests>=2  # http\n"
        "portable-fn-azure\nAzure_Functions==1.21.0\n"
    )
    assert requirement_lines(load_app(app_dir)) == [
        "--extra-index-url https://pypi.example.invalid/simple",
        "requests>=2",
        "Azure_Functions==1.21.0",
    ]
    (app_dir / "requirements.txt").write_text("-r base.txt\n")
    with pytest.raises(DeployError, match=r"'-r base.txt'; list every requirement in this one file"):
        requirement_lines(load_app(app_dir))


def test_an_app_using_state_ships_the_table_sdks_and_the_backend() -> None:
    """`portable_fn.runtime.state` imports `portable_fn_azure.state` by name on first use, and that imports
    azure-data-tables (and azure-identity for the app's managed identity): both must be in the zip."""
    stateful = load_app(Path(__file__).resolve().parents[1] / "apps" / "stateful")
    assert requirement_lines(stateful) == ["azure-functions", "azure-data-tables>=12.4", "azure-identity>=1.15"]
    assert "portable_fn_azure/state.py" in {name for name, _ in shim_files("", state=True)}
    assert "portable_fn_azure/state.py" not in {name for name, _ in shim_files("")}


def test_an_app_reading_secrets_ships_the_key_vault_sdk_and_the_backend_but_not_the_store() -> None:
    """`portable_fn.runtime.secrets` imports `portable_fn_azure.secrets` by name on first read, and that imports
    azure-keyvault-secrets (and azure-identity for the app's managed identity); the CLI's store never ships."""
    keyed = load_app(Path(__file__).resolve().parents[1] / "apps" / "keyed")
    assert requirement_lines(keyed) == ["azure-functions", "azure-keyvault-secrets>=4.8", "azure-identity>=1.15"]
    shipped = {name for name, _ in shim_files("", secrets=True)}
    assert "portable_fn_azure/secrets.py" in shipped and "portable_fn_azure/secret_store.py" not in shipped
    assert "portable_fn_azure/secrets.py" not in {name for name, _ in shim_files("")}


def test_an_app_using_a_bucket_ships_the_blob_sdk_and_the_store() -> None:
    """`portable_fn.runtime.buckets` imports `portable_fn_azure.buckets` by name on first use, and that imports
    azure-storage-blob (and azure-identity for the function's managed identity): both must be in the zip."""
    filing = load_app(Path(__file__).resolve().parents[1] / "apps" / "filing")
    assert requirement_lines(filing) == ["azure-functions", "azure-storage-blob>=12.19", "azure-identity>=1.15"]
    assert "portable_fn_azure/buckets.py" in {name for name, _ in shim_files("", buckets=True)}
    assert "portable_fn_azure/buckets.py" not in {name for name, _ in shim_files("")}

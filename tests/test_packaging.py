"""Deterministic packages: same inputs, same bytes; nothing that must not ship gets in."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from portable_fn.app import load_app
from portable_fn.local.provider import LocalProvider
from portable_fn.packaging import (
    app_files,
    app_requirements,
    foreign_imports,
    import_lines,
    is_own,
    module_closure,
    package_imports,
    runtime_files,
    user_cache,
    write_zip,
)
from portable_fn.runtime.errors import DeployError


def build(app_dir: Path, out: Path) -> tuple[str, bytes]:
    artifact = LocalProvider().package(load_app(app_dir), "dev", out, lambda m: None)
    return artifact.sha256, artifact.path.read_bytes()


def test_the_same_app_gives_the_same_bytes_on_rebuild_and_after_touching_files(shop_copy: Path, tmp_path: Path) -> None:
    first = build(shop_copy, tmp_path / "a")
    for path in shop_copy.rglob("*.py"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    second = build(shop_copy, tmp_path / "b")
    assert first == second


def test_a_one_byte_change_changes_the_hash(shop_copy: Path, tmp_path: Path) -> None:
    before = build(shop_copy, tmp_path / "a")[0]
    (shop_copy / "shop" / "__init__.py").write_text('"""The shop sample app: see functions.py!"""\n')
    assert build(shop_copy, tmp_path / "b")[0] != before


def test_secrets_vcs_caches_and_virtualenvs_never_ship(shop_copy: Path, tmp_path: Path) -> None:
    for unwanted in (
        ".env",
        ".env.production",
        "deploy-key.pem",
        ".git/config",
        ".venv/lib/x.py",
        "shop/__pycache__/functions.cpython-311.pyc",
        "node_modules/a/index.js",
        "shop.egg-info/PKG-INFO",
        ".portable-fn/build/old.zip",
    ):
        path = shop_copy / unwanted
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("SECRET=hunter2\n")
    names = {name for name, _ in app_files(load_app(shop_copy))}
    assert names == {"pyproject.toml", "shop/__init__.py", "shop/functions.py", "shop/models.py"}
    _, data = build(shop_copy, tmp_path / "out")
    assert b"hunter2" not in data


def test_entries_are_sorted_with_fixed_times_and_modes(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_text("b")
    (tmp_path / "a.sh").write_text("#!/bin/sh\n")
    (tmp_path / "a.sh").chmod(0o755)
    artifact = write_zip(
        tmp_path / "out.zip", [("b.py", tmp_path / "b.py"), ("a.sh", tmp_path / "a.sh"), ("gen.json", b"{}")]
    )
    with zipfile.ZipFile(artifact.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["a.sh", "b.py", "gen.json"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert [(i.external_attr >> 16) & 0o777 for i in infos] == [0o755, 0o644, 0o644]
    assert artifact.files == 3


@pytest.mark.slow  # imports in a fresh interpreter
def test_the_packaged_runtime_imports_with_the_standard_library_alone(shop_copy: Path, tmp_path: Path) -> None:
    _, data = build(shop_copy, tmp_path / "out")
    unpacked = tmp_path / "unpacked"
    (tmp_path / "pkg.zip").write_bytes(data)
    shutil.unpack_archive(tmp_path / "pkg.zip", unpacked)
    script = (
        "import sys; before = set(sys.modules); sys.path.insert(0, sys.argv[1]);"
        "import portable_fn, portable_fn.runtime;"
        "assert portable_fn.__file__.startswith(sys.argv[1]), portable_fn.__file__;"
        "new = set(sys.modules) - before;"
        "bad = sorted(m for m in new if m.split('.')[0] not in sys.stdlib_module_names"
        " and m.split('.')[0] != 'portable_fn');"
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(unpacked)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr


def test_app_files_skip_the_output_directory(shop_copy: Path) -> None:
    (shop_copy / "out").mkdir()
    (shop_copy / "out" / "old.py").write_text("x = 1\n")
    app = load_app(shop_copy)
    assert "out/old.py" in {name for name, _ in app_files(app)}
    assert "out/old.py" not in {name for name, _ in app_files(app, skip=shop_copy / "out")}


def _with_requirements_file(app_dir: Path, text: str) -> Path:
    (app_dir / "requirements.txt").write_text(text)
    pyproject = app_dir / "pyproject.toml"
    named = 'app = "shop"\nrequirements = "requirements.txt"\n'
    pyproject.write_text(pyproject.read_text().replace('app = "shop"\n', named))
    return app_dir


def test_app_requirements_leave_portable_fn_itself_out(shop_copy: Path) -> None:
    assert app_requirements(load_app(shop_copy), context="c", unresolvable="u") == ["pydantic>=2.5"]
    assert is_own("portable-fn") and is_own("Portable_Fn.AWS>=1") and is_own("portable-fn-azure")
    assert not is_own("portable-fnord") and not is_own("--index-url x")


def test_app_requirements_read_the_named_file_with_options_split_or_kept(shop_copy: Path) -> None:
    app = load_app(
        _with_requirements_file(
            shop_copy, "# pinned\n--index-url https://x.invalid/simple\nrequests>=2  # http\nportable-fn-gcp\n\n"
        )
    )
    assert app_requirements(app, context="c", unresolvable="u") == [
        "--index-url https://x.invalid/simple",
        "requests>=2",
    ]
    assert app_requirements(app, context="c", unresolvable="u", split_options=True) == [
        "--index-url",
        "https://x.invalid/simple",
        "requests>=2",
    ]


def test_an_own_extra_becomes_what_it_requires_and_ships_the_otel_modules(shop_copy: Path) -> None:
    """`portable-fn[otel]` ships the OpenTelemetry SDK and portable-fn's OTel modules; without it neither."""
    plain = app_requirements(load_app(shop_copy), context="c", unresolvable="u")
    assert not {name for name, _ in runtime_files(plain)} & {"portable_fn/otel.py", "portable_fn/otel_json.py"}
    app = load_app(_with_requirements_file(shop_copy, "portable-fn[otel]>=0.1\npydantic>=2.5\n"))
    lines = app_requirements(app, context="c", unresolvable="u")
    assert lines[-1] == "pydantic>=2.5" and not any(is_own(line) for line in lines)
    assert {line.split(">")[0] for line in lines[:-1]} == {
        "opentelemetry-api",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
    }
    shipped = {name for name, _ in runtime_files(lines)}
    assert {"portable_fn/otel.py", "portable_fn/otel_json.py", "portable_fn/runtime/pipeline.py"} <= shipped


def test_app_requirements_refuse_nested_files_and_a_missing_file(shop_copy: Path) -> None:
    app = load_app(_with_requirements_file(shop_copy, "-r base.txt\n"))
    with pytest.raises(DeployError, match=r"^Packaging it: .*'-r base.txt'; .*installs cannot be pinned here\)\.$"):
        app_requirements(app, context="Packaging it", unresolvable="cannot be pinned here")
    (shop_copy / "requirements.txt").unlink()
    with pytest.raises(DeployError, match=r"^Packaging it: the requirements file .* does not exist"):
        app_requirements(app, context="Packaging it", unresolvable="cannot be pinned here")


def test_import_lines_resolve_relative_dynamic_and_nested_imports_but_not_type_checking_ones() -> None:
    tree = ast.parse(
        "import os, json\nfrom . import a\nfrom .b import c\nfrom pkg import d\n"
        "from pkg.e import f\nfrom portable_fn.runtime import x\n"
        "def late():\n    import g.h\n    importlib.import_module('..up', 'pkg.sub')\n"
        "    __import__('i')\n    import_module(name)\n"
        "if TYPE_CHECKING:\n    import never\nelse:\n    import otherwise\n"
    )
    assert [m for _, m in import_lines(tree, "pkg")] == [
        "os",
        "json",
        "pkg",
        "pkg.a",
        "pkg.b",
        "pkg.b.c",
        "pkg",
        "pkg.d",
        "pkg.e",
        "pkg.e.f",
        "portable_fn.runtime",
        "portable_fn.runtime.x",
        "g.h",
        "pkg.up",
        "i",
        "*",
        "otherwise",
    ]
    assert package_imports(tree, "pkg") == ["a", "b", "b", "d", "e", "e", "up"]


def _package(root: Path, modules: dict[str, str]) -> Path:
    package = root / "pkg"
    package.mkdir()
    for name, source in modules.items():
        (package / f"{name}.py").write_text(source)
    return package


def test_module_closure_follows_imports_from_the_roots_only(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "__init__": '"""pkg"""\nimport sys\nfrom portable_fn.runtime.errors import DeployError\n',
            "shim": "from .util import x\nimport json\n",
            "util": "from pkg import more\nx = 1\n",
            "more": "",
            "extra": "",
            "provider": "import boto3\nfrom .shim import y\n",
        },
    )
    assert module_closure(package, "pkg", ["shim"], stub_init=b"stub") == [
        ("pkg/more.py", package / "more.py"),
        ("pkg/shim.py", package / "shim.py"),
        ("pkg/util.py", package / "util.py"),
        ("pkg/__init__.py", package / "__init__.py"),
    ]
    names = [name for name, _ in module_closure(package, "pkg", ["shim", "extra", "missing"], stub_init=b"")]
    assert names == ["pkg/extra.py", "pkg/more.py", "pkg/shim.py", "pkg/util.py", "pkg/__init__.py"]


@pytest.mark.parametrize("init", ["from .provider import P\n", "import boto3\n", "import portable_fn.app\n"])
def test_module_closure_stubs_an_init_that_imports_more_than_ships(tmp_path: Path, init: str) -> None:
    package = _package(tmp_path, {"__init__": init, "shim": "import json\n", "provider": ""})
    assert module_closure(package, "pkg", ["shim"], stub_init=b"stub") == [
        ("pkg/shim.py", package / "shim.py"),
        ("pkg/__init__.py", b"stub"),
    ]


# What of a provider package ships, one case each, for every provider's `shim_files`: the modules of a
# package holding `shim.py` (the case's source), `extra.py`, `names.py` and a deploy-side `provider.py`.
# Each provider used to scan imports its own way; these pin the one way all now share.
SHIM_CASES = {
    "import_module with an absolute literal name": (
        "import importlib\ndef load():\n    return importlib.import_module('{pkg}.extra')\n",
        {"extra"},
    ),
    "import_module with a relative literal name": (
        "from importlib import import_module\ndef load():\n    return import_module('.extra', __package__)\n",
        {"extra"},
    ),
    "__import__ with a literal name": ("def load():\n    return __import__('{pkg}.extra')\n", {"extra"}),
    "from . import, inside a function": ("def load():\n    from . import extra\n", {"extra"}),
    "a relative from-import": ("from .extra import x\n", {"extra"}),
    "an absolute from-import of the package": ("from {pkg} import extra\n", {"extra"}),
    "an import under TYPE_CHECKING, which never runs": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import extra\n",
        set(),
    ),
    "the else of typing.TYPE_CHECKING, which runs": (
        "import typing\nif typing.TYPE_CHECKING:\n    from .provider import P\nelse:\n    from . import extra\n",
        {"extra"},
    ),
    "a module named like the deploy side": ("from .names import queue_name\n", {"names"}),
}
INIT_CASES = {
    "an init that imports nothing": ('"""pkg"""\n', True),
    "an init importing the deploy side under TYPE_CHECKING": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .provider import P\n",
        True,
    ),
    "an init importing the deploy side": ("from .provider import P\n", False),
    "an init importing a third-party module": ("import azure.functions\n", False),
}


def _aws_shim_files(package: Path) -> list[tuple[str, Path | bytes]]:
    from portable_fn_aws.packaging import shim_files

    return shim_files(package)


def _gcp_shim_files(package: Path) -> list[tuple[str, Path | bytes]]:
    from portable_fn_gcp.packaging import shim_files

    return shim_files(package)


def _azure_shim_files(package: Path) -> list[tuple[str, Path | bytes]]:
    from portable_fn_azure.packaging import shim_files

    return shim_files("import azure.functions as func\nfrom portable_fn_azure import shim\n", package)


SHIM_FILES = {
    "portable_fn_aws": _aws_shim_files,
    "portable_fn_gcp": _gcp_shim_files,
    "portable_fn_azure": _azure_shim_files,
}


def _provider_package(root: Path, name: str, shim: str, init: str = '"""pkg"""\n') -> Path:
    package = root / name
    package.mkdir()
    modules = {
        "__init__": init,
        "shim": shim.format(pkg=name),
        "extra": "x = 1\n",
        "names": "def queue_name() -> str:\n    return 'q'\n",
        "provider": "import boto3\nP = 1\n",
    }
    for module, source in modules.items():
        (package / f"{module}.py").write_text(source)
    return package


@pytest.mark.parametrize("provider", sorted(SHIM_FILES))
@pytest.mark.parametrize("case", sorted(SHIM_CASES))
def test_every_provider_ships_the_same_modules_of_its_package(tmp_path: Path, provider: str, case: str) -> None:
    shim, expected = SHIM_CASES[case]
    entries = dict(SHIM_FILES[provider](_provider_package(tmp_path, provider, shim)))
    assert set(entries) == {f"{provider}/{m}.py" for m in {"__init__", "shim", *expected}}


@pytest.mark.parametrize("provider", sorted(SHIM_FILES))
@pytest.mark.parametrize("case", sorted(INIT_CASES))
def test_every_provider_ships_an_init_as_is_only_if_it_imports_what_ships(
    tmp_path: Path, provider: str, case: str
) -> None:
    init, as_is = INIT_CASES[case]
    package = _provider_package(tmp_path, provider, "import json\n", init)
    entries = dict(SHIM_FILES[provider](package))
    assert (entries[f"{provider}/__init__.py"] == package / "__init__.py") is as_is
    assert f"{provider}/provider.py" not in entries


def test_the_stdlib_only_scan_reports_each_foreign_import_once_and_a_name_built_at_run_time(tmp_path: Path) -> None:
    """What the providers' stdlib-only checks see: `from m import a` as `m` when `m` is foreign, `a` when
    only it is, and an `import_module` whose name no scan can know."""
    probe = _package(
        tmp_path,
        {
            "probe": "from .provider import P\nfrom . import provider, shim\n"
            "from portable_fn import app\nfrom portable_fn.runtime import x\n"
            "def f(name):\n    return importlib.import_module(name)\n"
        },
    )
    assert foreign_imports(probe / "probe.py", "pkg", {"shim"}) == [
        (1, "pkg.provider"),
        (2, "pkg.provider"),
        (3, "portable_fn.app"),
        (6, "*"),
    ]


def test_the_download_cache_is_where_the_environment_says(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PORTABLE_FN_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache("wheels") == tmp_path / "home" / ".cache" / "portable-fn" / "wheels"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache("gcp-pins") == tmp_path / "xdg" / "portable-fn" / "gcp-pins"
    monkeypatch.setenv("PORTABLE_FN_CACHE_DIR", str(tmp_path / "ci-cache"))
    assert user_cache("azure-wheels") == tmp_path / "ci-cache" / "azure-wheels"

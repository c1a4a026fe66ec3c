"""Deterministic packages: same inputs, same bytes; nothing that must not ship gets in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from portable_fn.app import load_app
from portable_fn.local.provider import LocalProvider
from portable_fn.packaging import app_files, write_zip


def build(app_dir: Path, out: Path) -> tuple[str, bytes]:
    artifact = LocalProvider().package(load_app(app_dir), "dev", out, lambda m: None)
    return artifact.sha256, artifact.path.read_bytes()


def test_the_same_app_gives_the_same_bytes_on_rebuild_and_after_touching_files(
    shop_copy: Path, tmp_path: Path
) -> None:
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
    for unwanted in (".env", ".env.production", "deploy-key.pem", ".git/config", ".venv/lib/x.py",
                     "shop/__pycache__/functions.cpython-311.pyc", "node_modules/a/index.js",
                     "shop.egg-info/PKG-INFO", ".portable-fn/build/old.zip"):
        path = shop_copy / unwanted
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("SECRET=hunter2\n")
    names = {name for name, _ in app_files(shop_copy)}
    assert names == {"pyproject.toml", "shop/__init__.py", "shop/functions.py", "shop/models.py"}
    _, data = build(shop_copy, tmp_path / "out")
    assert b"hunter2" not in data


def test_entries_are_sorted_with_fixed_times_and_modes(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_text("b")
    (tmp_path / "a.sh").write_text("#!/bin/sh\n")
    (tmp_path / "a.sh").chmod(0o755)
    artifact = write_zip(tmp_path / "out.zip", [("b.py", tmp_path / "b.py"), ("a.sh", tmp_path / "a.sh"),
                                                ("gen.json", b"{}")])
    with zipfile.ZipFile(artifact.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["a.sh", "b.py", "gen.json"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert [(i.external_attr >> 16) & 0o777 for i in infos] == [0o755, 0o644, 0o644]
    assert artifact.files == 3


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
    result = subprocess.run([sys.executable, "-I", "-c", script, str(unpacked)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr

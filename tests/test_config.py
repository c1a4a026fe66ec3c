"""[tool.portable-fn] validation: every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from portable_fn.config import load_config
from portable_fn.runtime.errors import ConfigError


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(body, encoding="utf-8")
    return tmp_path


def test_the_shop_sample_config_loads(shop_dir: Path) -> None:
    config = load_config(shop_dir)
    assert config.app == "shop"
    assert config.modules == ["shop.functions"]
    assert config.defaults.memory_mb == 256
    assert set(config.stages) == {"dev", "prod"}


def test_stage_overrides_provider_settings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
[tool.portable-fn]
app = "shop"
modules = ["main"]
aws = { region = "eu-west-1", memory = 1 }
[tool.portable-fn.stages.prod]
aws = { region = "eu-central-1" }
"""))
    assert config.provider_settings("aws", "prod") == {"region": "eu-central-1", "memory": 1}
    assert config.provider_settings("aws", "dev") == {"region": "eu-west-1", "memory": 1}


def test_missing_pyproject_says_how_to_create_an_app(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="portable-fn init"):
        load_config(tmp_path)


def test_missing_table_names_the_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[tool.portable-fn\] table"):
        load_config(write(tmp_path, "[project]\nname = 'x'\n"))


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pyproject.toml is not valid TOML"):
        load_config(write(tmp_path, "[tool.portable-fn\n"))


@pytest.mark.parametrize(("body", "key", "hint"), [
    ('app = "Shop_1"\nmodules = ["m"]', "tool.portable-fn.app", "lowercase"),
    ('app = "shop"\nmodules = []', "tool.portable-fn.modules", "at least 1"),
    ('app = "shop"\nmodules = ["not-a-module"]', "tool.portable-fn.modules", "dotted module name"),
    ('app = "shop"\nmodules = ["m"]\npython = "2.7"', "tool.portable-fn.python", "3.11"),
    ('app = "shop"\nmodules = ["m"]\nregoin = "x"', "tool.portable-fn.regoin", "unknown key"),
    ('app = "shop"\nmodules = ["m"]\n[tool.portable-fn.defaults]\nmemory_mb = 64',
     "tool.portable-fn.defaults.memory_mb", "greater than or equal to 128"),
])
def test_each_invalid_key_is_named(tmp_path: Path, body: str, key: str, hint: str) -> None:
    path = write(tmp_path, "[tool.portable-fn]\n" + body + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path / "pyproject.toml") in message
    assert key in message
    assert hint in message


def test_unknown_stage_lists_the_declared_ones(shop_dir: Path) -> None:
    config = load_config(shop_dir)
    with pytest.raises(ConfigError, match=r"stage 'qa' is not declared.*\['dev', 'prod'\]"):
        config.check_stage("qa", shop_dir / "pyproject.toml")

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
    config = load_config(
        write(
            tmp_path,
            """
[tool.portable-fn]
app = "shop"
modules = ["main"]
aws = { region = "eu-west-1", log_retention_days = 1 }
[tool.portable-fn.stages.prod]
aws = { region = "eu-central-1" }
""",
        )
    )
    assert config.provider_settings("aws", "prod") == {"region": "eu-central-1", "log_retention_days": 1}
    assert config.provider_settings("aws", "dev") == {"region": "eu-west-1", "log_retention_days": 1}


def test_missing_pyproject_says_how_to_create_an_app(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="portable-fn init"):
        load_config(tmp_path)


def test_missing_table_names_the_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[tool.portable-fn\] table"):
        load_config(write(tmp_path, "[project]\nname = 'x'\n"))


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pyproject.toml is not valid TOML"):
        load_config(write(tmp_path, "[tool.portable-fn\n"))


@pytest.mark.parametrize(
    ("body", "key", "hint"),
    [
        (
            'app = "Shop_1"\nmodules = ["m"]',
            "tool.portable-fn.app",
            "use 3-32 lowercase letters, digits and '-', starting with a letter",
        ),
        ('app = "shop"\nmodules = []', "tool.portable-fn.modules", "at least 1"),
        ('app = "shop"\nmodules = ["not-a-module"]', "tool.portable-fn.modules", "dotted module name"),
        ('app = "shop"\nmodules = ["m"]\npython = "2.7"', "tool.portable-fn.python", "3.11"),
        ('app = "shop"\nmodules = ["m"]\nregoin = "x"', "tool.portable-fn.regoin", "unknown key"),
        (
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.defaults]\nmemory_mb = 64',
            "tool.portable-fn.defaults.memory_mb",
            "must be 128 or more, not 64",
        ),
        (
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.defaults]\narchitecture = "arm"',
            "tool.portable-fn.defaults.architecture",
            "use 'x86_64' or 'arm64', not 'arm'",
        ),
        (
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.defaults]\nmemory_mb = "big"',
            "tool.portable-fn.defaults.memory_mb",
            "must be a whole number, not 'big'",
        ),
        (
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.stages.prod]\nevn = { A = "1" }',
            "tool.portable-fn.stages.prod.evn",
            "unknown key; did you mean 'env'?",
        ),
        ('app = "shop"\nmodles = ["m"]', "tool.portable-fn.modles", "did you mean 'modules'?"),
        (  # pydantic's own words ("Input should be a finite number")
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.defaults]\nretries = 1e400',
            "tool.portable-fn.defaults.retries",
            "must be a finite number (inf, nan and numbers past 1e308 are not), not inf",
        ),
        (  # was accepted: resources named `c-s5-Bad Stage!-a`, a build path with a space
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.stages."Bad Stage!"]',
            "tool.portable-fn.stages",
            "'Bad Stage!' is not a valid stage name: use 1-16 lowercase letters",
        ),
        # env names and values no process environment holds: every command ended in a traceback
        (
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.defaults]\nenv = { "" = "z" }',
            "tool.portable-fn.defaults.env",
            "'' is not an environment variable name",
        ),
        (
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.stages.prod]\nenv = { "A=B" = "z" }',
            "tool.portable-fn.stages.prod.env",
            "'A=B' is not an environment variable name",
        ),
        (
            'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.defaults]\nenv = { X = "a\\u0000b" }',
            "tool.portable-fn.defaults.env",
            "holds a NUL character",
        ),
    ],
)
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


@pytest.mark.parametrize(
    "body",
    [
        'app = "Shop_1"\nmodules = ["m"]',
        'app = "shop"\nmodules = ["m"]\npython = "2.7"',
        'app = "shop"\nmodules = ["not-a-module"]',
        'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.defaults]\narchitecture = "arm"',
        'app = "shop"\nmodules = ["m"]\n[tool.portable-fn.aws]\nhttp = "rest"\nregoin = "x"',
    ],
)
def test_messages_say_what_is_allowed_without_pydantic_words_or_patterns(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[tool.portable-fn]\n" + body + "\n"))
    message = str(info.value)
    for leak in (
        "Value error",
        "String should match pattern",
        "Input should",
        "^",
        "[a-z",
        "pydantic",
        "For further information",
    ):
        assert leak not in message


# -- provider settings: typed models, unknown keys are errors -------------------------------------------


@pytest.mark.parametrize(
    ("provider", "typo", "meant"),
    [
        ("aws", "regoin", "region"),
        ("gcp", "projet", "project"),
        ("azure", "locaton", "location"),
        ("local", "stat_dir", "state_dir"),
    ],
)
def test_an_unknown_provider_key_names_the_file_the_key_and_the_close_match(
    tmp_path: Path, provider: str, typo: str, meant: str
) -> None:
    path = write(
        tmp_path, f'[tool.portable-fn]\napp = "shop"\nmodules = ["m"]\n[tool.portable-fn.{provider}]\n{typo} = "x"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path / "pyproject.toml") in message
    assert f"tool.portable-fn.{provider}.{typo}: unknown key; did you mean {meant!r}?" in message
    assert "Valid keys: " in message and meant in message.split("Valid keys: ")[1]


def test_a_stages_provider_table_is_checked_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[tool.portable-fn]
app = "shop"
modules = ["m"]
[tool.portable-fn.aws]
region = "eu-west-1"
[tool.portable-fn.stages.dev]
[tool.portable-fn.stages.prod]
aws = { regoin = "eu-central-1", log_retention_days = "30" }
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "tool.portable-fn.stages.prod.aws.regoin: unknown key; did you mean 'region'?" in message
    assert "tool.portable-fn.stages.prod.aws.log_retention_days: must be a whole number, not '30'" in message


def test_every_key_the_readme_documents_is_accepted(tmp_path: Path) -> None:
    load_config(
        write(
            tmp_path,
            """
[tool.portable-fn]
app = "shop"
modules = ["m"]
[tool.portable-fn.local]
state_dir = "cloud"
port = 8081
[tool.portable-fn.aws]
region = "eu-west-1"
profile = "work"
log_retention_days = 30
buckets = { uploads = "my-existing-bucket" }
http = "http-api"
package = "function"
direct_upload_limit_mb = 0
deployment_bucket = "my-zips"
[tool.portable-fn.gcp]
project = "p"
region = "europe-west1"
service_account = "fn@p.iam.gserviceaccount.com"
ingress = "ALLOW_INTERNAL_ONLY"
min_instances = 1
max_instances = 5
buckets = { uploads = "my-existing-bucket" }
project_number = "123"
grant_storage_agent = false
grant_wait_s = 600
retry_every_s = 10
subscription_wait_s = 60
endpoints = { functions = "http://127.0.0.1:9000" }
[tool.portable-fn.azure]
subscription_id = "00000000-0000-0000-0000-000000000000"
location = "westeurope"
resource_group = "rg"
plan_sku = "FC1"
instance_memory_mb = 4096
maximum_instance_count = 200
storage_auth = "connection_string"
queue_transport = "service_bus"
topic_transport = "service_bus"
remote_build = true
""",
        )
    )


def test_every_setting_a_provider_reads_is_documented_in_the_readme() -> None:
    """Settings are documented once, in the README's "App configuration": a key a provider's settings
    model accepts and the README does not name is a setting nobody can find."""
    from portable_fn.provider import settings_models

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## App configuration", 1)[1].split("\n## ", 1)[0]
    missing = {
        name: [key for key in model.model_fields if f"`{key}`" not in section]
        for name, model in settings_models().items()
    }
    assert {name: keys for name, keys in missing.items() if keys} == {}


def test_a_provider_built_with_an_unknown_key_says_so() -> None:
    from portable_fn_aws.provider import AwsProvider

    with pytest.raises(ConfigError, match=r"tool.portable-fn.aws.regoin: unknown key; did you mean 'region'\?"):
        AwsProvider({"regoin": "eu-west-1"})
    assert AwsProvider({"region": "eu-west-1"}).settings == {"region": "eu-west-1"}


def test_the_cli_refuses_a_misspelled_key_before_anything_runs(capsys, tmp_path: Path) -> None:
    from portable_fn.cli import main

    write(tmp_path, '[tool.portable-fn]\napp = "shop"\nmodules = ["m"]\n[tool.portable-fn.aws]\nregoin = "x"\n')
    assert main(["plan", str(tmp_path), "--provider", "aws"]) == 1
    err = capsys.readouterr().err
    assert "tool.portable-fn.aws.regoin: unknown key; did you mean 'region'?" in err and "Traceback" not in err


# -- a misspelled [tool.portable-fn] --------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        "tool.portablefn",
        "tool.portable_fn",
        "tool.portable-functions",
        "tool.Portable-FN",
        "tools.portable-fn",
        "portable-fn",
    ],
)
def test_a_misspelled_table_is_named(tmp_path: Path, table: str) -> None:
    path = write(tmp_path, f'[{table}]\napp = "shop"\nmodules = ["m"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "has no [tool.portable-fn] table" in message and f"[{table}]" in message


def test_an_unrelated_table_is_not_suggested(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[tool.poetry]\nname = 'x'\n[tool.ruff]\nline-length = 100\n"))
    assert "but it has" not in str(info.value) and "add one with at least" in str(info.value)

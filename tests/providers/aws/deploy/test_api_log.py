"""What `--verbose` shows of a deploy to AWS: every API call on the "portable_fn.api" logger, without secrets.

A real deploy of samples/shop to the moto server (see conftest), with a secret planted in the stage's
environment and the dummy credentials' keys and session token in the process environment.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.deploy import pipeline

PLANTED = "sk_live_planted_0123456789abcdef"
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def api_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "portable_fn.api"]


@pytest.fixture
def shop_with_secret(shop: Any) -> Any:
    pyproject = shop.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.stages.dev]\n", f'[tool.portable-fn.stages.dev]\nenv = {{ PAYMENT_KEY = "{PLANTED}" }}\n'
        )
    )
    return load_app(shop.root)


def test_a_deploy_logs_each_call_as_service_operation_and_resource(
    provider: Any, shop_with_secret: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="portable_fn.api")
    pipeline.deploy(provider, shop_with_secret, "dev")
    lines = api_lines(caplog)
    assert "aws lambda CreateFunction shop-dev-fulfil" in lines
    assert "aws iam CreateRole shop-dev-fulfil" in lines
    assert "aws iam PutRolePolicy shop-dev-fulfil/portable-fn" in lines
    assert "aws sqs CreateQueue shop-dev-orders" in lines
    assert "aws sts GetCallerIdentity -" in lines
    assert all(len(line.split(" ")) == 4 and line.startswith("aws ") for line in lines)
    recorded = provider.deployer.client.calls
    assert [tuple(line.split(" ")[1:3]) for line in lines] == recorded  # one line per call made, in order


def test_no_line_holds_an_environment_value_or_a_credential(
    provider: Any, shop_with_secret: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-secret-access-key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "planted-session-token")
    caplog.set_level(logging.DEBUG, logger="portable_fn.api")
    pipeline.deploy(provider, shop_with_secret, "dev")
    text = "\n".join(api_lines(caplog))
    assert "CreateFunction" in text
    for secret in (PLANTED, "planted-secret-access-key", "planted-session-token", "PAYMENT_KEY", "Variables"):
        assert secret not in text

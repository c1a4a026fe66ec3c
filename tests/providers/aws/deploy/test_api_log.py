"""What `--verbose` shows of a deploy to AWS: every API call on the "portable_fn.api" logger, without secrets.

A real deploy of samples/shop to the moto server (see conftest), with a secret planted in the stage's
environment and the dummy credentials' keys and session token in the process environment.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from portable_fn_aws.deploy.audit import audit_bucket
from portable_fn_aws.deploy.client import READ_PREFIXES

from portable_fn.app import load_app
from portable_fn.deploy import pipeline

ACCOUNT = "123456789012"  # moto's default
PLANTED = "sk_live_planted_0123456789abcdef"
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def api_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "portable_fn.api"]


@pytest.fixture
def shop_with_secret(shop: Any) -> Any:
    """The shop with a literal secret in its dev environment, which the policy refuses (PFN003) unless
    waived: waived here, as what is tested is that a deploy of one never logs it."""
    pyproject = shop.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.stages.dev]\n", f'[tool.portable-fn.stages.dev]\nenv = {{ PAYMENT_KEY = "{PLANTED}" }}\n'
        )
        + '\n[[tool.portable-fn.policy.waivers]]\nrule = "PFN003"\nreason = "planted to check the API log"\n'
    )
    return load_app(shop.root)


def test_a_deploy_logs_each_call_as_service_operation_and_resource(
    provider: Any, shop_with_secret: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="portable_fn.api")
    outcome = pipeline.deploy(provider, shop_with_secret, "dev")
    lines = api_lines(caplog)
    assert "aws lambda CreateFunction shop-dev-fulfil" in lines
    assert "aws iam CreateRole shop-dev-fulfil" in lines
    assert "aws iam PutRolePolicy shop-dev-fulfil/portable-fn" in lines
    assert "aws sqs CreateQueue shop-dev-orders" in lines
    assert "aws sts GetCallerIdentity -" in lines
    assert all(len(line.split(" ")) == 4 and line.startswith("aws ") for line in lines)

    # after the change and before the outputs are read, the audit record, through the audit's own client:
    # the first PutObject finds no bucket, which is made private, encrypted, versioned and tagged, then the
    # record is written and the bucket tagged with it
    assert outcome.audit is not None
    bucket = audit_bucket("shop", "dev", ACCOUNT, "eu-west-1")
    record = f"{bucket}/pfn-audit/shop/dev/{outcome.audit.name}"
    audited = [
        f"aws s3 PutObject {record}",
        f"aws s3 CreateBucket {bucket}",
        f"aws s3 PutPublicAccessBlock {bucket}",
        f"aws s3 PutBucketEncryption {bucket}",
        f"aws s3 PutBucketVersioning {bucket}",
        f"aws s3 GetBucketTagging {bucket}",
        f"aws s3 PutBucketTagging {bucket}",
        f"aws s3 PutObject {record}",
        f"aws s3 GetBucketTagging {bucket}",
        f"aws s3 PutBucketTagging {bucket}",
    ]
    start = lines.index(audited[0])
    assert lines[start : start + len(audited)] == audited
    before, after = lines[:start], lines[start + len(audited) :]
    assert before[-1] == "aws scheduler CreateSchedule shop-dev/nightly_report"  # the plan's last step
    assert after[0] == "aws resourcegroupstaggingapi GetResources -"  # the outputs' read of what is there
    assert all(line.split(" ")[2].startswith(READ_PREFIXES) for line in after)

    def calls(part: list[str]) -> list[tuple[str, ...]]:
        return [tuple(line.split(" ")[1:3]) for line in part]

    # one line per call made, in order: the deploy's on its client, the audit's on its own
    assert calls(before + after) == provider.deployer.client.calls
    assert calls(audited) == provider.deployer.audit_client.calls


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

"""The policy (`portable_fn.policy`) over AWS's real desired resources, built against the moto server (AWS
asks STS for the account id): the grants rule reads the IAM roles' statements, and the public-http rule the
Function URLs and resource policies, which open only the functions that declare public=True."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy.resources import FunctionUrl

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.deploy import Artifact
from portable_fn.policy import evaluate
from portable_fn.provider import load_provider

CLEAN = Path(__file__).resolve().parents[3] / "policy" / "apps" / "clean"
ARTIFACT = Artifact(Path("/tmp/app.zip"), "ab" * 32, 10, 1)


def test_check_reads_the_grants_when_aws_answers(shop: Any, endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(shop.root), "--provider", "aws", "--endpoint-url", endpoint]) == 0
    assert capsys.readouterr().out == "Policy: 0 violation(s), 0 waived (9 rules, aws, stage dev)\n"


def test_only_the_functions_that_declare_public_are_open_and_no_grant_is_a_wildcard(endpoint: str) -> None:
    app = load_app(CLEAN)
    provider = load_provider("aws", app.config.provider_settings("aws", "dev"), endpoint)
    desired = provider.desired(app, "dev", ARTIFACT)
    assert len(provider.grants(desired)) > 0
    report = evaluate(provider, app, "dev", desired, environ={})
    assert (report.violations, report.skipped) == ([], [])
    urls = {r.name: r for r in desired if isinstance(r, FunctionUrl)}
    assert sorted((name.rsplit("-", 1)[-1], url.auth_type) for name, url in urls.items()) == [
        ("place_order", "AWS_IAM"),
        ("status", "NONE"),
    ]
    private = next(url for name, url in urls.items() if name.endswith("place_order"))
    opened = [dataclasses.replace(r, auth_type="NONE") if r is private else r for r in desired]
    report = evaluate(provider, app, "dev", opened, environ={})
    assert [(f.rule, f.function, f.message) for f in report.violations] == [
        (
            "PFN001",
            "place_order",
            "aws's resources let anyone call 'place_order', which declares neither public=True nor auth=.",
        )
    ]

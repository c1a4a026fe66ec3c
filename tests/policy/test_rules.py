"""The built-in rules (PFN001-PFN009): each fires on the `risky` app, exactly where it should, and none fires
on the `clean` app, which configures them all; the rules that read the provider's desired resources read
real ones (the local, Google Cloud and Azure providers build theirs without a cloud call)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from portable_fn_gcp.deploy.resources import PublicInvoker

from portable_fn.app import App, load_app
from portable_fn.deploy.grants import Grant
from portable_fn.deploy.models import Resource
from portable_fn.local.provider import LocalProvider
from portable_fn.policy import BUILTIN_RULES, PolicyReport, evaluate
from portable_fn.policy.engine import offline_desired
from portable_fn.provider import Provider, load_provider

from .conftest import APPS, ENVIRON

RISKY = APPS / "risky"


def run(app: App, provider_name: str, environ: dict[str, str] = ENVIRON) -> PolicyReport:
    provider = load_provider(provider_name, app.config.provider_settings(provider_name, "dev"), None)
    desired, why = offline_desired(provider, app, "dev")
    return evaluate(provider, app, "dev", desired, environ=environ, no_desired=why)


def found(report: PolicyReport) -> list[tuple[str, str | None]]:
    return [(f.rule, f.function) for f in report.violations]


def test_the_rules_have_stable_ids_names_and_help() -> None:
    assert [(r.id, r.name) for r in BUILTIN_RULES] == [
        ("PFN001", "public-http"),
        ("PFN002", "dead-letter"),
        ("PFN003", "no-secret-env"),
        ("PFN004", "memory-bounds"),
        ("PFN005", "timeout-bounds"),
        ("PFN006", "required-tags"),
        ("PFN007", "allowed-regions"),
        ("PFN008", "python-version"),
        ("PFN009", "no-wildcard-grants"),
    ]
    for each in BUILTIN_RULES:
        assert each.description.endswith(".") and each.fix.endswith(".") and "\n" not in each.description


@pytest.mark.parametrize("provider", ["local", "gcp", "azure"])
def test_the_clean_app_keeps_every_rule(provider: str) -> None:
    report = run(load_app(APPS / "clean"), provider)
    assert (report.violations, report.waived, report.skipped) == ([], [], [])
    assert report.lines() == [f"Policy: 0 violation(s), 0 waived (9 rules, {provider}, stage dev)"]


@pytest.mark.usefixtures("no_aws_login")
def test_the_clean_app_keeps_every_rule_on_aws_without_a_login() -> None:
    """AWS's resources are built with placeholder ARNs (as `export` writes them), so the grants are checked
    too without asking STS for the account."""
    report = run(load_app(APPS / "clean"), "aws")
    assert (report.violations, report.waived, report.skipped) == ([], [], [])
    assert report.lines() == ["Policy: 0 violation(s), 0 waived (9 rules, aws, stage dev)"]


def test_each_rule_fires_on_the_risky_app() -> None:
    report = run(load_app(RISKY), "azure")
    assert found(report) == [
        ("PFN001", "export_report"),
        ("PFN002", "sync"),
        ("PFN003", None),
        ("PFN003", None),
        ("PFN003", "notify"),
        ("PFN004", "export_report"),
        ("PFN005", "sync"),
        ("PFN006", None),
        ("PFN007", None),
        ("PFN008", None),
    ]
    messages = [f.message for f in report.violations]
    assert messages == [
        "HTTP function 'export_report' is declared public=True but is not in the policy's public_functions.",
        "queue function 'sync' is retried (3 attempts) with dead_letter=False, so an event that keeps failing is lost.",
        "[tool.portable-fn.defaults.env] DB_PASSWORD holds a literal value under a secret's name.",
        "[tool.portable-fn.stages.dev.env] ORDERS_DB holds a password in a URL (scheme://user:password@host).",
        "@function env SLACK_TOKEN holds a Slack token.",
        "'export_report' has memory_mb=2048 MB; the policy allows at most 1024 MB.",
        "'sync' has timeout_s=300 s; the policy allows at most 60 s.",
        "tags lack cost-center (stage dev).",
        "azure has no location set, so it cannot be checked against ['eu-west-1'].",
        "the app runs on Python 3.10; the policy supports ['3.11', '3.12'].",
    ]


def test_each_finding_points_at_the_line_it_is_about() -> None:
    report = run(load_app(RISKY), "aws")
    places = {(f.rule, f.function): (Path(str(f.file)).name, f.line) for f in report.violations}
    lines = (RISKY / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    source = (RISKY / "risky_app" / "functions.py").read_text(encoding="utf-8").splitlines()
    assert lines[places[("PFN007", None)][1] - 1] == 'region = "us-east-1"'
    assert lines[places[("PFN006", None)][1] - 1] == 'tags = { team = "payments" }'
    assert lines[places[("PFN008", None)][1] - 1] == 'python = "3.10"'
    assert lines[places[("PFN001", "export_report")][1] - 1] == "public_functions = []"
    assert places[("PFN003", "notify")][0] == "functions.py"
    assert source[places[("PFN003", "notify")][1] - 1].startswith('@function(trigger=topic("alerts")')
    assert source[places[("PFN002", "sync")][1] - 1].startswith('@function(trigger=queue("sync")')


def test_the_region_comes_from_the_environment_when_the_settings_leave_it_out() -> None:
    app, provider = load_app(RISKY), load_provider("gcp", {}, None)  # risky has no [tool.portable-fn.gcp]
    allowed = evaluate(provider, app, "dev", None, environ={"CLOUDSDK_FUNCTIONS_REGION": "eu-west-1"})
    assert "PFN007" not in [f.rule for f in allowed.violations]
    report = evaluate(provider, app, "dev", None, environ={"CLOUDSDK_FUNCTIONS_REGION": "us-central1"})
    assert [f.message for f in report.violations if f.rule == "PFN007"] == [
        "gcp deploys to region 'us-central1', not one of ['eu-west-1']."
    ]


def test_a_function_the_providers_resources_open_to_anyone_must_declare_public() -> None:
    """The desired resources are the truth: GCP's public invoker binding on a function without public=True
    is found; on the one that declares it, it is not."""
    app = load_app(APPS / "clean")
    provider = load_provider("gcp", app.config.provider_settings("gcp", "dev"), None)
    desired, why = offline_desired(provider, app, "dev")
    assert why is None and desired is not None
    invokers = [r for r in desired if isinstance(r, PublicInvoker)]
    assert len(invokers) == 1  # status, the one public function
    function_ids = {dict(getattr(r, "env", ()) or ()).get("PORTABLE_FN_FUNCTION"): r.name for r in desired}
    opened = PublicInvoker(function_ids["place_order"].rsplit("/", 1)[-1])
    report = evaluate(provider, app, "dev", [*desired, opened], environ=ENVIRON)
    assert found(report) == [("PFN001", "place_order")]
    assert report.violations[0].message == (
        "gcp's resources let anyone call 'place_order', which declares neither public=True nor auth=."
    )


class GrantingProvider(LocalProvider):
    """The local provider, granting what a test says (a provider with a wildcard in its grants)."""

    def __init__(self, grants: Sequence[Grant]) -> None:
        super().__init__({})
        self.given = list(grants)

    def grants(self, desired: Sequence[Resource]) -> list[Grant]:
        return self.given


ROLE = "arn:aws:iam::123456789012:role/clean-dev-fulfil"
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:clean-dev-orders"
SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000"
ACCOUNT = f"{SUBSCRIPTION}/resourceGroups/clean-dev-rg/providers/Microsoft.Storage/storageAccounts/cleandev"
WIDE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"


@pytest.mark.parametrize(
    ("grant", "wide"),
    [
        (Grant("fulfil", ROLE, ("sqs:ReceiveMessage", "sqs:DeleteMessage"), QUEUE), False),
        (Grant("fulfil", ROLE, ("sqs:*",), QUEUE), True),
        (Grant("fulfil", ROLE, ("sqs:SendMessage",), "*"), True),
        (Grant(None, "identity", (WIDE,), ACCOUNT, "Storage Blob Data Owner"), False),  # Microsoft's, on one account
        (Grant(None, "identity", (WIDE,), SUBSCRIPTION, "Storage Blob Data Owner"), True),
        (Grant(None, "identity", (WIDE,), f"{SUBSCRIPTION}/resourceGroups/clean-dev-rg", "Owner"), True),
        (Grant(None, "sa", ("storage.objects.*",), "projects/clean", "roles/storage.admin"), True),
        (Grant(None, "sa", ("storage.objects.*",), "projects/_/buckets/clean-dev", "roles/storage.admin"), False),
    ],
)
def test_no_wildcard_grants(grant: Grant, wide: bool) -> None:
    app = load_app(APPS / "clean")
    report = evaluate(GrantingProvider([grant]), app, "dev", [], environ=ENVIRON)
    assert found(report) == ([("PFN009", grant.function)] if wide else [])
    if wide:
        assert report.violations[0].message == f"{grant.describe()} is a wildcard grant."


def test_the_grants_rule_reads_the_real_grants_of_gcp_and_azure() -> None:
    app = load_app(APPS / "clean")
    for name in ("gcp", "azure"):
        provider: Provider = load_provider(name, app.config.provider_settings(name, "dev"), None)
        desired, _ = offline_desired(provider, app, "dev")
        assert desired is not None and provider.grants(desired), name  # there are grants, and none is wide
        assert evaluate(provider, app, "dev", desired, environ=ENVIRON).violations == []


def test_the_stages_tags_count_for_the_required_ones(app_copy) -> None:  # type: ignore[no-untyped-def]
    app = app_copy("risky")
    pyproject = app.root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace(
            "[tool.portable-fn.stages.dev]\n", '[tool.portable-fn.stages.dev]\ntags = { cost-center = "42" }\n'
        )
    )
    tagged = load_app(app.root)
    assert "PFN006" not in [f.rule for f in evaluate(LocalProvider({}), tagged, "dev", [], environ=ENVIRON).violations]

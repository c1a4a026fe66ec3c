"""What `--verbose` shows of a deploy to Google Cloud: every API call on the "portable_fn.api" logger, without
secrets.

A real deploy of samples/shop with the official clients to the recording endpoint and gcp-storage-emulator
(see conftest), with a secret planted in the stage's environment (the policy's no-secret-env finding waived,
so the deploy goes ahead); the upload URLs the endpoint hands out are signed (a `Signature` query), as
Google's are. The deploy's audit record goes to the stage's audit bucket, and its calls are on the log too.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from portable_fn_gcp.deploy.audit import audit_bucket
from portable_fn_gcp.deploy.naming import Names

from portable_fn.app import load_app
from portable_fn.deploy import pipeline

PLANTED = "sk_live_planted_0123456789abcdef"
AUDIT = audit_bucket(Names("shop", "dev", "shop-project", "europe-west1"))  # the stage's audit trail
LOCATION = "projects/shop-project/locations/europe-west1"
WAIVER = """
[[tool.portable-fn.policy.waivers]]
rule = "PFN003"
reason = "a planted value: this test checks it reaches no log line"
"""


def api_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "portable_fn.api"]


@pytest.fixture
def shop_with_secret(shop: Any) -> Any:
    pyproject = shop.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.stages.dev]\n", f'[tool.portable-fn.stages.dev]\nenv = {{ PAYMENT_KEY = "{PLANTED}" }}\n'
        )
        + WAIVER
    )
    return load_app(shop.root)


def test_a_deploy_logs_each_call_as_service_method_and_resource(
    provider: Any, shop_with_secret: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="portable_fn.api")
    outcome = pipeline.deploy(provider, shop_with_secret, "dev")
    lines = api_lines(caplog)
    assert f"gcp functions CreateFunction {LOCATION}/functions/shop-dev-fulfil" in lines
    assert f"gcp functions UpdateFunction {LOCATION}/functions/shop-dev-fulfil" not in lines
    assert f"gcp functions GenerateUploadUrl {LOCATION}" in lines
    assert "gcp pubsub CreateTopic projects/shop-project/topics/shop-dev-orders" in lines
    assert f"gcp scheduler CreateJob {LOCATION}/jobs/shop-dev-sweep" in lines
    assert f"gcp functions ListFunctions {LOCATION}" in lines
    assert any(line.startswith("gcp storage Upload /") for line in lines)
    assert all(len(line.split(" ")) == 4 and line.startswith("gcp ") for line in lines)
    # the audit record: its upload finds no bucket, so the bucket is made and the record sent again; then the
    # bucket's labels are read and set to name it. Nothing else touches the audit bucket.
    record = outcome.audit
    assert record is not None and record.location == f"gs://{AUDIT}/pfn-audit/shop/dev/{record.name}"
    trail = [
        f"gcp storage InsertObject {AUDIT}/pfn-audit/shop/dev/{record.name}",
        f"gcp storage CreateBucket {AUDIT}",
        f"gcp storage InsertObject {AUDIT}/pfn-audit/shop/dev/{record.name}",
        f"gcp storage GetBucket {AUDIT}",
        f"gcp storage PatchBucket {AUDIT}",
    ]
    assert [line for line in lines if AUDIT in line] == trail
    start = lines.index(trail[0])
    assert lines[start : start + len(trail)] == trail  # in one run, once the change is made
    after = lines[start + len(trail) :]  # the outputs' reads
    assert after and all(line.split(" ")[2].startswith(("Get", "List")) for line in after)


def test_no_line_holds_an_environment_value_or_an_upload_signature(
    provider: Any, shop_with_secret: Any, google: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="portable_fn.api")
    pipeline.deploy(provider, shop_with_secret, "dev")
    text = "\n".join(api_lines(caplog))
    assert "CreateFunction" in text and f"PatchBucket {AUDIT}" in text
    for secret in (PLANTED, "PAYMENT_KEY", "environment_variables", "Signature", "GoogleAccessId", "?"):
        assert secret not in text
    [(_, record)] = [(name, data) for (bucket, name), (_, data) in google.cloud_storage.objects.items()]
    assert PLANTED.encode() not in record  # nor the audit record (it names the waiver, never a value)


def test_reading_a_deployed_app_asks_for_each_thing_once(
    provider: Any, shop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """`plan` and every deploy start by reading the app: each policy, subscription and listing is asked for once,
    however many functions or accounts need it (the project's policy, the region's functions, each trigger's
    subscription with its dead-letter and retry policies)."""
    pipeline.deploy(provider, shop, "dev")
    caplog.set_level(logging.DEBUG, logger="portable_fn.api")
    remote = provider.read_remote(shop, "dev")
    lines = api_lines(caplog)
    assert len(remote) > 0 and lines
    # The app's functions (filtered by its labels) and the region's (for the accounts other apps may share) are
    # two listings that log the same line, as the filter is not shown.
    assert lines.count(f"gcp functions ListFunctions {LOCATION}") == 2
    asked_again = sorted({line for line in lines if lines.count(line) > 1 and "ListFunctions" not in line})
    assert asked_again == [], asked_again
    triggers = [line for line in lines if line.startswith("gcp eventarc GetTrigger")]
    deliveries = [
        line
        for line in lines
        if line.startswith("gcp pubsub GetSubscription projects/shop-project/subscriptions/delivery-")
    ]
    assert len(deliveries) == len(triggers) > 0  # each trigger's subscription, once for its dead letters and retries

"""The audit trail on AWS, against the moto server: who deploy acts as, the records in the audit bucket, the
anchor's tags, and a next plan that stays a no-op."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from portable_fn_aws.deploy.audit import audit_bucket
from portable_fn_aws.provider import AwsProvider

from portable_fn import audit
from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.deploy import DeployTarget, pipeline
from portable_fn.runtime.errors import DeployError

ACCOUNT, CALLER = "123456789012", "arn:aws:sts::123456789012:user/moto"  # moto's default identity
BUCKET = audit_bucket("shop", "dev", ACCOUNT, "eu-west-1")
GATEWAY = Path(__file__).with_name("apps") / "gateway"  # packaged one zip per function


def test_the_target_is_the_callers_account_region_and_arn(provider: Any) -> None:
    assert provider.target() == DeployTarget("aws", "account", ACCOUNT, "eu-west-1", CALLER)
    assert provider.target().describe() == "aws account 123456789012, region eu-west-1"


def test_the_audit_bucket_name_is_stable_unique_and_fits() -> None:
    assert re.fullmatch(r"shop-dev-audit-[0-9a-f]{12}", BUCKET)
    assert audit_bucket("shop", "dev", ACCOUNT, "eu-west-1") == BUCKET
    assert audit_bucket("shop", "prod", ACCOUNT, "eu-west-1") != BUCKET
    assert audit_bucket("shop", "dev", "210987654321", "eu-west-1") != BUCKET
    long = audit_bucket("A_very_long_app_name_" * 4, "dev", ACCOUNT, "eu-west-1")
    assert long == "a-very-long-app-name-a-very-long-app-name-a-audit-e44cd47f6902"  # 62: cut, no '-' before -audit


def test_deploy_and_remove_are_recorded_in_the_audit_bucket(provider: Any, shop: Any, boto: Any) -> None:
    outcome = pipeline.deploy(provider, shop, "dev")
    made = outcome.audit  # the record deploy wrote
    assert made is not None and outcome.plan is not None and outcome.artifact is not None

    key = f"pfn-audit/shop/dev/{made.name}"
    assert made.location == f"s3://{BUCKET}/{key}" and made.notes == ()
    assert (made.principal, made.target["scope_id"]) == (CALLER, ACCOUNT)
    stored = json.loads(boto.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert stored == made.to_dict() and stored["packages"] == {"artifact": outcome.artifact.sha256}
    tags = {t["Key"]: t["Value"] for t in boto.s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags == {"portable-fn:audit": "shop/dev", **made.tags()}

    # the bucket is kept private and encrypted, and keeps every version
    block = boto.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(block, True) and len(block) == 4
    rules = boto.s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert boto.s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"

    # a write that would overwrite a record is refused, as moto honours If-None-Match: *
    with pytest.raises(ClientError) as refused:
        boto.s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}", IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"

    # neither the bucket nor its tags are part of any plan: the next one is a no-op
    again = pipeline.plan(provider, shop, "dev")
    assert again.plan is not None and again.plan.empty

    removed = pipeline.remove(provider, shop, "dev").audit
    assert removed is not None
    assert [b["Name"] for b in boto.s3.list_buckets()["Buckets"]] == [BUCKET]  # the trail outlives the stage
    assert audit.history(provider, shop, "dev") == [removed, made]
    assert removed.summary == f"0 to create, 0 to update, {len(outcome.plan.steps)} to delete, 0 unchanged"


def test_the_record_goes_through_a_client_of_its_own_so_a_redeploy_changes_nothing_of_the_app(
    provider: Any, shop: Any, boto: Any
) -> None:
    first = pipeline.deploy(provider, shop, "dev").audit
    deployer = provider.deployer
    assert deployer.audit_client is not deployer.client
    assert deployer.audit_client.session is deployer.client.session  # one set of credentials, resolved once
    deployer.client.calls.clear()
    deployer.audit_client.calls.clear()

    again = pipeline.deploy(provider, shop, "dev")
    assert again.plan is not None and again.plan.empty and again.audit is not None
    assert deployer.client.calls and deployer.client.mutating_calls() == []  # the deploy's own: nothing
    assert ("s3", "PutObject") not in deployer.client.calls
    # the audit's: the record (the bucket is there now), then the bucket's tags read and put back with it
    assert deployer.audit_client.calls == [("s3", "PutObject"), ("s3", "GetBucketTagging"), ("s3", "PutBucketTagging")]
    assert audit.history(provider, shop, "dev") == [again.audit, first]
    tags = {t["Key"]: t["Value"] for t in boto.s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags == {"portable-fn:audit": "shop/dev", **again.audit.tags()}
    # and what is deployed is still exactly the app's: the audit bucket is found by no plan
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_history_of_a_stage_never_recorded_is_empty(provider: Any, shop: Any, boto: Any) -> None:
    assert audit.history(provider, shop, "dev") == []
    assert boto.s3.list_buckets()["Buckets"] == []  # reading makes nothing


def test_history_with_expired_credentials_says_what_to_do(provider: Any, shop: Any) -> None:
    def expired(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "GetCallerIdentity")

    provider.deployer.client.register("before-call.sts.GetCallerIdentity", expired)
    with pytest.raises(DeployError) as caught:
        audit.history(provider, shop, "dev")
    assert str(caught.value) == (
        "Reading the audit trail of 'shop' (stage 'dev') on aws failed: the AWS credentials have expired "
        "(ExpiredToken); refresh them (`aws sso login`, or new session keys) and run the command again."
    )


def test_a_package_of_one_zip_per_function_records_each_zips_hash(endpoint: str, tmp_path: Path) -> None:
    gateway = shutil.copytree(GATEWAY, tmp_path / "gateway", ignore=shutil.ignore_patterns(".portable-fn"))
    app = load_app(gateway)
    provider = AwsProvider({**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)
    outcome = pipeline.plan(provider, app, "dev")  # real packaging: the gateway app gets a zip per function
    made = audit.record(provider, app, "dev", "deploy", outcome.plan, outcome.artifact)
    zips = dict(outcome.artifact.functions)
    assert made.packages == {
        "artifact": outcome.artifact.sha256,
        **{name: zips[name].sha256 for name in ("files", "get_item", "list_items", "put_item")},
    }
    assert len(set(made.packages.values())) == 5


def test_the_history_command_reads_the_audit_bucket(
    capsys: pytest.CaptureFixture[str], endpoint: str, provider: Any, shop: Any
) -> None:
    planned = pipeline.plan(provider, shop, "dev")
    made = audit.record(provider, shop, "dev", "deploy", planned.plan, planned.artifact, error=RuntimeError("no"))
    argv = ["history", str(shop.root), "--provider", "aws", "--endpoint-url", endpoint, "--json"]
    assert main(argv) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["where"] == f"s3://{BUCKET}/pfn-audit/shop/dev/"
    assert shown["records"] == [made.to_dict()]

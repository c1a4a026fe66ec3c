"""Zips over the direct upload limit go through the app's deployment bucket, on a real moto server.

The limit is the setting `direct_upload_limit_mb`; these tests set it to 0 so the small test zips go the
way a zip over 50 MB would. moto stores the function's code from the S3 object it is pointed at: its
CodeSha256 and CodeSize are those of the object's bytes (empty when the object is missing), and
`get_function`'s code location ends in the object's key (for a `ZipFile=` upload it is a name of moto's own).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from portable_fn_aws.deploy import TAG_APP, TAG_STAGE
from portable_fn_aws.deploy.audit import audit_bucket
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

SHOP_FUNCTIONS = [
    "create_order",
    "get_order",
    "confirm_payment",
    "place_order-run",
    "fulfil",
    "sweep",
    "nightly_report",
    "on_upload",
    "notify",
]
SHOP_RESOURCES = 66  # what a deploy of the shop makes with every zip sent directly
GATEWAY = Path(__file__).with_name("apps") / "gateway"
GATEWAY_FUNCTIONS = ["list_items", "get_item", "put_item", "files"]
VIA_S3 = {"direct_upload_limit_mb": 0, "wait_delay_s": 0.1}
AUDIT_BUCKET = audit_bucket("shop", "dev", "123456789012", "eu-west-1")  # moto's default account


def lambda_sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def bucket_names(boto: Any) -> list[str]:
    return [b["Name"] for b in boto.s3.list_buckets()["Buckets"]]


def keys(boto: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in boto.s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def mutating(provider: Any) -> list[tuple[str, str]]:
    return provider.deployer.client.mutating_calls()


@pytest.fixture
def via_s3(endpoint: str, shop: Any, helpers: Any) -> Any:
    """The shop's provider with every zip over the limit, and the shop deployed with it."""
    provider = helpers.MotoProvider({**shop.config.provider_settings("aws", "dev"), **VIA_S3}, endpoint)
    outcome = pipeline.deploy(provider, shop, "dev")
    provider.deployer.client.calls.clear()
    provider.bucket = outcome.outputs["deployment_bucket"]
    return provider


def test_the_zip_is_uploaded_once_to_a_tagged_private_bucket_and_lambda_runs_it_from_there(
    via_s3: Any, boto: Any, shop: Any
) -> None:
    bucket = via_s3.bucket
    assert bucket.startswith("shop-dev-deploy-") and len(bucket) == len("shop-dev-deploy-") + 12
    # the app's data bucket, this one, and the audit trail's (`portable_fn_aws.deploy.audit`), which is no plan's
    assert sorted(bucket_names(boto)) == sorted(["shop-dev-uploads", bucket, AUDIT_BUCKET])
    tags = {t["Key"]: t["Value"] for t in boto.s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {TAG_APP: "shop", TAG_STAGE: "dev"}
    block = boto.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = boto.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    zip_bytes = (shop.root / ".portable-fn/build/aws/dev/app.zip").read_bytes()
    key = f"shop/{hashlib.sha256(zip_bytes).hexdigest()}.zip"
    assert keys(boto, bucket) == [key]  # one object, however many functions run from the app's zip
    assert boto.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == zip_bytes
    for name in SHOP_FUNCTIONS:
        found = boto.lambda_.get_function(FunctionName=f"shop-dev-{name}")
        assert found["Code"]["Location"].endswith(f"/{key}")
        assert found["Configuration"]["CodeSha256"] == lambda_sha(zip_bytes)
        assert found["Configuration"]["CodeSize"] == len(zip_bytes)


def test_a_redeploy_makes_no_mutating_call_and_uploads_nothing(via_s3: Any, shop: Any) -> None:
    outcome = pipeline.deploy(via_s3, shop, "dev")
    assert outcome.plan.empty and len(outcome.plan.unchanged) == SHOP_RESOURCES + 2  # the bucket and its one zip
    assert via_s3.deployer.client.calls and mutating(via_s3) == []


def test_a_code_change_uploads_the_new_zip_then_deletes_the_old_one(via_s3: Any, shop: Any, boto: Any) -> None:
    [old] = keys(boto, via_s3.bucket)
    via_s3.code = "# the handlers changed\n"
    outcome = pipeline.deploy(via_s3, shop, "dev")
    [new] = keys(boto, via_s3.bucket)
    assert new != old and new.startswith("shop/")
    assert [s.describe() for s in outcome.plan.steps if s.resource.kind == "code object"] == [
        f"+ create code object {via_s3.bucket}/{new}",
        f"- delete code object {via_s3.bucket}/{old}",
    ]
    assert mutating(via_s3) == [
        ("s3", "PutObject"),
        *[("lambda", "UpdateFunctionCode")] * len(SHOP_FUNCTIONS),
        ("s3", "DeleteObject"),
    ]
    code = boto.lambda_.get_function(FunctionName="shop-dev-sweep")["Code"]
    assert code["Location"].endswith(f"/{new}")


def test_what_someone_else_changed_in_the_bucket_is_put_back(via_s3: Any, shop: Any, boto: Any) -> None:
    [key] = keys(boto, via_s3.bucket)
    boto.s3.delete_object(Bucket=via_s3.bucket, Key=key)
    boto.s3.delete_public_access_block(Bucket=via_s3.bucket)
    outcome = pipeline.deploy(via_s3, shop, "dev")
    assert sorted(s.describe() for s in outcome.plan.steps) == [
        f"+ create code object {via_s3.bucket}/{key}",
        f"~ update deployment bucket {via_s3.bucket} (public_access_blocked)",
    ]
    assert sorted(mutating(via_s3)) == [("s3", "PutObject"), ("s3", "PutPublicAccessBlock")]  # no function update
    assert keys(boto, via_s3.bucket) == [key]


def test_back_under_the_limit_the_bucket_goes_and_the_functions_stay(
    via_s3: Any, shop: Any, endpoint: str, boto: Any, helpers: Any
) -> None:
    [key] = keys(boto, via_s3.bucket)
    direct = helpers.MotoProvider({**shop.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}, endpoint)
    outcome = pipeline.deploy(direct, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        f"- delete code object {via_s3.bucket}/{key}",
        f"- delete deployment bucket {via_s3.bucket}",
    ]
    assert via_s3.bucket not in bucket_names(boto)
    assert "deployment_bucket" not in outcome.outputs
    assert not [c for c in mutating(direct) if c[0] == "lambda"]  # same code: nothing to update


def test_remove_empties_and_deletes_the_bucket(via_s3: Any, shop: Any, boto: Any) -> None:
    boto.s3.put_bucket_versioning(Bucket=via_s3.bucket, VersioningConfiguration={"Status": "Enabled"})
    boto.s3.put_object(Bucket=via_s3.bucket, Key="left/by-hand.zip", Body=b"one")
    boto.s3.put_object(Bucket=via_s3.bucket, Key="left/by-hand.zip", Body=b"two")
    outcome = pipeline.remove(via_s3, shop, "dev")
    assert outcome.plan.count("delete") == SHOP_RESOURCES + 3  # the bucket and the two objects found in it
    assert bucket_names(boto) == [AUDIT_BUCKET]  # only the audit trail's outlives the stage
    assert pipeline.remove(via_s3, shop, "dev").plan.empty


def test_every_call_on_the_bucket_names_its_expected_owner(via_s3: Any, shop: Any) -> None:
    """moto does not check ExpectedBucketOwner, so what the deploy sends is read from botocore's own
    parameter-build event: every call on the bucket but CreateBucket (which has no such parameter)
    says which account must own it, so a bucket of the same name in another account is never used."""
    sent: list[tuple[str, Any]] = []
    audited: list[tuple[str, Any]] = []  # the audit trail's calls on its bucket, through its own client
    via_s3.deployer.client.register(
        "before-parameter-build.s3",
        lambda params, model, **_: sent.append((model.name, params)) if params.get("Bucket") == via_s3.bucket else None,
    )
    via_s3.deployer.audit_client.register(
        "before-parameter-build.s3",
        lambda params, model, **_: (
            audited.append((model.name, params)) if params.get("Bucket") == AUDIT_BUCKET else None
        ),
    )
    via_s3.code = "# the handlers changed\n"
    pipeline.deploy(via_s3, shop, "dev")
    pipeline.remove(via_s3, shop, "dev")
    operations = {name for name, _ in sent}
    assert {"PutObject", "DeleteObject", "DeleteBucket", "GetPublicAccessBlock", "ListObjectVersions"} <= operations
    assert [name for name, _ in audited] == ["PutObject", "GetBucketTagging", "PutBucketTagging"] * 2
    account = via_s3.deployer.client.account()
    assert account.isdigit()
    assert [
        (name, params.get("ExpectedBucketOwner"))
        for name, params in sent + audited
        if params.get("ExpectedBucketOwner") != account and name != "CreateBucket"
    ] == []


@pytest.fixture
def gateway_dir(tmp_path: Path) -> Path:
    return shutil.copytree(GATEWAY, tmp_path / "gateway", ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))


def test_per_function_zips_each_get_an_object_and_a_change_reaches_only_its_importer(
    endpoint: str, gateway_dir: Path, boto: Any
) -> None:
    app = load_app(gateway_dir)
    provider = AwsProvider({**app.config.provider_settings("aws", "dev"), **VIA_S3}, endpoint)
    first = pipeline.deploy(provider, app, "dev")
    assert first.artifact.via_s3 is True  # packaging read the same setting
    bucket, zips = first.outputs["deployment_bucket"], dict(first.artifact.functions)
    assert keys(boto, bucket) == sorted(f"{name}/{zips[name].sha256}.zip" for name in GATEWAY_FUNCTIONS)
    for name in GATEWAY_FUNCTIONS:
        config = boto.lambda_.get_function_configuration(FunctionName=f"gateway-dev-{name}")
        assert config["CodeSha256"] == lambda_sha(zips[name].path.read_bytes())

    with (gateway_dir / "gateway" / "storage.py").open("a") as f:
        f.write("# changed\n")
    provider.deployer.client.calls.clear()
    second = pipeline.deploy(provider, app, "dev")
    files = dict(second.artifact.functions)["files"]
    assert [s.describe() for s in second.plan.steps] == [
        f"+ create code object {bucket}/files/{files.sha256}.zip",
        "~ update lambda function gateway-dev-files (code_sha256)",
        f"- delete code object {bucket}/files/{zips['files'].sha256}.zip",
    ]
    assert provider.deployer.client.mutating_calls() == [
        ("s3", "PutObject"),
        ("lambda", "UpdateFunctionCode"),
        ("s3", "DeleteObject"),
    ]
    config = boto.lambda_.get_function_configuration(FunctionName="gateway-dev-files")
    assert config["CodeSha256"] == lambda_sha(files.path.read_bytes())

    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, app, "dev").plan.empty and provider.deployer.client.mutating_calls() == []
    pipeline.remove(provider, app, "dev")
    assert bucket_names(boto) == [audit_bucket("gateway", "dev", "123456789012", "eu-west-1")]  # the trail's only


def test_a_name_taken_by_another_account_is_an_error_naming_the_setting_that_avoids_it(
    endpoint: str, shop: Any, boto: Any, helpers: Any
) -> None:
    settings = {**shop.config.provider_settings("aws", "dev"), **VIA_S3}
    provider = helpers.MotoProvider(settings, endpoint)
    taken = provider.deployer.names(shop, "dev").deployment_bucket(provider.deployer.arns())
    other_account(boto, endpoint).create_bucket(
        Bucket=taken, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    with pytest.raises(DeployError) as raised:
        pipeline.deploy(provider, shop, "dev")
    message = str(raised.value)
    assert f"create deployment bucket {taken}" in message and "taken by another AWS account" in message
    assert 'deployment_bucket = "<a name of your own>"' in message

    renamed = helpers.MotoProvider({**settings, "deployment_bucket": "shop-dev-zips-of-our-own"}, endpoint)
    assert pipeline.deploy(renamed, shop, "dev").outputs["deployment_bucket"] == "shop-dev-zips-of-our-own"
    assert keys(boto, "shop-dev-zips-of-our-own") and pipeline.plan(renamed, shop, "dev").plan.empty


def other_account(boto: Any, endpoint: str) -> Any:
    """An S3 client of another account (moto maps an assumed role's credentials to the role's account)."""
    credentials = boto.sts.assume_role(RoleArn="arn:aws:iam::111111111111:role/other", RoleSessionName="other-account")[
        "Credentials"
    ]
    return boto3.client(
        "s3",
        region_name="eu-west-1",
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_a_failure_after_the_upload_converges_without_uploading_again(via_s3: Any, shop: Any, boto: Any) -> None:
    failures: list[str] = []

    def fail_once(model: Any, **_: Any) -> None:
        if not failures:
            failures.append(model.name)
            raise ClientError({"Error": {"Code": "ServiceException", "Message": "injected outage"}}, model.name)

    via_s3.deployer.client.register("before-call.lambda.UpdateFunctionCode", fail_once)
    via_s3.code = "# the handlers changed\n"
    with pytest.raises(DeployError, match="update lambda function shop-dev-"):
        pipeline.deploy(via_s3, shop, "dev")
    assert len(keys(boto, via_s3.bucket)) == 2  # the new zip is up, the old one not yet deleted
    via_s3.deployer.client.calls.clear()
    rerun = pipeline.deploy(via_s3, shop, "dev")
    assert ("s3", "PutObject") not in mutating(via_s3)
    assert [s.action for s in rerun.plan.steps] == ["update"] * len(SHOP_FUNCTIONS) + ["delete"]
    assert len(keys(boto, via_s3.bucket)) == 1 and pipeline.plan(via_s3, shop, "dev").plan.empty

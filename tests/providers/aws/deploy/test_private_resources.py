"""What deploy makes is private and encrypted by its own settings, not the account's defaults: data buckets
block public access and encrypt by default (as the deployment bucket does), and a public Function URL's
permissions carry the conditions AWS requires. moto does not keep those conditions, so they are checked
on the AddPermission requests deploy sends (a botocore hook on deploy's own client).
"""

from __future__ import annotations

import json
from typing import Any

from portable_fn.deploy import pipeline

ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
DATA_BUCKET = "shop-dev-uploads"


def encryption(boto: Any, bucket: str) -> list[dict[str, Any]]:
    rules = boto.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    return [rule["ApplyServerSideEncryptionByDefault"] for rule in rules]


def test_a_data_bucket_blocks_public_access_and_encrypts_by_default(provider: Any, shop: Any, boto: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    assert boto.s3.get_public_access_block(Bucket=DATA_BUCKET)["PublicAccessBlockConfiguration"] == ALL_BLOCKED
    assert encryption(boto, DATA_BUCKET) == [{"SSEAlgorithm": "AES256"}]
    provider.deployer.client.calls.clear()
    assert pipeline.deploy(provider, shop, "dev").plan.empty  # read back: nothing to change
    assert provider.deployer.client.mutating_calls() == []


def test_a_data_bucket_that_lost_its_settings_gets_them_back_on_the_next_deploy(
    provider: Any, shop: Any, boto: Any
) -> None:
    pipeline.deploy(provider, shop, "dev")
    boto.s3.delete_public_access_block(Bucket=DATA_BUCKET)
    boto.s3.delete_bucket_encryption(Bucket=DATA_BUCKET)
    provider.deployer.client.calls.clear()
    outcome = pipeline.deploy(provider, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [
        f"~ update s3 bucket {DATA_BUCKET} (public_access_blocked, encrypted)"
    ]
    assert provider.deployer.client.mutating_calls() == [("s3", "PutPublicAccessBlock"), ("s3", "PutBucketEncryption")]
    assert boto.s3.get_public_access_block(Bucket=DATA_BUCKET)["PublicAccessBlockConfiguration"] == ALL_BLOCKED


def test_a_public_function_url_s_permissions_carry_the_conditions_aws_requires(provider: Any, shop: Any) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        sent.append((params["url_path"], json.loads(params["body"])))

    provider.deployer.client.register("before-call.lambda.AddPermission", capture)
    pipeline.deploy(provider, shop, "dev")
    url_statements = sorted(
        (path.split("/")[3], body["StatementId"], body)
        for path, body in sent
        if body["StatementId"].startswith("portable-fn-url")
    )
    assert [(function, sid) for function, sid, _ in url_statements] == [
        ("shop-dev-confirm_payment", "portable-fn-url"),
        ("shop-dev-confirm_payment", "portable-fn-url-invoke"),
        ("shop-dev-create_order", "portable-fn-url"),
        ("shop-dev-create_order", "portable-fn-url-invoke"),
        ("shop-dev-get_order", "portable-fn-url"),
        ("shop-dev-get_order", "portable-fn-url-invoke"),
    ]
    for _, sid, body in url_statements:
        if sid == "portable-fn-url":  # anyone may call the URL, only as a URL whose auth type is NONE
            assert body == {
                "StatementId": sid,
                "Action": "lambda:InvokeFunctionUrl",
                "Principal": "*",
                "FunctionUrlAuthType": "NONE",
            }
        else:  # since October 2025 a URL also needs InvokeFunction, held to calls through the URL
            assert body == {
                "StatementId": sid,
                "Action": "lambda:InvokeFunction",
                "Principal": "*",
                "InvokedViaFunctionUrl": True,
            }

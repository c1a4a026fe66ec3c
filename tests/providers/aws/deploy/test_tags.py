"""The app's tags (`[tool.portable-fn] tags`, a stage's over them) on every resource AWS lets deploy tag,
beside portable-fn's own, on a moto server: a changed tag is an update of each of them that deploy applies,
a rerun and a tag the audit trail wrote (`pfn-audit-*`) change nothing, and tags AWS would refuse are refused
before any call."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy import TAG_APP, TAG_STAGE

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import ConfigError

from ....tags_contract import with_tags

OWN = {TAG_APP: "shop", TAG_STAGE: "dev"}
RECORD = "portable-fn:tags"  # the keys of the user's tags deploy manages
# Every resource of the shop AWS lets deploy tag (the rest are read through these: a function's URL and
# permissions, a topic's subscriptions, a bucket's notifications, a group's schedules).
TAGGED_KINDS = {
    "log group": 9,
    "iam role": 11,
    "lambda function": 9,
    "sqs queue": 8,
    "sns topic": 1,
    "s3 bucket": 1,
    "dynamodb table": 4,
    "schedule group": 2,
}


def all_tags(boto: Any) -> dict[str, dict[str, str]]:
    """The tags of each of the shop's taggable resources, by ARN, as AWS answers, but those the audit trail writes
    on each deploy."""
    pages = boto.tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": TAG_APP, "Values": ["shop"]}],
        ResourceTypeFilters=["lambda:function", "sqs", "sns", "s3", "logs", "dynamodb:table"],
    )
    found = {
        item["ResourceARN"]: {t["Key"]: t["Value"] for t in item["Tags"]}
        for page in pages
        for item in page["ResourceTagMappingList"]
    }
    for role in boto.iam.list_roles(PathPrefix="/portable-fn/shop/dev/")["Roles"]:
        found[role["Arn"]] = {t["Key"]: t["Value"] for t in boto.iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
    for group in boto.scheduler.list_schedule_groups(NamePrefix="shop-dev")["ScheduleGroups"]:
        answer = boto.scheduler.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"]
        found[group["Arn"]] = {t["Key"]: t["Value"] for t in answer}
    return {arn: {k: v for k, v in tags.items() if not k.startswith("pfn-audit-")} for arn, tags in found.items()}


def test_tags_reach_every_taggable_resource_change_in_place_and_rerun_as_nothing(
    provider: Any, shop: App, boto: Any
) -> None:
    app = with_tags(shop, 'tags = { team = "payments", cost-center = "42" }', 'tags = { cost-center = "43" }')
    pipeline.deploy(provider, app, "dev")
    found = all_tags(boto)
    assert len(found) == sum(TAGGED_KINDS.values()), sorted(found)
    wanted = {**OWN, "team": "payments", "cost-center": "43", RECORD: "cost-center team"}
    assert {arn: tags for arn, tags in found.items() if tags != wanted} == {}

    app = with_tags(shop, 'tags = { team = "checkout" }')
    planned = pipeline.plan(provider, app, "dev").plan
    assert planned is not None
    assert {(s.action, s.changes) for s in planned.steps} == {("update", ("tags",))}
    kinds: dict[str, int] = {}
    for step in planned.steps:
        kinds[step.resource.kind] = kinds.get(step.resource.kind, 0) + 1
    assert kinds == TAGGED_KINDS

    pipeline.deploy(provider, app, "dev")
    wanted = {**OWN, "team": "checkout", RECORD: "team"}
    assert {arn: tags for arn, tags in all_tags(boto).items() if tags != wanted} == {}
    provider.deployer.client.calls.clear()
    assert pipeline.plan(provider, app, "dev").plan.empty  # type: ignore[union-attr]


def test_tags_others_set_are_no_change_for_deploy_and_survive_a_retag(provider: Any, shop: App, boto: Any) -> None:
    """The audit trail's tags, and one set in the console: neither is compared, changed or taken off."""
    app = with_tags(shop, 'tags = { team = "payments", cost-center = "42" }')
    pipeline.deploy(provider, app, "dev")
    function = "arn:aws:lambda:eu-west-1:123456789012:function:shop-dev-fulfil"
    boto.lambda_.tag_resource(Resource=function, Tags={"pfn-audit-last-deploy": "abc123", "owner": "ops"})
    bucket = "shop-dev-uploads"
    tag_set = boto.s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    tag_set += [{"Key": "pfn-audit-by", "Value": "ci"}, {"Key": "owner", "Value": "ops"}]
    boto.s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_set})
    assert pipeline.plan(provider, app, "dev").plan.empty  # type: ignore[union-attr]

    pipeline.deploy(provider, with_tags(shop, 'tags = { team = "checkout" }'), "dev")  # cost-center goes
    others = {"owner": "ops", "team": "checkout", RECORD: "team"}
    assert boto.lambda_.list_tags(Resource=function)["Tags"] == {**OWN, **others, "pfn-audit-last-deploy": "abc123"}
    bucket_tags = {t["Key"]: t["Value"] for t in boto.s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert bucket_tags == {**OWN, **others, "pfn-audit-by": "ci"}

    pipeline.deploy(provider, with_tags(shop, "tags = {}"), "dev")  # no tag left: nor the record
    assert boto.lambda_.list_tags(Resource=function)["Tags"] == {
        **OWN,
        "owner": "ops",
        "pfn-audit-last-deploy": "abc123",
    }


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            '{ "aws:team" = "x" }',
            "Tag aws:team = 'x' is not a valid aws tag: keys starting with 'aws:' are the cloud's own",
        ),
        ('{ team = "a#b" }', "Tag team = 'a#b' is not a valid aws tag: AWS takes letters, digits, spaces and"),
        ('{ "cost center" = "42" }', "Tag cost center = '42' is not a valid aws tag: AWS takes letters"),
        (f'{{ team = "{"x" * 257}" }}', "is not a valid aws tag: its value must be at most 256 characters"),
    ],
)
def test_tags_aws_would_refuse_are_refused_before_any_call(provider: Any, shop: App, tags: str, message: str) -> None:
    app = with_tags(shop, f"tags = {tags}")
    with pytest.raises(ConfigError) as caught:
        pipeline.plan(provider, app, "dev")
    assert message in str(caught.value)
    assert "under [tool.portable-fn] tags" in str(caught.value)


def test_a_tag_key_of_portable_fn_own_is_refused_when_the_app_loads(shop: App) -> None:
    with pytest.raises(ConfigError, match="'portable-fn:app' collides with portable-fn's own tags"):
        with_tags(shop, 'tags = { "portable-fn:app" = "other" }')


def test_the_http_api_carries_the_tags_and_is_retagged_in_place(
    endpoint: str, tmp_path: Path, boto: Any, helpers: Any
) -> None:
    root = tmp_path / "gateway"
    shutil.copytree(Path(__file__).with_name("apps") / "gateway", root, ignore=shutil.ignore_patterns(".portable-fn"))
    original = (root / "pyproject.toml").read_text()

    def gateway(tags: str) -> tuple[App, Any]:
        (root / "pyproject.toml").write_text(
            original.replace("\n[tool.portable-fn.aws]", f"{tags}\n\n[tool.portable-fn.aws]")
        )
        app = load_app(root)
        settings = {**app.config.provider_settings("aws", "dev"), "wait_delay_s": 0.1}
        return app, helpers.MotoProvider(settings, endpoint)

    app, provider = gateway('tags = { team = "payments" }')
    pipeline.deploy(provider, app, "dev")
    [api] = [a for a in boto.apigw.get_apis()["Items"] if a["Name"] == "gateway-dev"]
    assert api["Tags"] == {"portable-fn:app": "gateway", "portable-fn:stage": "dev", "team": "payments", RECORD: "team"}

    app, provider = gateway('tags = { team = "checkout" }')
    planned = pipeline.plan(provider, app, "dev").plan
    assert planned is not None and ("http api", "gateway-dev") in {s.resource.key for s in planned.steps}
    pipeline.deploy(provider, app, "dev")
    [api] = [a for a in boto.apigw.get_apis()["Items"] if a["Name"] == "gateway-dev"]
    assert api["Tags"]["team"] == "checkout"
    assert pipeline.plan(provider, app, "dev").plan.empty  # type: ignore[union-attr]

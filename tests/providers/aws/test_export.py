"""`portable-fn export --provider aws`: every resource `desired` returns, as CloudFormation that cfn-lint
passes and moto creates, and as Terraform that parses back, that hashicorp/aws 6.25.0's schema (as recorded in
tests/export/data/aws.json) accepts, required arguments and references included, and that tfparse evaluates."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from portable_fn_aws.deploy import AwsDeployer, cloudformation, terraform
from portable_fn_aws.deploy.export import NOT_EXPORTED, Exported
from portable_fn_aws.deploy.resources import (
    ORDER,
    ApiRoute,
    BucketNotification,
    CodeObject,
    DeploymentBucket,
    Permission,
)

from portable_fn.app import load_app
from portable_fn.deploy import Artifact
from portable_fn.export import Export, render

from ...export.hcl_roundtrip import parse, without_comments
from ...export.terraform_schema import evaluation_problems, problems

REPO = Path(__file__).resolve().parents[3]
DEPLOY_APPS = REPO / "tests" / "providers" / "aws" / "deploy" / "apps"
S3_BUCKET = "AWS::S3::Bucket"
# Every app of the repository that deploys on AWS, with settings that reach the remaining resource types:
# zips through the deployment bucket (direct_upload_limit_mb = 0); gateway's own settings use the HTTP API.
APPS: dict[str, tuple[Path, dict[str, Any]]] = {
    "shop": (REPO / "samples" / "shop", {}),
    "flow": (REPO / "tests" / "apps" / "flow", {}),
    "invoking": (REPO / "tests" / "apps" / "invoking", {}),
    "trace_relay": (REPO / "tests" / "apps" / "trace_relay", {"region": "eu-west-1"}),
    "edge": (DEPLOY_APPS / "edge", {}),
    "gateway": (DEPLOY_APPS / "gateway", {"direct_upload_limit_mb": 0}),
    "senders": (DEPLOY_APPS / "senders", {}),
    "stateful": (DEPLOY_APPS / "stateful", {}),
    "files": (DEPLOY_APPS / "files", {}),  # declared buckets: one watched, one not, one existing
    "secured": (DEPLOY_APPS / "secured", {}),  # JWT authorizers, CORS on the HTTP API, secrets
    "secured_urls": (DEPLOY_APPS / "secured", {"http": "function-url"}),  # CORS on each Function URL
    "isolated": (DEPLOY_APPS / "isolated", {}),  # the tenants' REST API
    "tenants_cors": (DEPLOY_APPS / "tenants_cors", {}),  # its CORS preflights
    "tenants_origin": (DEPLOY_APPS / "tenants_origin", {}),  # the gateway responses of its refusals
}


@dataclass
class Case:
    """One app exported both ways, with what the exports were written from."""

    source: Exported
    template: dict[str, Any]
    cfn: Export
    document: dict[str, Any]
    tf: Export


def make_artifact(directory: Path) -> Artifact:
    """A deterministic zip standing in for the packaged app (packaging has tests of its own)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "app.zip"
    with zipfile.ZipFile(path, "w") as archive:
        entry = zipfile.ZipInfo("portable_fn_entry.py", (1980, 1, 1, 0, 0, 0))
        archive.writestr(entry, "def handler(event, context):\n    return event\n")
    data = path.read_bytes()
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data), 1)


def export_case(root: Path, extra: dict[str, Any]) -> Case:
    app = load_app(root)
    stage = next(iter(app.config.stages))
    deployer = AwsDeployer({**app.config.provider_settings("aws", stage), **extra})
    source = Exported.of(deployer, app, stage, make_artifact(root / ".portable-fn" / "build"))
    template, configuration = cloudformation.Template(source), terraform.Configuration(source)
    cfn, tf = template.export(), configuration.export()
    return Case(source, json.loads(cfn.files["template.json"]), cfn, configuration.main_tf(), tf)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    out = {}
    for name, (source, extra) in APPS.items():
        root = tmp_path_factory.mktemp(name) / name
        shutil.copytree(source, root, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
        out[name] = export_case(root, extra)
    return out


# -- coverage ------------------------------------------------------------------------------------------------
def test_every_resource_type_desired_returns_has_a_writer_in_both_formats() -> None:
    assert set(cloudformation.WRITERS) == set(ORDER) - NOT_EXPORTED
    assert set(terraform.WRITERS) == set(ORDER) - NOT_EXPORTED
    assert set(terraform.TYPES) == set(ORDER) - NOT_EXPORTED


def test_the_apps_reach_every_resource_type(cases: dict[str, Case]) -> None:
    assert {type(r) for case in cases.values() for r in case.source.resources} == set(ORDER) - NOT_EXPORTED


def test_every_resource_is_in_the_template_or_its_notes(cases: dict[str, Case]) -> None:
    for name, case in cases.items():
        template = cloudformation.Template(case.source)
        for resource in case.source.resources:
            logical = template.ids[resource.key]
            if isinstance(resource, (DeploymentBucket, CodeObject)):
                assert any(note.startswith("deployment bucket: ") for note in case.cfn.notes), name
            elif isinstance(resource, BucketNotification):
                bucket = case.template["Resources"].get(template.ids.get(("s3 bucket", resource.bucket), ""))
                carried = bucket and bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
                assert carried or any(n.startswith(f"bucket notification {resource.name}: ") for n in case.cfn.notes)
            else:
                assert logical in case.template["Resources"], (name, resource.key)


def test_every_resource_is_in_the_terraform_or_its_notes(cases: dict[str, Case]) -> None:
    for name, case in cases.items():
        configuration = terraform.Configuration(case.source)
        declared = case.document["resource"]
        for resource in case.source.resources:
            kind, address = terraform.TYPES[type(resource)], configuration.labels[resource.key]
            if isinstance(resource, BucketNotification):  # one per bucket, named after its first entry
                entries = [entry["id"] for b in declared[kind].values() for entry in b["lambda_function"]]
                assert resource.notification_id in entries, name
            elif isinstance(resource, Permission) and resource.via_function_url:
                assert any(n.startswith(f"lambda permission {resource.name}: ") for n in case.tf.notes), name
            else:
                assert address in declared[kind], (name, resource.key)


# -- CloudFormation ------------------------------------------------------------------------------------------
# What cfn-lint 1.x may say beyond nothing: W3002, Code is a local path (`aws cloudformation package`
# uploads it, as intended). E2533 (a deprecated runtime) is left out: its dates move with each cfn-lint release
# and belong to portable_fn_aws.runtimes, which `plan` reads and tests/providers/aws/test_runtimes.py checks.
PACKAGE_WARNING, RUNTIME_DEPRECATED = "W3002", "E2533"


@pytest.mark.slow  # cfn-lint over each app's template, a second or two each
@pytest.mark.parametrize("name", list(APPS))
def test_cfn_lint_finds_no_error_in_the_template(cases: dict[str, Case], name: str) -> None:
    # Imported here, not with the module: cfn-lint loads sympy, networkx and the SAM translator (~1,200 modules,
    # 8 CPU-seconds with no bytecode cached, as in a fresh clone), and every xdist worker imports every test
    # module to collect it, while only the worker that runs this test needs them.
    from cfnlint.api import lint

    case = cases[name]
    found = [m for m in lint(case.cfn.files["template.json"], regions=["eu-west-1"]) if m.rule.id != RUNTIME_DEPRECATED]
    functions = [r for r in case.template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert sorted(m.rule.id for m in found) == [PACKAGE_WARNING] * len(functions), [str(m) for m in found]


def test_a_queue_function_s_template_refers_to_its_queue_role_and_log_group(cases: dict[str, Case]) -> None:
    resources = cases["shop"].template["Resources"]
    fulfil = resources["FulfilFunction"]
    assert fulfil["DependsOn"] == ["FulfilLogs"]
    properties = fulfil["Properties"]
    assert properties["Role"] == {"Fn::GetAtt": ["FulfilRole", "Arn"]}
    assert properties["Code"] == "artifacts/app.zip"
    assert properties["Environment"]["Variables"]["PORTABLE_FN_QUEUE_URL"] == {"Ref": "OrdersQueue"}
    assert resources["OrdersQueue"]["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["OrdersDlqQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    mapping = resources["FulfilOrdersEventSource"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["OrdersQueue", "Arn"]}
    logs = resources["FulfilRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
    arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/shop-dev-fulfil:*"
    assert logs["Resource"] == [{"Fn::Sub": arn}]
    assert {"Key": "portable-fn:app", "Value": "shop"} in properties["Tags"]


def test_a_bucket_of_the_app_carries_its_notifications_after_the_permissions(cases: dict[str, Case]) -> None:
    resources = cases["shop"].template["Resources"]
    bucket = resources["UploadsBucket"]
    assert bucket["DependsOn"] == ["OnUploadS3Permission"]
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "LambdaConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Function": {"Fn::GetAtt": ["OnUploadFunction", "Arn"]},
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}},
            }
        ]
    }
    permission = resources["OnUploadS3Permission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::shop-dev-uploads"}


def test_declared_buckets_are_retained_buckets_and_their_grants_in_both_formats(cases: dict[str, Case]) -> None:
    case = cases["files"]
    buckets = {r["Properties"]["BucketName"]: r for r in case.template["Resources"].values() if r["Type"] == S3_BUCKET}
    assert sorted(buckets) == ["files-test-reports", "files-test-uploads"]  # not the settings' existing archive
    assert all((b["DeletionPolicy"], b["UpdateReplacePolicy"]) == ("Retain", "Retain") for b in buckets.values())
    assert sorted(b["bucket"] for b in case.document["resource"]["aws_s3_bucket"].values()) == sorted(buckets)
    policy = case.template["Resources"]["DownloadRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    s3 = {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["Statement"] if s["Action"][0].startswith("s3:")}
    assert s3 == {
        "ListBuckets": (["s3:ListBucket"], [{"Fn::Sub": "arn:${AWS::Partition}:s3:::files-test-uploads"}]),
        "ReadObjects": (["s3:GetObject"], [{"Fn::Sub": "arn:${AWS::Partition}:s3:::files-test-uploads/*"}]),
    }
    in_terraform = json.loads(case.document["resource"]["aws_iam_role_policy"]["download"]["policy"])
    assert [s["Resource"] for s in in_terraform["Statement"] if s["Sid"] == "ReadObjects"] == [
        ["arn:${data.aws_partition.current.partition}:s3:::files-test-uploads/*"]
    ]


def test_an_existing_bucket_s_notification_is_in_the_notes_and_the_metadata(cases: dict[str, Case]) -> None:
    case = cases["edge"]
    note = next(n for n in case.cfn.notes if n.startswith("bucket notification existing-inbox-bucket/"))
    assert "is an existing bucket" in note
    assert case.template["Metadata"]["portable-fn"]["not-exported"] == case.cfn.notes


# -- Terraform -----------------------------------------------------------------------------------------------
@pytest.mark.slow  # every app's main.tf read back by python-hcl2
@pytest.mark.parametrize("name", list(APPS))
def test_main_tf_parses_back_to_the_document(cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    assert parse(case.tf.files["main.tf"]) == without_comments(case.document)


@pytest.mark.slow  # every app's main.tf read back by python-hcl2 and held to the schema
@pytest.mark.parametrize("name", list(APPS))
def test_main_tf_holds_to_hashicorp_aws_s_schema_and_evaluates(
    cases: dict[str, Case], name: str, tmp_path: Path
) -> None:
    main_tf = cases[name].tf.files["main.tf"]
    assert problems(parse(main_tf), "aws") == []
    assert evaluation_problems(main_tf, cases[name].document, tmp_path, "aws") == []


def test_the_schema_check_fails_on_what_hashicorp_aws_does_not_have(cases: dict[str, Case]) -> None:
    document = json.loads(json.dumps(cases["shop"].document))
    resources = document["resource"]
    resources["aws_sqs_queue"]["orders"]["redrive"] = "y"
    resources["aws_sqs_queue"]["orders"]["tags"] = {"a": "${data.aws_region.current.nme}", "b": "${var.zone}"}
    del resources["aws_lambda_function"]["fulfil"]["role"]
    resources["aws_lambda_function"]["fulfil"]["environment"] = {"variables": {}}
    resources["aws_lambda_function"]["fulfil"]["tags"] = [{"a": "b"}]
    del resources["aws_dynamodb_table"]["stock"]["attribute"][0]["type"]
    resources["aws_lambda_function_url"]["u"] = {"function_name": "${aws_lambda_function.gone.function_name}"}
    resources["aws_sqs_queues"] = {"q": {}}
    assert problems(document, "aws") == [
        "aws_sqs_queue.orders: redrive is not an argument of this block",
        "aws_dynamodb_table.stock.attribute[0]: type is required",
        "aws_lambda_function.fulfil: role is required",
        "aws_lambda_function.fulfil: environment is a block, written as a value",
        "aws_lambda_function.fulfil: tags is an attribute, not a block",
        "aws_lambda_function_url.u: authorization_type is required",
        "aws_sqs_queues: not a resource type of hashicorp/aws 6.25.0",
        "${data.aws_region.current.nme}: data.aws_region has no attribute nme",
        "${var.zone}: var.zone is not declared",
        "${aws_lambda_function.gone.function_name}: aws_lambda_function.gone is not declared",
    ]


def test_the_evaluation_fails_on_what_terraform_cannot_read(cases: dict[str, Case], tmp_path: Path) -> None:
    document = json.loads(json.dumps(cases["shop"].document))
    main_tf = render(document)
    broken = main_tf.replace('"shop-dev-orders"', '"shop-dev-orders', 1)
    assert evaluation_problems(broken, document, tmp_path, "aws") == [  # a syntax error: nothing is read
        f"{address}: not read from main.tf" for address in sorted(declared(document))
    ]
    queue = document["resource"]["aws_sqs_queue"]["orders"]
    queue["name"] = "${aws_sqs_queue.nowhere.name}"
    queue["tags"] = {"role": "${aws_iam_role.fulfil.name}"}
    main_tf = render(document).replace("role = aws_iam_role.fulfil.name", 'role = "aws_iam_role.fulfil.name"')
    main_tf = re.sub(r'(name +)= "shop-dev-orders-dlq"', r"\1= aws_sqs_queue.orders.arn", main_tf)
    assert evaluation_problems(main_tf, document, tmp_path, "aws") == [
        "aws_sqs_queue.orders: refers to aws_iam_role.fulfil, which tfparse did not read as a reference",
        "aws_sqs_queue.orders_dlq: tfparse reads a reference to aws_sqs_queue.orders the document does not write",
        "aws_sqs_queue.nowhere.name: unresolved, and aws_sqs_queue.nowhere is not declared",
    ]


def declared(document: dict[str, Any]) -> list[str]:
    found = [f"{kind}.{name}" for kind, by_name in document["resource"].items() for name in by_name]
    return found + [f"data.{kind}.{name}" for kind, by_name in document["data"].items() for name in by_name]


def test_terraform_refers_to_resources_and_reads_the_account_from_the_provider(cases: dict[str, Case]) -> None:
    resources = cases["shop"].document["resource"]
    fulfil = resources["aws_lambda_function"]["fulfil"]
    assert fulfil["role"] == "${aws_iam_role.fulfil.arn}"
    assert fulfil["filename"] == "${path.module}/artifacts/app.zip"
    assert fulfil["depends_on"] == ["${aws_cloudwatch_log_group.fulfil}", "${aws_iam_role_policy.fulfil}"]
    assert fulfil["environment"][0]["variables"]["PORTABLE_FN_QUEUE_URL"] == "${aws_sqs_queue.orders.url}"
    redrive = json.loads(resources["aws_sqs_queue"]["orders"]["redrive_policy"])
    assert redrive == {"deadLetterTargetArn": "${aws_sqs_queue.orders_dlq.arn}", "maxReceiveCount": 3}
    policy = json.loads(resources["aws_iam_role_policy"]["fulfil"]["policy"])
    assert policy["Statement"][0]["Resource"] == [
        "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:"
        "${data.aws_caller_identity.current.account_id}:log-group:/aws/lambda/shop-dev-fulfil:*"
    ]
    notification = resources["aws_s3_bucket_notification"]["uploads_on_upload"]
    assert notification["bucket"] == "${aws_s3_bucket.uploads.id}"
    assert notification["depends_on"] == ["${aws_lambda_permission.on_upload_s3}"]


def test_zips_over_the_limit_go_through_the_deployment_bucket_in_terraform(cases: dict[str, Case]) -> None:
    resources = cases["gateway"].document["resource"]
    code = resources["aws_s3_object"]["code_gateway"]
    assert code["bucket"] == "${aws_s3_bucket.deploy.id}"
    assert code["source"] == "${path.module}/artifacts/app.zip"
    function = next(iter(resources["aws_lambda_function"].values()))
    assert function["s3_bucket"] == "${aws_s3_object.code_gateway.bucket}"
    assert "filename" not in function
    assert resources["aws_s3_bucket"]["deploy"] == {
        "bucket_prefix": "gateway-dev-deploy-",
        "tags": {"portable-fn:app": "gateway", "portable-fn:stage": "dev"},
    }


# -- moto's CloudFormation -------------------------------------------------------------------------------------
# The types moto 5's CloudFormation skips (it warns and makes nothing), so the stack is complete without them.
MOTO_SKIPS = {
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::Url",
    "AWS::SNS::Subscription",
    "AWS::Scheduler::Schedule",
    "AWS::Scheduler::ScheduleGroup",
}
SHOP_FUNCTIONS = ("create_order", "get_order", "confirm_payment", "fulfil", "sweep", "nightly_report", "on_upload")


def packaged(template: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """The template as `aws cloudformation package` leaves it (each function's Code an S3 location), less
    its Outputs, which moto cannot check for the types it skips (it answers 500)."""
    out = json.loads(json.dumps(template))
    for resource in out["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"] = {"S3Bucket": bucket, "S3Key": key}
    out.pop("Outputs")
    return out


@pytest.mark.filterwarnings("ignore")
def test_moto_creates_the_shop_s_stack_from_the_template(cases: dict[str, Case], endpoint: str) -> None:
    case = cases["shop"]
    client = functools.partial(boto3.client, region_name="eu-west-1", endpoint_url=endpoint)
    s3, cfn = client("s3"), client("cloudformation")
    s3.create_bucket(Bucket="packaged", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.upload_file(str(case.cfn.artifacts["artifacts/app.zip"]), "packaged", "app.zip")
    body = json.dumps(packaged(case.template, "packaged", "app.zip"))
    cfn.create_stack(StackName="shop-dev", TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])

    assert cfn.describe_stacks(StackName="shop-dev")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    listed = cfn.list_stack_resources(StackName="shop-dev")["StackResourceSummaries"]
    made = {r["LogicalResourceId"] for r in listed}
    skipped = {r["Type"] for logical, r in case.template["Resources"].items() if logical not in made}
    assert skipped == MOTO_SKIPS
    functions = {f["FunctionName"] for f in client("lambda").list_functions()["Functions"]}
    assert functions == {f"shop-dev-{name}" for name in (*SHOP_FUNCTIONS, "notify", "place_order-run")}
    queues = {url.rsplit("/", 1)[1] for url in client("sqs").list_queues()["QueueUrls"]}
    assert {"shop-dev-orders", "shop-dev-orders-dlq", "shop-dev-pfn-wf-place-order"} <= queues
    topics = {t["TopicArn"].rsplit(":", 1)[1] for t in client("sns").list_topics()["Topics"]}
    assert topics == {"shop-dev-order-events"}
    assert "shop-dev-pfn-workflows" in client("dynamodb").list_tables()["TableNames"]
    fulfil = client("lambda").get_function(FunctionName="shop-dev-fulfil")["Configuration"]
    # References resolved by moto: the queue's Ref (its URL as AWS spells it), the role's GetAtt.
    account = client("sts").get_caller_identity()["Account"]
    queue_url = f"https://sqs.eu-west-1.amazonaws.com/{account}/shop-dev-orders"
    assert fulfil["Environment"]["Variables"]["PORTABLE_FN_QUEUE_URL"] == queue_url
    assert fulfil["Role"] == client("iam").get_role(RoleName="shop-dev-fulfil")["Role"]["Arn"]


def test_both_formats_route_what_the_http_api_would_refuse_to_the_function_deploy_routes_it_to(
    cases: dict[str, Case],
) -> None:
    """`ANY /path` and `$default` (`desired.refusal_routes`) with the authorization and target deploy gives them."""
    case = cases["gateway"]
    wanted = {
        r.route_key: (r.authorization_type, r.function_arn.rsplit("-", 1)[-1])
        for r in case.source.resources
        if isinstance(r, ApiRoute)
    }
    assert {"ANY /items", "ANY /items/{item_id}", "$default"} <= set(wanted)
    resources = case.template["Resources"]
    integrations = {
        logical: r["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        for logical, r in resources.items()
        if r["Type"] == "AWS::ApiGatewayV2::Integration"
    }
    in_template = {
        r["Properties"]["RouteKey"]: (
            r["Properties"]["AuthorizationType"],
            integrations[r["Properties"]["Target"]["Fn::Sub"].removeprefix("integrations/${")[:-1]],
        )
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    functions = {f"{''.join(p.title() for p in name.split('_'))}Function": name for _, name in wanted.values()}
    assert {key: (auth, functions[logical]) for key, (auth, logical) in in_template.items()} == wanted
    in_terraform = {
        r["route_key"]: (r["authorization_type"], r["target"].split(".")[1])
        for r in case.document["resource"]["aws_apigatewayv2_route"].values()
    }
    assert in_terraform == wanted


def test_the_app_s_and_the_stage_s_tags_are_on_what_deploy_tags(tmp_path: Path) -> None:
    root = tmp_path / "senders"
    shutil.copytree(DEPLOY_APPS / "senders", root, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text().replace("[tool.portable-fn]\n", '[tool.portable-fn]\ntags = { team = "orders" }\n')
    text = text.replace("[tool.portable-fn.stages.test]\n", '[tool.portable-fn.stages.test]\ntags = { team = "ops" }\n')
    pyproject.write_text(text)
    case = export_case(root, {})
    expected = {"portable-fn:app": "senders", "portable-fn:stage": "test", "team": "ops"}
    function = case.template["Resources"]["PlaceFunction"]["Properties"]
    assert {t["Key"]: t["Value"] for t in function["Tags"]} == expected
    assert case.document["resource"]["aws_lambda_function"]["place"]["tags"] == expected


def test_an_existing_bucket_s_notification_in_terraform_says_it_owns_the_whole_configuration(
    cases: dict[str, Case],
) -> None:
    case = cases["edge"]
    notification = case.document["resource"]["aws_s3_bucket_notification"]["existing_inbox_bucket_gone"]
    assert notification["bucket"] == "existing-inbox-bucket"
    assert notification["//"] == case.tf.notes
    assert case.tf.notes[0].startswith("bucket notification existing-inbox-bucket: the existing bucket's whole")

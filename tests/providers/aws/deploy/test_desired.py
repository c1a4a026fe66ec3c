"""The pure parts of AWS deploy: names, cron translation, policies, desired resources, and reading AWS
answers back into resources. No AWS call: the planner is checked against in-memory remote state."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy import AwsDeployer
from portable_fn_aws.deploy.desired import HTTP_API, Target, code_sha256, desired, source_route
from portable_fn_aws.deploy.expressions import schedule_expression
from portable_fn_aws.deploy.naming import Arns, Names, fit
from portable_fn_aws.deploy.remote import permission_from, permissions_from
from portable_fn_aws.deploy.resources import (
    ApiIntegration,
    ApiPermission,
    ApiRoute,
    CodeObject,
    DeploymentBucket,
    EventSourceMapping,
    Function,
    FunctionUrl,
    HttpApi,
    InvokeConfig,
    Permission,
    Queue,
    Role,
    Schedule,
)
from portable_fn_aws.packaging import LambdaArtifact, SizeBudget, size_budget
from portable_fn_aws.settings import AwsSettings

from portable_fn.app import load_app
from portable_fn.deploy import Artifact, RemoteState, make_plan
from portable_fn.runtime.errors import ConfigError, UnsupportedTriggerError
from portable_fn.runtime.triggers import Http, cron, schedule

ARNS = Arns("aws", "eu-west-1", "123456789012")
EDGE = Path(__file__).with_name("apps") / "edge"
GATEWAY = Path(__file__).with_name("apps") / "gateway"


def artifact(sha: str = "ab" * 32) -> Artifact:
    return Artifact(Path("/tmp/app.zip"), sha, 10, 1)


def build(app: Any, stage: str, buckets: tuple[tuple[str, str], ...] = ()) -> dict[tuple[str, str], Any]:
    resources = desired(Target(app, stage, Names(app.name, stage, buckets), ARNS, artifact()))
    return {r.key: r for r in resources}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (cron("0 3 * * *"), "cron(0 3 * * ? *)"),
        (cron("30 6 * * 1-5"), "cron(30 6 ? * 2,3,4,5,6 *)"),
        (cron("0 0 * * 0,7"), "cron(0 0 ? * 1 *)"),
        (cron("*/15 8-18 1 jan,jul *"), "cron(*/15 8-18 1 JAN,JUL ? *)"),
        (schedule("rate(1 hours)"), "rate(1 hour)"),
    ],
)
def test_schedule_expressions_in_aws_syntax(expression: Any, expected: str) -> None:
    assert schedule_expression("fn", expression) == expected


def test_cron_restricting_both_day_fields_is_rejected_with_the_reason() -> None:
    with pytest.raises(UnsupportedTriggerError, match="'fn' on aws.*day of the month and the day of the week"):
        schedule_expression("fn", cron("0 3 1 * 1"))


def test_long_names_are_cut_with_a_stable_hash() -> None:
    name = "a" * 100
    assert fit(name, 64) == fit(name, 64) and len(fit(name, 64)) == 64
    assert fit("short", 64) == "short"
    assert Names("app", "dev").function("x" * 70) != Names("app", "dev").function("x" * 71)


def test_code_sha256_is_what_lambda_reports() -> None:
    data = b"zip bytes"
    digest = hashlib.sha256(data)
    assert code_sha256(artifact(digest.hexdigest())) == base64.b64encode(digest.digest()).decode()


def test_shop_resources(shop: Any) -> None:
    found = build(shop, "dev")
    fulfil = found[("lambda function", "shop-dev-fulfil")]
    assert (fulfil.handler, fulfil.runtime, fulfil.memory_mb, fulfil.timeout_s) == (
        "portable_fn_entry.fulfil",
        "python3.11",
        256,
        30,
    )
    assert dict(fulfil.env)["PORTABLE_FN_STAGE"] == "dev"
    queue = found[("sqs queue", "shop-dev-orders")]
    assert queue.dead_letter_arn == ARNS.queue("shop-dev-orders-dlq") and queue.max_receive_count == 3
    mapping = found[("event source mapping", "shop-dev-fulfil/shop-dev-orders")]
    assert (mapping.batch_size, mapping.response_types) == (10, ("ReportBatchItemFailures",))
    assert found[("function url", "shop-dev-create_order")].auth_type == "NONE"
    assert found[("schedule", "nightly_report")].expression == "cron(0 3 * * ? *)"
    assert found[("async invoke config", "shop-dev-notify")].on_failure_arn == ARNS.queue("shop-dev-notify-dlq")


def test_prod_stage_env_reaches_every_function(shop: Any) -> None:
    for resource in build(shop, "prod").values():
        if isinstance(resource, Function):
            assert dict(resource.env)["LOG_LEVEL"] == "info"


def test_edge_variants() -> None:
    edge = load_app(EDGE)
    found = build(edge, "test", (("inbox", "existing-inbox-bucket"),))
    assert found[("function url", "edge-test-private_api")].auth_type == "AWS_IAM"
    assert not [k for k in found if k[0] == "lambda permission" and k[1].startswith("edge-test-private_api/")]
    assert found[("lambda function", "edge-test-private_api")].architecture == "arm64"
    assert found[("sqs queue", "edge-test-jobs.fifo")].dead_letter_arn == ""
    assert ("sqs queue", "edge-test-jobs-dlq.fifo") not in found
    assert ("s3 bucket", "existing-inbox-bucket") not in found  # mapped: used, never created
    note = found[("bucket notification", "existing-inbox-bucket/edge-test-gone")]
    assert (note.events, note.suffix) == (("s3:ObjectRemoved:*",), ".csv")
    assert found[("async invoke config", "edge-test-gone")].max_retries == 0
    assert found[("schedule", "weekdays")].expression == "cron(30 6 ? * 2,3,4,5,6 *)"


def test_policies_are_least_privilege(shop: Any) -> None:
    roles = [r for r in build(shop, "dev").values() if isinstance(r, Role)]
    assert len(roles) == 11  # one per function, the scheduler's, and the one delayed sends' schedules assume
    for role in roles:
        for statement in json.loads(role.policy)["Statement"]:
            assert all("*" not in action for action in statement["Action"])
            assert all(arn.startswith("arn:aws:") and arn != "*" for arn in statement["Resource"])
    fulfil = json.loads(next(r for r in roles if r.name == "shop-dev-fulfil").policy)["Statement"]
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in fulfil} == {
        "Logs": (["logs:CreateLogStream", "logs:PutLogEvents"], [ARNS.log_group("/aws/lambda/shop-dev-fulfil") + ":*"]),
        "ConsumeQueue": (
            ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            [ARNS.queue("shop-dev-orders")],
        ),
        "DeadLetter": (["sqs:SendMessage"], [ARNS.queue("shop-dev-orders-dlq")]),  # the shim sends dead letters
    }
    starts = json.loads(next(r for r in roles if r.name == "shop-dev-create_order").policy)["Statement"]
    granted = {s["Sid"]: s["Resource"] for s in starts}  # it starts the order's workflow: its store and queue
    assert granted["WriteState"] == [ARNS.table("shop-dev-pfn-workflows")]
    assert granted["SendQueues"] == [ARNS.queue("shop-dev-pfn-wf-place-order")]


DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/{}"


@pytest.mark.parametrize(
    ("function", "queue"),
    [
        ("fulfil", "shop-dev-orders-dlq"),  # a queue trigger: its queue's dead-letter queue
        ("notify", "shop-dev-notify-dlq"),  # topic, storage, schedule: the function's own
        ("on_upload", "shop-dev-on_upload-dlq"),
        ("sweep", "shop-dev-sweep-dlq"),
        ("nightly_report", "shop-dev-nightly_report-dlq"),
    ],
)
def test_every_event_function_gets_its_dead_letter_queue_url_and_may_send_only_there(
    shop: Any, function: str, queue: str
) -> None:
    found = build(shop, "dev")
    assert ("sqs queue", queue) in found
    env = dict(found[("lambda function", f"shop-dev-{function}")].env)
    assert env["PORTABLE_FN_DEAD_LETTER_QUEUE_URL"] == DLQ_URL.format(queue)
    policy = json.loads(found[("iam role", f"shop-dev-{function}")].policy)
    sends = [s for s in policy["Statement"] if any(a.startswith("sqs:Send") for a in s["Action"])]
    assert sends == [
        {"Sid": "DeadLetter", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [ARNS.queue(queue)]}
    ]


def test_http_functions_and_dead_letter_false_get_no_dead_letter_queue(shop: Any) -> None:
    found = build(shop, "dev")
    assert "PORTABLE_FN_DEAD_LETTER_QUEUE_URL" not in dict(found[("lambda function", "shop-dev-create_order")].env)
    edge = load_app(EDGE)
    found = build(edge, "test", (("inbox", "existing-inbox-bucket"),))
    work = dict(found[("lambda function", "edge-test-work")].env)  # FIFO queue with dead_letter=False
    assert "PORTABLE_FN_DEAD_LETTER_QUEUE_URL" not in work
    assert "DeadLetter" not in found[("iam role", "edge-test-work")].policy


def test_a_fifo_queue_s_dead_letter_queue_url_is_the_fifo_one(tmp_path: Path) -> None:
    app_dir = tmp_path / "fifo"
    shutil.copytree(EDGE, app_dir)
    functions = app_dir / "edge" / "functions.py"
    functions.write_text(functions.read_text().replace("dead_letter=False, ", ""))
    found = build(load_app(app_dir), "test", (("inbox", "existing-inbox-bucket"),))
    env = dict(found[("lambda function", "edge-test-work")].env)
    assert env["PORTABLE_FN_DEAD_LETTER_QUEUE_URL"] == DLQ_URL.format("edge-test-jobs-dlq.fifo")
    assert found[("sqs queue", "edge-test-jobs-dlq.fifo")].fifo


def test_a_queue_url_in_the_china_partition() -> None:
    assert Arns("aws-cn", "cn-north-1", "123").queue_url("q") == "https://sqs.cn-north-1.amazonaws.com.cn/123/q"


def test_plan_against_matching_remote_state_is_empty(shop: Any) -> None:
    resources = list(build(shop, "dev").values())
    assert make_plan(resources, RemoteState(resources)).empty


def test_plan_sorts_code_from_configuration_changes(shop: Any) -> None:
    before = list(build(shop, "dev").values())
    after = desired(Target(shop, "dev", Names("shop", "dev"), ARNS, artifact("cd" * 32)))
    plan = make_plan(after, RemoteState(before))
    assert {s.changes for s in plan.steps} == {("code_sha256",)}
    assert {s.resource.kind for s in plan.steps} == {"lambda function"}


def test_plan_for_removal_deletes_dependents_first(shop: Any) -> None:
    plan = make_plan([], RemoteState(build(shop, "dev").values()))
    order = [type(s.resource) for s in plan.steps]
    assert order.index(Schedule) < order.index(Function) < order.index(Role) < order.index(Queue)
    assert order.index(EventSourceMapping) < order.index(Function)
    assert order.index(Permission) < order.index(Function) and order.index(FunctionUrl) < order.index(Function)
    assert order.index(InvokeConfig) < order.index(Function)


@pytest.mark.parametrize(
    "statement",
    [
        {  # as AWS answers
            "Sid": "portable-fn-url",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
        },
        {  # as moto answers
            "Sid": "portable-fn-url",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "FunctionUrlAuthType": "NONE",
        },
    ],
)
def test_permission_read_back_from_either_policy_shape(statement: dict[str, Any]) -> None:
    assert permission_from("f", statement) == Permission(
        "f/portable-fn-url",
        function="f",
        statement_id="portable-fn-url",
        action="lambda:InvokeFunctionUrl",
        principal="*",
        url_auth_type="NONE",
    )


# -- http = "http-api" -----------------------------------------------------------------------------
def gateway_resources(app_dir: Path = GATEWAY) -> dict[tuple[str, str], Any]:
    app = load_app(app_dir)
    resources = desired(Target(app, "dev", Names(app.name, "dev"), ARNS, artifact(), http=HTTP_API))
    return {r.key: r for r in resources}


def test_an_http_api_replaces_function_urls_with_one_route_per_function() -> None:
    found = gateway_resources()
    assert [k for k in found if k[0] == "http api"] == [("http api", "gateway-dev")]
    assert not [k for k in found if k[0] in ("function url", "lambda permission")]
    routes = {r.name: (r.route_key, r.authorization_type) for r in found.values() if isinstance(r, ApiRoute)}
    assert {name: route for name, route in routes.items() if route[0] != "$default" and "ANY /items" not in name} == {
        "gateway-dev/gateway-dev-list_items": ("GET /items", "NONE"),
        "gateway-dev/gateway-dev-get_item": ("GET /items/{item_id}", "NONE"),
        "gateway-dev/gateway-dev-put_item": ("PUT /items/{item_id}", "AWS_IAM"),
        "gateway-dev/ANY /files/{path+}": ("ANY /files/{path+}", "AWS_IAM"),  # ANY: named by its key
        # A GET's HEAD, with the GET's authorization (API Gateway routes HEAD apart), named by its key too
        "gateway-dev/HEAD /items": ("HEAD /items", "NONE"),
        "gateway-dev/HEAD /items/{item_id}": ("HEAD /items/{item_id}", "NONE"),
    }
    integration = found[("http api integration", "gateway-dev/gateway-dev-files")]
    assert (integration.function_arn, integration.payload_format) == (ARNS.function("gateway-dev-files"), "2.0")
    permission = found[("http api permission", "gateway-dev-list_items/portable-fn-http-api")]
    assert (permission.api, permission.source_route) == ("gateway-dev", "*/*/items")  # it takes ANY /items too


def test_the_http_api_hands_what_it_would_refuse_to_a_function_no_more_open_than_that_function() -> None:
    """`ANY /path` for each declared path without ANY, and `$default`, each to the first function by name
    open at the edge that may take it (no authorization: anyone may invoke that one already); each
    function's one permission covers the routes to it."""
    found = gateway_resources()
    refusals = {
        r.route_key: (r.name, r.authorization_type, r.authorizer, r.function_arn)
        for r in found.values()
        if isinstance(r, ApiRoute) and (r.route_key == "$default" or r.route_key.startswith("ANY /items"))
    }
    assert refusals == {
        "ANY /items": ("gateway-dev/ANY /items", "NONE", "", ARNS.function("gateway-dev-list_items")),
        "ANY /items/{item_id}": (
            "gateway-dev/ANY /items/{item_id}",
            "NONE",
            "",
            ARNS.function("gateway-dev-get_item"),  # public; put_item, on the same path, is private
        ),
        "$default": ("gateway-dev/$default", "NONE", "", ARNS.function("gateway-dev-get_item")),  # not files
    }
    sources = {
        r.function: r.source_route for r in found.values() if isinstance(r, ApiPermission) and r.api == "gateway-dev"
    }
    assert sources == {
        "gateway-dev-files": "*/*/files/*",
        "gateway-dev-get_item": "*/*",  # $default: any method, any path
        "gateway-dev-list_items": "*/*/items",
        "gateway-dev-put_item": "*/PUT/items/*",
    }
    fronted = {r.name: dict(r.env).get("PORTABLE_FN_HTTP_FRONT") for r in found.values() if isinstance(r, Function)}
    assert set(fronted.values()) == {"http-api"}  # the shim refuses as the API would (`http_routes`)


def private_gateway(tmp_path: Path, cors: bool = False) -> Path:
    """The gateway app with every function private (no public=True), and CORS when `cors`."""
    app_dir = tmp_path / "gateway"
    shutil.copytree(GATEWAY, app_dir, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    items = app_dir / "gateway" / "items.py"
    items.write_text(items.read_text().replace(", public=True", ""))
    if cors:
        with (app_dir / "pyproject.toml").open("a") as config:
            config.write('\n[tool.portable-fn.cors]\nallow_origins = ["https://shop.example"]\n')
    return app_dir


def test_what_a_private_function_refuses_needs_iam_and_with_cors_only_default_goes_to_it(tmp_path: Path) -> None:
    def refusals(app_dir: Path) -> dict[str, tuple[str, str]]:
        found = gateway_resources(app_dir).values()
        return {
            r.route_key: (r.authorization_type, r.function_arn.rsplit("-", 1)[-1])
            for r in found
            if isinstance(r, ApiRoute) and r.route_key in ("$default", "ANY /items", "ANY /items/{item_id}")
        }

    assert refusals(private_gateway(tmp_path / "a")) == {
        "ANY /items": ("AWS_IAM", "list_items"),
        "ANY /items/{item_id}": ("AWS_IAM", "get_item"),
        "$default": ("AWS_IAM", "files"),
    }
    # An AWS_IAM `ANY` would take the browsers' preflights, which API Gateway answers under the app's CORS.
    assert refusals(private_gateway(tmp_path / "b", cors=True)) == {"$default": ("AWS_IAM", "files")}


def test_a_path_declared_for_any_method_gets_no_refusal_route_even_under_another_parameter_name(
    tmp_path: Path,
) -> None:
    app_dir = tmp_path / "gateway"
    shutil.copytree(GATEWAY, app_dir, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    files = app_dir / "gateway" / "files.py"
    files.write_text(files.read_text().replace('http("ANY", "/files/{path+}")', 'http("ANY", "/items/{sku}")'))
    routes = {r.route_key for r in gateway_resources(app_dir).values() if isinstance(r, ApiRoute)}
    assert "ANY /items/{sku}" in routes and "ANY /items/{item_id}" not in routes and "ANY /items" in routes


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/", "*/GET/"),
        ("POST", "/orders", "*/POST/orders"),
        ("GET", "/orders/{order_id}/lines/{n}", "*/GET/orders/*/lines/*"),
        ("ANY", "/static/{rest+}", "*/*/static/*"),
    ],
)
def test_the_api_permission_globs_path_parameters(method: str, path: str, expected: str) -> None:
    assert source_route(Http(method, path)) == expected


def test_removing_an_http_api_deletes_routes_before_integrations_before_the_api() -> None:
    plan = make_plan([], RemoteState(gateway_resources().values()))
    order = [type(s.resource) for s in plan.steps]
    assert order.index(ApiRoute) < order.index(ApiIntegration) < order.index(HttpApi)
    assert order.index(ApiPermission) < order.index(Function)


def test_an_api_permission_is_read_back_with_the_api_named() -> None:
    statement = {
        "Sid": "portable-fn-http-api",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Condition": {"ArnLike": {"AWS:SourceArn": ARNS.execute_api("a1b2c3", "*/GET/items/*")}},
    }
    [read] = permissions_from("f", {"Statement": [statement]}, {"a1b2c3": "gateway-dev"})
    assert read == ApiPermission(
        "f/portable-fn-http-api",
        function="f",
        statement_id="portable-fn-http-api",
        api="gateway-dev",
        source_route="*/GET/items/*",
    )
    [foreign] = permissions_from("f", {"Statement": [statement]}, {})
    assert isinstance(foreign, ApiPermission) and foreign.api == ""  # not the app's API: redone


def test_an_unknown_http_setting_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"aws.http: use 'function-url' or 'http-api', not 'rest-api'"):
        AwsDeployer({"http": "rest-api"})


def test_the_deployer_reads_typed_settings_and_a_misspelled_key_is_refused_with_the_right_one() -> None:
    deployer = AwsDeployer(AwsSettings(region="eu-west-1", http="http-api"))
    config = deployer.config
    assert (deployer.region(), config.http, config.log_retention_days) == ("eu-west-1", "http-api", 14)
    with pytest.raises(ConfigError, match=r"tool.portable-fn.aws.regoin: .*'region'"):
        AwsDeployer({"regoin": "eu-west-1"})


def test_two_functions_on_one_route_of_the_http_api_are_refused(tmp_path: Path) -> None:
    app_dir = tmp_path / "gateway"
    shutil.copytree(GATEWAY, app_dir, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    files = app_dir / "gateway" / "files.py"
    files.write_text(files.read_text().replace('http("ANY", "/files/{path+}")', 'http("GET", "/items")'))
    app = load_app(app_dir)
    AwsDeployer({"http": "function-url"}).check(app)  # each its own URL: no clash
    with pytest.raises(UnsupportedTriggerError, match=r"'list_items' and 'files' on aws: both declare GET /items"):
        AwsDeployer({"http": "http-api"}).check(app)


# -- zips over the direct upload limit: the deployment bucket ---------------------------------------
def via_s3(app: Any, packaged: Artifact, limit: int = 9) -> list[Any]:
    """The app's resources with zips over `limit` bytes going through the deployment bucket."""
    return desired(Target(app, "dev", Names(app.name, "dev"), ARNS, packaged, budget=SizeBudget(direct_upload=limit)))


def test_the_deployment_bucket_name_is_stable_valid_and_unique_per_account_region_app_and_stage() -> None:
    name = Names("shop", "dev").deployment_bucket(ARNS)
    assert name == Names("shop", "dev").deployment_bucket(ARNS) and re.fullmatch(r"shop-dev-deploy-[0-9a-f]{12}", name)
    others = {
        Names("shop", "prod").deployment_bucket(ARNS),
        Names("depot", "dev").deployment_bucket(ARNS),
        Names("shop", "dev").deployment_bucket(Arns("aws", "us-east-1", ARNS.account)),
        Names("shop", "dev").deployment_bucket(Arns("aws", ARNS.region, "210987654321")),
    }
    assert len(others) == 4 and name not in others and ARNS.account not in name
    long = Names("a" * 60, "Feature_Branch").deployment_bucket(ARNS)
    assert len(long) == 63 and re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", long)
    assert Names("shop", "dev", deployment_bucket_name="my-own").deployment_bucket(ARNS) == "my-own"


def test_a_zip_over_the_limit_is_an_object_the_function_runs_from(shop: Any) -> None:
    bucket = Names("shop", "dev").deployment_bucket(ARNS)
    found = {r.key: r for r in via_s3(shop, artifact())}  # 10 bytes, over 9
    [code] = [r for r in found.values() if isinstance(r, CodeObject)]  # one for the app's one zip
    assert (code.name, code.bucket, code.object_key) == (
        f"{bucket}/shop/{'ab' * 32}.zip",
        bucket,
        f"shop/{'ab' * 32}.zip",
    )
    assert found[("deployment bucket", bucket)] == DeploymentBucket(bucket, public_access_blocked=True, encrypted=True)
    for function in (r for r in found.values() if isinstance(r, Function)):
        assert (function.code_bucket, function.code_key) == (bucket, code.object_key)
    direct = via_s3(shop, artifact(), limit=10)  # at the limit: in the request
    assert not [r for r in direct if isinstance(r, (CodeObject, DeploymentBucket)) or getattr(r, "code_key", "")]


def test_per_function_zips_each_have_an_object_only_when_over_the_limit() -> None:
    gateway = load_app(GATEWAY)
    zips = {
        name: LambdaArtifact(Path(f"/tmp/{name}.zip"), digit * 64, size, 1)
        for name, digit, size in [
            ("list_items", "1", 5),
            ("get_item", "2", 50),
            ("put_item", "3", 50),
            ("files", "4", 50),
        ]
    }
    packaged = LambdaArtifact(Path("/tmp"), "ff" * 32, 155, 4, functions=tuple(zips.items()))
    resources = via_s3(gateway, packaged)
    assert sorted(r.object_key for r in resources if isinstance(r, CodeObject)) == [
        f"files/{'4' * 64}.zip",
        f"get_item/{'2' * 64}.zip",
        f"put_item/{'3' * 64}.zip",
    ]
    small = next(r for r in resources if r.key == ("lambda function", "gateway-dev-list_items"))
    assert isinstance(small, Function) and (small.code_key, small.zip_path) == ("", "/tmp/list_items.zip")


def test_a_new_zip_is_uploaded_before_functions_move_to_it_and_the_old_one_deleted_after(shop: Any) -> None:
    before = via_s3(shop, artifact())
    plan = make_plan(via_s3(shop, artifact("cd" * 32)), RemoteState(before))
    steps = [s.describe().split(" (")[0] for s in plan.steps]
    bucket = Names("shop", "dev").deployment_bucket(ARNS)
    assert steps[0] == f"+ create code object {bucket}/shop/{'cd' * 32}.zip"
    assert steps[-1] == f"- delete code object {bucket}/shop/{'ab' * 32}.zip"
    assert {s.changes for s in plan.steps[1:-1]} == {("code_sha256",)} and len(steps) == 2 + 9
    assert make_plan(before, RemoteState(before)).empty
    removal = [type(s.resource) for s in make_plan([], RemoteState(before)).steps]
    assert removal.index(Function) < removal.index(CodeObject) < removal.index(DeploymentBucket)


@pytest.mark.parametrize("value", [51, -1, "50", True, None])
def test_a_direct_upload_limit_lambda_would_refuse_is_a_config_error(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"aws.direct_upload_limit_mb: "):
        AwsDeployer({"direct_upload_limit_mb": value})


def test_the_direct_upload_limit_setting_in_mb() -> None:
    assert size_budget(AwsSettings()) == SizeBudget(direct_upload=50 * 1024 * 1024)
    assert size_budget(AwsSettings(direct_upload_limit_mb=0.5)).direct_upload == 512 * 1024
    assert size_budget(AwsSettings(direct_upload_limit_mb=0)).via_s3(1)

"""The contract workflow (tests/apps/flow) on AWS's own delivery, offline: each function its packaged zip's
real entry point (`portable_fn_entry.<function>`) under the real `awslambdaric` runtime client; started by the
Function URL event of POST /flows, continued by its queue's SQS event source mapping (delays as SQS holds
them), its approval a Function URL event to `approve`; the state in moto's DynamoDB, the queue in moto's SQS,
the delays past SQS's 900 s in moto's EventBridge Scheduler (see lambda_cloud.py for what plays which service).

Every function runs with the env deploy gives it (the provider's own `desired`), so what a deployed function
needs to find its store, its queue and its delays is what deploy sets. The instance ends as on every provider
(`workflow_contract`), also when the runner's execution environment dies right after a step's effect;
`portable-fn workflows list|show|cancel --provider aws --endpoint-url` reaches it in the emulator. Each AWS call
the functions make on the way is one the role deploy gives them allows (moto enforces no IAM: the calls are
recorded in the runtime and held against the policies).

The crash and the recording wrap the function's real entry point in a handler module of their own
(crash_handlers/); every other function, and every function of the other tests, runs
`portable_fn_entry.<function>` as deploy configures it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from portable_fn_aws.deploy.naming import Arns
from portable_fn_aws.deploy.resources import Role
from portable_fn_aws.provider import AwsProvider
from portable_fn_aws.publish import DELAY_GROUP_ENV, DELAY_ROLE_ENV, queue_arn
from portable_fn_aws.state import DynamoDbBackend

from portable_fn.app import App, load_app
from portable_fn.cli import main
from portable_fn.provider import runtime_environment
from portable_fn.runtime import workflow
from portable_fn.runtime.channels import QUEUE, Channel, publisher
from portable_fn.runtime.cloudevent import CloudEvent
from portable_fn.runtime.state import Record, locator_env, new_version
from portable_fn.runtime.triggers import Queue

from ...workflow_contract import (
    FLOW_DIR,
    REFUSED_AT,
    check_cli_shows,
    check_compensated,
    check_completed,
    check_refused_at_price,
    check_retried,
    order,
    retry_with_cli,
)
from .lambda_cloud import PYTHON, Deployed, LambdaCloud, deploy

STAGE = "dev"
RUNNER = "order_flow-run"
CAPTURE = 5  # the capture step's position in the history (its step key is `<id>#5`)
CRASH_HANDLERS = Path(__file__).with_name("crash_handlers")
SKIPPED = shutil.ignore_patterns(".portable-fn", "__pycache__")

pytestmark = pytest.mark.slow


def flow_app(folder: Path) -> App:
    """A copy of the flow app for the running Python (Lambda runs the app's; its zip is built for it)."""
    app_dir = shutil.copytree(FLOW_DIR, folder / "flow", ignore=SKIPPED)
    pyproject = app_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('python = "3.11"\n', f'python = "{PYTHON}"\n'))
    return load_app(app_dir)


@pytest.fixture
def deployed(endpoint: str, tmp_path: Path) -> Deployed:
    app = flow_app(tmp_path)
    provider = AwsProvider(app.config.provider_settings("aws", STAGE), endpoint)
    return deploy(app, provider, STAGE, tmp_path, endpoint)


@pytest.fixture
def cloud(deployed: Deployed, endpoint: str, runtime_path: list[Path], tmp_path: Path) -> Iterator[LambdaCloud]:
    """The flow app on moto and awslambdaric."""
    lambda_cloud = LambdaCloud(deployed, endpoint, runtime_path, tmp_path / "logs")
    try:
        yield lambda_cloud
    finally:
        lambda_cloud.close()


@pytest.fixture
def crashing_cloud(
    deployed: Deployed, endpoint: str, runtime_path: list[Path], tmp_path: Path
) -> Iterator[LambdaCloud]:
    """The flow app on moto and awslambdaric, its runner's execution environment dying once, right after the
    capture step's effect is stored (before its checkpoint; its message never answered)."""
    lambda_cloud = LambdaCloud(
        deployed,
        endpoint,
        [*runtime_path, CRASH_HANDLERS],
        tmp_path / "logs",
        handlers={RUNNER: "kill_after_effect.run"},
        extra_env={
            "FLOW_KILL_FUNCTION": RUNNER,
            "FLOW_KILL_AFTER": "capture",
            "FLOW_KILL_MARKER": str(tmp_path / "killed"),
        },
    )
    # Deploy gives the runner's queue a visibility timeout of 30 s; here it is 3 s, so the message the dead
    # runner never answered comes back after 3 s instead of 30. Nothing else comes back early: the harness
    # hands over one batch at a time and settles it before it receives again.
    for function, mapping in lambda_cloud.mappings():
        if function == RUNNER:
            url = lambda_cloud.sqs.get_queue_url(QueueName=mapping.queue_arn.rsplit(":", 1)[1])["QueueUrl"]
            lambda_cloud.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "3"})
    try:
        yield lambda_cloud
    finally:
        lambda_cloud.close()


@pytest.fixture
def recording_cloud(
    deployed: Deployed, endpoint: str, runtime_path: list[Path], tmp_path: Path
) -> Iterator[LambdaCloud]:
    """The flow app on moto and awslambdaric, every AWS call its functions make written to `calls.jsonl`."""
    lambda_cloud = LambdaCloud(
        deployed,
        endpoint,
        [*runtime_path, CRASH_HANDLERS],
        tmp_path / "logs",
        handlers={spec.name: "recording.run" for spec in deployed.app.functions},
        extra_env={"FLOW_CALLS": str(tmp_path / "calls.jsonl")},
    )
    try:
        yield lambda_cloud
    finally:
        lambda_cloud.close()


def client(cloud: LambdaCloud, service: str) -> Any:
    return boto3.client(service, region_name=cloud.region, endpoint_url=cloud.sqs.meta.endpoint_url)


def instance(cloud: LambdaCloud, instance_id: str) -> dict[str, Any]:
    record = open_backend_of(cloud, "pfn-workflows").read(f"wf#{instance_id}")
    assert record is not None, f"no instance {instance_id} in moto's DynamoDB"
    return json.loads(record.value)  # type: ignore[no-any-return]


def open_backend_of(cloud: LambdaCloud, name: str) -> DynamoDbBackend:
    """The state `name` in moto's DynamoDB, where deploy told the runner it is."""
    table = cloud.deployed.env(RUNNER)[locator_env(name)]
    return DynamoDbBackend(table, client(cloud, "dynamodb"))


def ledger(cloud: LambdaCloud, instance_id: str) -> dict[str, str]:
    """The effects of the instance's steps (keys `<id>#<n>`), as stored."""
    return {r.key: r.value for r in open_backend_of(cloud, "ledger").scan(f"{instance_id}#")}


def start(cloud: LambdaCloud, order_id: str, **extra: Any) -> str:
    status, body = cloud.request("order_flow", "POST", "/flows", order(order_id, **extra))
    assert status == 202, body
    return str(body["id"])


def finish(cloud: LambdaCloud, instance_id: str, order_id: str) -> dict[str, Any]:
    """Run the cloud until the instance ends; approve it (`approve`'s Function URL) once it waits for that."""
    approved: list[int] = []

    def ended() -> dict[str, Any] | None:
        found = instance(cloud, instance_id)
        if found["status"] == "waiting" and found["waiting"].get("for") == "event" and not approved:
            status, body = cloud.request("approve", "POST", f"/approvals/{order_id}")
            assert status == 200, body
            approved.append(body["woken"])
        return found if found["status"] in ("completed", "failed") else None

    done: dict[str, Any] = cloud.run_until(ended, timeout=240, what=f"instance {instance_id} to end")
    assert approved in ([], [1])  # the approval woke the one instance waiting for it
    return done


def queue_counts(cloud: LambdaCloud) -> dict[str, int]:
    """How many messages the workflow's queue holds: visible, delayed, in flight."""
    name = cloud.deployed.env(RUNNER)["PORTABLE_FN_QUEUE_PFN_WF_ORDER_FLOW"].rsplit("/", 1)[1]
    url = cloud.sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = cloud.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    counts = {"visible": "", "delayed": "Delayed", "in flight": "NotVisible"}
    return {what: int(attributes[f"ApproximateNumberOfMessages{name}"]) for what, name in counts.items()}


def test_the_contract_workflow_completes_through_function_urls_and_the_sqs_mapping(
    crashing_cloud: LambdaCloud,
) -> None:
    """Also when the runner dies right after capture's effect: SQS hands the message over again once its
    visibility timeout (3 s here, see `crashing_cloud`) has run, and capture runs again without applying its
    effect twice."""
    cloud = crashing_cloud
    instance_id = start(cloud, "o-1")
    done = finish(cloud, instance_id, "o-1")
    check_completed(done, ledger(cloud, instance_id), "o-1")
    assert cloud.crashes == 1  # the runner died after capture's effect, before its checkpoint
    runs = open_backend_of(cloud, "ledger").read(f"runs#{instance_id}#{CAPTURE}")
    assert runs is not None and json.loads(runs.value) == 2  # capture ran again; its effect is there once
    history = done["history"]
    for before, after in ((4, CAPTURE), (8, 9)):  # each sleep ended when due
        assert history[before]["kind"] == "sleep" and history[after]["started"] >= history[before]["until"]
    # SQS (moto) held each sleep's wake for its DelaySeconds: two wakes, none handed over early, none sent again
    wakes = [(at, body) for at, body in cloud.received if body["data"].get("kind") == "wake"]
    sent = {body["id"]: body["data"]["due"] for _, body in wakes}  # the first one twice: its runner died
    assert sorted(sent.values()) == [history[4]["until"], history[8]["until"]]
    assert all(at >= body["data"]["due"] - workflow.EARLY_S for at, body in wakes)
    # the approval's 600 s timeout is within SQS's 900 s: a delayed message, still held; nothing was scheduled
    assert queue_counts(cloud) == {"visible": 0, "delayed": 1, "in flight": 0}
    group = cloud.deployed.env(RUNNER)[DELAY_GROUP_ENV]
    assert cloud.scheduler.list_schedules(GroupName=group)["Schedules"] == []
    assert {function for function, _ in cloud.deliveries} == {RUNNER}


def test_an_order_refused_at_ship_is_compensated_in_reverse(cloud: LambdaCloud) -> None:
    instance_id = start(cloud, "o-2", fail_at="ship")
    done = finish(cloud, instance_id, "o-2")
    check_compensated(done)
    steps = {json.loads(v)["step"] for v in ledger(cloud, instance_id).values()}
    assert {"release", "void"} <= steps and "ship" not in steps


def send_a_far_wake(cloud: LambdaCloud, instance_id: str) -> dict[str, Any]:
    """Send the instance a wake due in 20 minutes (past SQS's 900 s), as the runner sends one, from the env
    `portable-fn workflows` has (`workflow_env`); the message."""
    runner_queue = cloud.deployed.app.function(RUNNER).trigger
    assert isinstance(runner_queue, Queue)
    due = time.time() + 1200
    message = {"instance": instance_id, "kind": "wake", "due": due}
    event: CloudEvent[Any] = CloudEvent(
        id="wake-far",
        source="/workflows/order_flow",
        type=workflow.CONTINUE,
        subject=instance_id,
        datacontenttype="application/json",
        data=message,
    )
    with runtime_environment(cloud.deployed.provider.workflow_env(cloud.deployed.app, STAGE)):
        publisher().publish(Channel(QUEUE, runner_queue.name), [event], delay_s=due - time.time())
    return message


def fire_schedules(cloud: LambdaCloud) -> list[dict[str, Any]]:
    """Do what Scheduler does when each schedule of the delay group fires (early, here): send its input to
    its target queue, then delete it (ActionAfterCompletion DELETE); the schedules, as they were."""
    group = cloud.deployed.env(RUNNER)[DELAY_GROUP_ENV]
    fired = []
    for listed in cloud.scheduler.list_schedules(GroupName=group)["Schedules"]:
        made = cloud.scheduler.get_schedule(GroupName=group, Name=listed["Name"])
        url = cloud.sqs.get_queue_url(QueueName=made["Target"]["Arn"].rsplit(":", 1)[1])["QueueUrl"]
        cloud.sqs.send_message(QueueUrl=url, MessageBody=made["Target"]["Input"])
        cloud.scheduler.delete_schedule(GroupName=group, Name=listed["Name"])
        fired.append(made)
    return fired


def rescheduled(cloud: LambdaCloud) -> list[dict[str, Any]]:
    """Run the cloud until the delay group holds a schedule again (the runner sent the rest of a wait); them."""
    group = cloud.deployed.env(RUNNER)[DELAY_GROUP_ENV]

    def scheduled() -> list[dict[str, Any]] | None:
        found = cloud.scheduler.list_schedules(GroupName=group)["Schedules"]
        return [cloud.scheduler.get_schedule(GroupName=group, Name=s["Name"]) for s in found] or None

    return cloud.run_until(scheduled, timeout=120, what="the runner to schedule the rest of the wait")


def waiting_for_approval(cloud: LambdaCloud, instance_id: str) -> dict[str, Any]:
    def waiting() -> dict[str, Any] | None:
        found = instance(cloud, instance_id)
        return found if found["status"] == "waiting" and found["waiting"].get("for") == "event" else None

    return cloud.run_until(waiting, timeout=240, what="the instance to wait for its approval")


def test_a_wait_past_sqs_delays_is_a_scheduler_schedule_whose_input_continues_the_instance(
    cloud: LambdaCloud,
) -> None:
    """A wake past SQS's 900 s is a one-time schedule in the app's delay group whose target is the workflow's
    queue (sent with the delay role, which may send there) and whose input is the message. Delivered to the
    queue as Scheduler does when it fires (early, here), the runner sends the rest of the wait again, as a
    new schedule due when the first was: the instance is left as it was."""
    instance_id = start(cloud, "o-5")
    before = waiting_for_approval(cloud, instance_id)
    message = send_a_far_wake(cloud, instance_id)
    env = cloud.deployed.env(RUNNER)
    role = env[DELAY_ROLE_ENV]
    [schedule] = fire_schedules(cloud)
    assert schedule["GroupName"] == env[DELAY_GROUP_ENV]
    assert schedule["Target"]["Arn"] == queue_arn(env["PORTABLE_FN_QUEUE_PFN_WF_ORDER_FLOW"], role, cloud.region)
    assert schedule["Target"]["RoleArn"] == role
    [delay_role] = [r for r in cloud.deployed.of(Role) if role.endswith(f"{r.path}{r.name}")]
    assert json.loads(delay_role.trust)["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert allows(json.loads(delay_role.policy), "sqs:SendMessage", schedule["Target"]["Arn"])
    assert json.loads(schedule["Target"]["Input"])["data"] == message
    assert schedule["ActionAfterCompletion"] == "DELETE" and schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    at = re.fullmatch(r"at\((.+)\)", schedule["ScheduleExpression"])
    assert at is not None
    fires = datetime.fromisoformat(at.group(1)).replace(tzinfo=timezone.utc).timestamp()
    assert message["due"] <= fires < message["due"] + 2

    [resent] = rescheduled(cloud)
    assert json.loads(resent["Target"]["Input"])["data"] == message
    # Due when the first was, to the second: each is `ceil(now + the rest of the wait)`, read from the clock a
    # few milliseconds apart, so a due time just under a whole second can round to the next (a busy machine).
    again = re.fullmatch(r"at\((.+)\)", resent["ScheduleExpression"])
    assert again is not None
    assert 0 <= datetime.fromisoformat(again.group(1)).replace(tzinfo=timezone.utc).timestamp() - fires <= 1
    assert instance(cloud, instance_id) == before


def iam_requests(call: dict[str, Any], arns: Arns) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM authorizes `call` (a recorded boto3 call) by."""
    service, operation, params = call["service"], call["operation"], call["params"]
    action = f"{service}:{BATCHED.get(operation, operation)}"
    if service == "dynamodb":
        return [(action, arns.table(params["TableName"]))]
    if service == "sqs":
        return [(action, arns.queue(params.get("QueueName") or params["QueueUrl"].rsplit("/", 1)[1]))]
    if service == "sns":
        return [(action, params["TopicArn"])]
    if service == "scheduler" and operation == "CreateSchedule":
        schedule = arns.schedules_in(params["GroupName"]).replace("*", params["Name"])
        return [(action, schedule), ("iam:PassRole", params["Target"]["RoleArn"])]
    raise AssertionError(f"a call this test cannot map to IAM: {call}")


BATCHED = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage", "PublishBatch": "Publish"}


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement of `policy` names `action` on `resource` (no Deny is ever made)."""

    def listed(value: str | list[str]) -> list[str]:
        return [value] if isinstance(value, str) else value

    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in listed(statement["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in listed(statement["Resource"]))
        for statement in policy["Statement"]
    )


def test_every_aws_call_the_functions_make_is_one_their_roles_allow(
    recording_cloud: LambdaCloud, tmp_path: Path
) -> None:
    """Through a whole instance (a wait past SQS's delays included), each call of each function's boto3
    clients is allowed by the inline policy deploy gives that function's role, and the policies still differ
    where the functions' uses do."""
    cloud = recording_cloud
    instance_id = start(cloud, "o-6")
    waiting_for_approval(cloud, instance_id)
    send_a_far_wake(cloud, instance_id)
    assert len(fire_schedules(cloud)) == 1
    rescheduled(cloud)  # by the runner, which needs CreateSchedule and PassRole for it
    check_completed(finish(cloud, instance_id, "o-6"), ledger(cloud, instance_id), "o-6")

    arns = cloud.deployed.provider.deployer.arns()  # type: ignore[attr-defined]
    policies = {
        spec.name: json.loads(role.policy)
        for spec in cloud.deployed.app.functions
        for role in cloud.deployed.of(Role)
        if role.name == cloud.deployed.provider.deployer.names(cloud.deployed.app, STAGE).role(spec.name)
    }
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    made = {(c["function"], action) for c in calls for action, _ in iam_requests(c, arns)}
    assert {
        ("order_flow", "sqs:SendMessage"),
        ("approve", "dynamodb:PutItem"),
        (RUNNER, "scheduler:CreateSchedule"),
        (RUNNER, "iam:PassRole"),
    } <= made
    refused = [
        (c["function"], action, resource)
        for c in calls
        for action, resource in iam_requests(c, arns)
        if not allows(policies[c["function"]], action, resource)
    ]
    assert refused == []
    ledger_write = ("dynamodb:PutItem", arns.table(cloud.deployed.env(RUNNER)[locator_env("ledger")]))
    assert allows(policies[RUNNER], *ledger_write) and not allows(policies["approve"], *ledger_write)


def test_portable_fn_workflows_lists_and_shows_the_instance_from_dynamodb(
    cloud: LambdaCloud, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = start(cloud, "o-3")
    done = finish(cloud, instance_id, "o-3")
    common = [str(cloud.deployed.app.root), "--provider", "aws", "--stage", STAGE, "--endpoint-url", endpoint]
    check_cli_shows(capsys, common, instance_id, done, "o-3")


def test_portable_fn_workflows_cancels_a_waiting_instance_through_its_queue(
    cloud: LambdaCloud, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI marks the instance and sends to the workflow's queue itself (its own AwsPublisher, opened from
    workflow_env); the runner, handed that message by the mapping, compensates and ends it."""
    instance_id = start(cloud, "o-4")
    waiting_for_approval(cloud, instance_id)
    common = [str(cloud.deployed.app.root), "--provider", "aws", "--stage", STAGE, "--endpoint-url", endpoint]
    assert main(["workflows", "cancel", instance_id, *common, "--reason", "customer cancelled", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelling"

    def cancelled() -> dict[str, Any] | None:
        found = instance(cloud, instance_id)
        return found if found["status"] == "cancelled" else None

    done = cloud.run_until(cancelled, timeout=240, what="the instance to be cancelled")
    assert [e["name"] for e in done["history"] if e["kind"] == "compensation"] == [
        "void (undoing authorize)",
        "release (undoing reserve)",
    ]


def runs(cloud: LambdaCloud, instance_id: str, position: int) -> int:
    """How many times the instance's step at `position` ran (the ledger's `runs#<id>#<n>` counter)."""
    found = open_backend_of(cloud, "ledger").read(f"runs#{instance_id}#{position}")
    return 0 if found is None else int(json.loads(found.value))


def test_portable_fn_workflows_retries_a_failed_instance_from_its_failed_step(
    cloud: LambdaCloud, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An order refused at price fails with nothing to compensate; once what refused it is fixed, the CLI
    rewinds the instance to price and sends to the workflow's queue itself; the runner, handed that message by
    the mapping, runs it on from price to the end, and `workflows show` shows it completed."""
    instance_id = start(cloud, "o-7", fail_at=REFUSED_AT)

    def failed() -> dict[str, Any] | None:
        found = instance(cloud, instance_id)
        return found if found["status"] == "failed" else None

    check_refused_at_price(cloud.run_until(failed, timeout=240, what="the instance to fail at price"))
    open_backend_of(cloud, "ledger").write(Record("fixed#o-7", "true", new_version()))
    common = [str(cloud.deployed.app.root), "--provider", "aws", "--stage", STAGE, "--endpoint-url", endpoint]
    retry_with_cli(capsys, common, instance_id)
    done = finish(cloud, instance_id, "o-7")
    check_retried(done, ledger(cloud, instance_id), {n: runs(cloud, instance_id, n) for n in (0, 1)}, "o-7")
    check_cli_shows(capsys, common, instance_id, done, "o-7")


def test_workflow_env_is_what_deploy_sets_on_the_workflow_functions(deployed: Deployed, endpoint: str) -> None:
    """The CLI's env: the store's and the queue's locators, the delay group and role, as the runner has them,
    the region and the emulator; nothing that names one function."""
    env = deployed.provider.workflow_env(deployed.app, STAGE)
    runner = deployed.env(RUNNER)
    for name in (
        "PORTABLE_FN_PROVIDER",
        "PORTABLE_FN_STATE_PFN_WORKFLOWS",
        "PORTABLE_FN_QUEUE_PFN_WF_ORDER_FLOW",
        DELAY_GROUP_ENV,
        DELAY_ROLE_ENV,
    ):
        assert env[name] == runner[name]
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1" and env["AWS_ENDPOINT_URL"] == endpoint
    assert not {"PORTABLE_FN_FUNCTION", "PORTABLE_FN_DEAD_LETTER_QUEUE_URL", "PORTABLE_FN_QUEUE_URL"} & env.keys()


def test_every_function_and_the_cli_carry_the_apps_max_hops(endpoint: str, tmp_path: Path) -> None:
    """A hop count set for the app reaches each deployed function (and `portable-fn workflows`); unset, none."""
    from portable_fn_aws.deploy.resources import Function

    from portable_fn.deploy import Artifact

    app = flow_app(tmp_path)
    provider = AwsProvider(app.config.provider_settings("aws", STAGE), endpoint)
    hopping = App(app.root, app.config.model_copy(update={"max_hops": 5}), app.functions)
    unbuilt = Artifact(tmp_path / "flow.zip", "0" * 64, 1, 1)
    for made, wanted in ((hopping, {"5"}), (app, {None})):
        functions = [r for r in provider.deployer.desired(made, STAGE, unbuilt) if isinstance(r, Function)]
        assert len(functions) == 3
        assert {dict(f.env).get("PORTABLE_FN_MAX_HOPS") for f in functions} == wanted
        assert {provider.workflow_env(made, STAGE).get("PORTABLE_FN_MAX_HOPS")} == wanted

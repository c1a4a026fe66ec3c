"""Declared buckets on AWS's own delivery, offline: the files app (deploy/apps/files) packaged as deploy packages
it, each function its zip's real entry point under the real `awslambdaric` runtime client with the env deploy
gives it, its buckets in moto's S3 (see lambda_cloud.py). Functions write and read objects through the store
deploy points them at, the storage trigger's function reads an upload and writes two other buckets (one an
existing bucket the settings map), a read-only function's delete is refused before S3 is called, and every S3
call each function makes is one its role allows (moto enforces no IAM: the calls are recorded in the runtime and
held against the policies)."""

from __future__ import annotations

import base64
import fnmatch
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from portable_fn_aws.deploy.resources import Role
from portable_fn_aws.provider import AwsProvider

from portable_fn.app import load_app

from .lambda_cloud import PYTHON, Deployed, LambdaCloud, deploy, http_event

FILES = Path(__file__).with_name("deploy") / "apps" / "files"
RECORDING = Path(__file__).with_name("crash_handlers")  # recording.run: the entry point, its boto3 calls logged
STAGE = "test"
UPLOADS, REPORTS, ARCHIVE = "files-test-uploads", "files-test-reports", "existing-archive-bucket"
# The IAM action each S3 operation of the store is authorized by, and whether on the bucket or an object. HeadObject
# is authorized as s3:GetObject (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/s3/aws.sdk.kotlin.services.s3/
# head-object.html, read 2026-12-07); ListObjectsV2 lists the bucket.
S3_ACTIONS = {
    "GetObject": ("s3:GetObject", True),
    "HeadObject": ("s3:GetObject", True),
    "PutObject": ("s3:PutObject", True),
    "DeleteObject": ("s3:DeleteObject", True),
    "ListObjectsV2": ("s3:ListBucket", False),
}

pytestmark = pytest.mark.slow


@pytest.fixture
def deployed(endpoint: str, tmp_path: Path) -> Deployed:
    """The files app for the running Python (Lambda runs the app's; its zip is built for it), its buckets made
    on moto, and the existing bucket its settings map `archive` to."""
    root = shutil.copytree(FILES, tmp_path / "files", ignore=shutil.ignore_patterns("__pycache__", ".portable-fn"))
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('python = "3.12"\n', f'python = "{PYTHON}"\n'))
    app = load_app(root)
    made = deploy(app, AwsProvider(app.config.provider_settings("aws", STAGE), endpoint), STAGE, tmp_path, endpoint)
    s3(endpoint).create_bucket(Bucket=ARCHIVE, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return made


@pytest.fixture
def cloud(deployed: Deployed, endpoint: str, runtime_path: list[Path], tmp_path: Path) -> Iterator[LambdaCloud]:
    lambda_cloud = LambdaCloud(
        deployed,
        endpoint,
        [*runtime_path, RECORDING],
        tmp_path / "logs",
        handlers={spec.name: "recording.run" for spec in deployed.app.functions},
        extra_env={"FLOW_CALLS": str(tmp_path / "calls.jsonl")},
    )
    try:
        yield lambda_cloud
    finally:
        lambda_cloud.close()


def s3(endpoint: str) -> Any:
    return boto3.client("s3", region_name="eu-west-1", endpoint_url=endpoint)


def s3_event(bucket: str, key: str, size: int) -> dict[str, Any]:
    """The event S3 invokes a function with for one created object (tests/data/aws/events/s3Event.json's shape)."""
    event = json.loads((Path(__file__).parents[2] / "data" / "aws" / "events" / "s3Event.json").read_text())
    record = event["Records"][0]
    record["awsRegion"] = "eu-west-1"
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    record["s3"]["object"].update(key=key, size=size)
    return dict(event)


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement of `policy` names `action` on `resource` (no Deny is ever made)."""
    return any(
        statement["Effect"] == "Allow"
        and action in statement["Action"]
        and any(fnmatch.fnmatchcase(resource, r) for r in statement["Resource"])
        for statement in policy["Statement"]
    )


def test_functions_read_and_write_their_buckets_and_only_as_their_roles_allow(
    cloud: LambdaCloud, endpoint: str, tmp_path: Path
) -> None:
    assert cloud.request("upload", "PUT", "/files/notes.txt", "three short words") == (201, {"stored": "in/notes.txt"})
    assert cloud.request("listing", "GET", "/files") == (200, {"keys": ["in/notes.txt"]})
    downloaded = cloud.runtimes["download"].invoke(http_event("GET", "/files/in/notes.txt"))
    assert downloaded is not None and downloaded.kind == "response", cloud.output("download")
    assert downloaded.body["statusCode"] == 200 and downloaded.body["isBase64Encoded"]
    assert base64.b64decode(downloaded.body["body"]) == b'"three short words"'  # the JSON request body, as put
    assert cloud.request("download", "GET", "/files/in/other.txt") == (404, {"missing": True})
    stored = s3(endpoint).get_object(Bucket=UPLOADS, Key="in/notes.txt")
    assert stored["ContentType"] == "application/json"  # the request's, as the function passed it

    refused = cloud.runtimes["sneaky_delete"].invoke(http_event("DELETE", "/files/in/notes.txt"))
    assert refused is not None and refused.kind == "response" and refused.body["statusCode"] == 500, refused
    assert "declares bucket('uploads') read-only" in cloud.output("sneaky_delete")
    assert s3(endpoint).get_object(Bucket=UPLOADS, Key="in/notes.txt")["Body"].read() == b'"three short words"'

    answer = cloud.runtimes["summarise"].invoke(s3_event(UPLOADS, "in/notes.txt", 19))
    assert answer is not None and answer.kind == "response", cloud.output("summarise")
    assert s3(endpoint).get_object(Bucket=REPORTS, Key="words/notes.txt")["Body"].read() == b"3 words"
    assert s3(endpoint).get_object(Bucket=ARCHIVE, Key="in/notes.txt")["Body"].read() == b'"three short words"'

    policies = {
        spec.name: json.loads(role.policy)
        for spec in cloud.deployed.app.functions
        for role in cloud.deployed.of(Role)
        if role.name == f"files-{STAGE}-{spec.name}"
    }
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    requests = [(c["function"], *iam_request(c)) for c in calls if c["service"] == "s3"]
    assert {(fn, action) for fn, action, _ in requests} == {
        ("upload", "s3:PutObject"),
        ("listing", "s3:ListBucket"),
        ("download", "s3:GetObject"),
        ("summarise", "s3:GetObject"),
        ("summarise", "s3:PutObject"),
    }
    assert [r for r in requests if not allows(policies[r[0]], r[1], r[2])] == []
    assert not allows(policies["sneaky_delete"], "s3:DeleteObject", f"arn:aws:s3:::{UPLOADS}/in/notes.txt")


def iam_request(call: dict[str, Any]) -> tuple[str, str]:
    """The (action, resource) IAM authorizes a recorded S3 call by."""
    action, on_object = S3_ACTIONS[call["operation"]]
    bucket = f"arn:aws:s3:::{call['params']['Bucket']}"
    return action, f"{bucket}/{call['params']['Key']}" if on_object else bucket

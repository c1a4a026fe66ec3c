"""Declared buckets deployed to a real moto server through the shared pipeline: made private, encrypted and
tagged (one bucket for a declared bucket and the storage trigger watching it), named on exactly the functions
that declare them, granted in their roles as declared; read back equal (a redeploy makes no mutating call);
the grants and their changes shown by `plan`; and kept by `remove` while they hold objects unless the data may
go."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.deploy import pipeline

FILES = Path(__file__).with_name("apps") / "files"
UPLOADS, REPORTS, ARCHIVE = "files-test-uploads", "files-test-reports", "existing-archive-bucket"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return load_app(shutil.copytree(FILES, tmp_path / "files", ignore=shutil.ignore_patterns("__pycache__")))


@pytest.fixture
def files(endpoint: str, helpers: Any, app: Any) -> Any:
    return helpers.MotoProvider({**app.config.provider_settings("aws", "test"), "wait_delay_s": 0.1}, endpoint)


def app_buckets(boto: Any) -> list[str]:
    """The app's buckets in the account, not its audit trail's (which no plan makes or removes)."""
    names = (b["Name"] for b in boto.s3.list_buckets()["Buckets"])
    return sorted(n for n in names if n.startswith("files-") and "-audit-" not in n)


def role_policy(boto: Any, fn: str) -> dict[str, Any]:
    found: dict[str, Any] = boto.iam.get_role_policy(RoleName=f"files-test-{fn}", PolicyName="portable-fn")
    document = found["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def s3_statements(boto: Any, fn: str) -> dict[str, tuple[list[str], list[str]]]:
    return {
        s["Sid"]: (s["Action"], s["Resource"])
        for s in role_policy(boto, fn)["Statement"]
        if any(a.startswith("s3:") for a in s["Action"])
    }


def test_deploy_makes_each_owned_bucket_private_encrypted_and_tagged(files: Any, app: Any, boto: Any) -> None:
    planned = pipeline.plan(files, app, "test").plan
    assert planned is not None
    assert sorted(s.resource.name for s in planned.steps if s.resource.kind == "s3 bucket") == [REPORTS, UPLOADS]
    pipeline.deploy(files, app, "test")
    assert app_buckets(boto) == [REPORTS, UPLOADS]
    for name in (UPLOADS, REPORTS):
        block = boto.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        rules = boto.s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert [r["ApplyServerSideEncryptionByDefault"] for r in rules] == [{"SSEAlgorithm": "AES256"}]
        tags = {t["Key"]: t["Value"] for t in boto.s3.get_bucket_tagging(Bucket=name)["TagSet"]}
        assert tags == {"portable-fn:app": "files", "portable-fn:stage": "test"}
    notifications = boto.s3.get_bucket_notification_configuration(Bucket=UPLOADS)["LambdaFunctionConfigurations"]
    assert [n["LambdaFunctionArn"].rsplit(":", 1)[-1] for n in notifications] == ["files-test-summarise"]


def test_the_bucket_is_named_and_granted_on_exactly_the_functions_that_declare_it(
    files: Any, app: Any, boto: Any
) -> None:
    outcome = pipeline.deploy(files, app, "test")
    assert outcome.outputs["buckets"] == {
        "uploads": f"s3://{UPLOADS}",
        "reports": f"s3://{REPORTS}",
        "archive": f"s3://{ARCHIVE}",
    }

    def env(fn: str) -> dict[str, str]:
        found = boto.lambda_.get_function_configuration(FunctionName=f"files-test-{fn}")["Environment"]["Variables"]
        return {k: v for k, v in found.items() if k.startswith("PORTABLE_FN_BUCKET_")}

    assert env("upload") == env("download") == {"PORTABLE_FN_BUCKET_UPLOADS": UPLOADS}
    assert env("summarise") == {
        "PORTABLE_FN_BUCKET_UPLOADS": UPLOADS,
        "PORTABLE_FN_BUCKET_REPORTS": REPORTS,
        "PORTABLE_FN_BUCKET_ARCHIVE": ARCHIVE,
    }
    assert env("health") == {}
    uploads = f"arn:aws:s3:::{UPLOADS}"
    assert s3_statements(boto, "upload") == {
        "ListBuckets": (["s3:ListBucket"], [uploads]),
        "WriteObjects": (["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], [f"{uploads}/*"]),
    }
    assert s3_statements(boto, "sneaky_delete") == {
        "ListBuckets": (["s3:ListBucket"], [uploads]),
        "ReadObjects": (["s3:GetObject"], [f"{uploads}/*"]),
    }
    assert s3_statements(boto, "summarise")["WriteObjects"] == (
        ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        [f"arn:aws:s3:::{ARCHIVE}/*", f"arn:aws:s3:::{REPORTS}/*"],
    )
    assert s3_statements(boto, "health") == {}


def test_a_redeploy_with_objects_in_the_buckets_makes_no_mutating_call(files: Any, app: Any, boto: Any) -> None:
    pipeline.deploy(files, app, "test")
    boto.s3.put_object(Bucket=UPLOADS, Key="in/a.txt", Body=b"some words")
    files.deployer.client.calls.clear()
    outcome = pipeline.deploy(files, app, "test")
    assert outcome.plan is not None and outcome.plan.empty, [s.describe() for s in outcome.plan.steps]
    assert files.deployer.client.calls and files.deployer.client.mutating_calls() == []


def test_remove_keeps_a_bucket_holding_objects_unless_told_to_delete_data(files: Any, app: Any, boto: Any) -> None:
    pipeline.deploy(files, app, "test")
    boto.s3.put_object(Bucket=UPLOADS, Key="in/a.txt", Body=b"some words")
    boto.s3.put_object(Bucket=UPLOADS, Key="out/a.txt", Body=b"2 words")
    said: list[str] = []
    outcome = pipeline.remove(files, app, "test", said.append)
    assert outcome.plan is not None and [r.name for r in outcome.plan.kept] == [UPLOADS]
    assert any(f"keep s3 bucket {UPLOADS}: it holds data" in line for line in said), said
    assert app_buckets(boto) == [UPLOADS]
    assert boto.s3.get_object(Bucket=UPLOADS, Key="in/a.txt")["Body"].read() == b"some words"
    pipeline.remove(files, app, "test", delete_data=True)
    assert app_buckets(boto) == []


def test_a_use_going_from_read_to_write_shows_as_the_grants_it_adds_and_takes_away(files: Any, app: Any) -> None:
    pipeline.deploy(files, app, "test")
    copy = shutil.copytree(app.root, app.root.with_name("changed"), ignore=shutil.ignore_patterns("__pycache__"))
    functions = copy / "files" / "functions.py"
    text = functions.read_text()
    functions.write_text(
        text.replace('("GET", "/files"), uses=[uploads.read()]', '("GET", "/files"), uses=[uploads.write()]')
    )
    changes = pipeline.plan(files, load_app(copy), "test").grants
    assert changes is not None
    objects = f"arn:aws:s3:::{UPLOADS}/*"
    assert [(g.function, g.resource, g.actions) for g in changes.added] == [
        ("listing", objects, ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"))
    ]
    assert [(g.function, g.resource, g.actions) for g in changes.removed] == [("listing", objects, ("s3:GetObject",))]


def test_the_plan_command_lists_each_bucket_grant_with_no_wildcard_action(
    files: Any, app: Any, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["plan", str(app.root), "--provider", "aws", "--stage", "test", "--endpoint-url", endpoint]
    assert main([*common, "--json"]) == 0
    added = json.loads(capsys.readouterr().out)["grants"]["added"]
    s3 = {(g["function"], g["resource"]): g["actions"] for g in added if g["resource"].startswith("arn:aws:s3:::")}
    assert s3[("download", f"arn:aws:s3:::{UPLOADS}")] == ["s3:ListBucket"]
    assert s3[("download", f"arn:aws:s3:::{UPLOADS}/*")] == ["s3:GetObject"]
    assert s3[("summarise", f"arn:aws:s3:::{ARCHIVE}/*")] == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert not any(f == "health" for f, _ in s3)
    assert all("*" not in action for actions in s3.values() for action in actions)
    assert main(common) == 0
    assert f"s3:GetObject on arn:aws:s3:::{UPLOADS}/*" in capsys.readouterr().out

"""What deploy makes of an app's declared buckets on AWS, without AWS: the S3 bucket a storage trigger of the same
name gets (one for both), one for a bucket no trigger watches, none for a bucket the settings map to an existing
one; the bucket's name on exactly the functions that declare it; in each role exactly the declared access on
exactly that bucket; and what a bucket found holding objects does to `remove`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from portable_fn_aws.deploy.desired import Target, desired
from portable_fn_aws.deploy.naming import Arns, Names
from portable_fn_aws.deploy.resources import Bucket, Function, Role

from portable_fn.app import App, load_app
from portable_fn.deploy import Artifact, RemoteState, make_plan

ARNS = Arns("aws", "eu-west-1", "123456789012")
FILES = Path(__file__).with_name("apps") / "files"
UPLOADS, REPORTS, ARCHIVE = "files-test-uploads", "files-test-reports", "existing-archive-bucket"
READ = ["s3:GetObject"]
WRITE = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
LIST = ["s3:ListBucket"]


def built(app: App) -> dict[tuple[str, str], Any]:
    names = Names(app.name, "test", (("archive", ARCHIVE),))  # as the app's settings map it
    artifact = Artifact(Path("/tmp/a.zip"), "ab" * 32, 1, 1)
    return {r.key: r for r in desired(Target(app, "test", names, ARNS, artifact))}


@pytest.fixture(scope="module")
def resources() -> dict[tuple[str, str], Any]:
    return built(load_app(FILES))


def s3_grants(resources: dict[tuple[str, str], Any], fn: str) -> dict[str, list[str]]:
    """Bucket or object ARN -> the S3 actions the function's role allows on it."""
    role = resources[("iam role", f"files-test-{fn}")]
    assert isinstance(role, Role)
    out: dict[str, list[str]] = {}
    for statement in json.loads(role.policy)["Statement"]:
        if any(a.startswith("s3:") for a in statement["Action"]):
            for arn in statement["Resource"]:
                out[arn] = sorted({*out.get(arn, []), *statement["Action"]})
    return out


def bucket_env(resources: dict[tuple[str, str], Any], fn: str) -> dict[str, str]:
    function = resources[("lambda function", f"files-test-{fn}")]
    assert isinstance(function, Function)
    return {k: v for k, v in function.env if k.startswith("PORTABLE_FN_BUCKET_")}


def test_one_private_encrypted_bucket_per_owned_declared_bucket(resources: dict[tuple[str, str], Any]) -> None:
    buckets = [r for r in resources.values() if isinstance(r, Bucket)]
    assert [b.name for b in buckets] == [UPLOADS, REPORTS]  # `archive` is the settings' existing bucket
    assert all(b.public_access_blocked and b.encrypted for b in buckets)
    assert all(dict(b.tags) == {} for b in buckets)  # the app sets no tags of its own; deploy adds its own


def test_the_bucket_is_named_on_exactly_the_functions_that_declare_it(resources: dict[tuple[str, str], Any]) -> None:
    for fn in ("upload", "listing", "download", "sneaky_delete"):
        assert bucket_env(resources, fn) == {"PORTABLE_FN_BUCKET_UPLOADS": UPLOADS}
    assert bucket_env(resources, "summarise") == {
        "PORTABLE_FN_BUCKET_UPLOADS": UPLOADS,
        "PORTABLE_FN_BUCKET_REPORTS": REPORTS,
        "PORTABLE_FN_BUCKET_ARCHIVE": ARCHIVE,
    }
    assert bucket_env(resources, "health") == {}


def test_each_function_gets_exactly_the_access_it_declares(resources: dict[tuple[str, str], Any]) -> None:
    def arn(bucket: str) -> str:
        return f"arn:aws:s3:::{bucket}"

    assert s3_grants(resources, "upload") == {arn(UPLOADS): LIST, f"{arn(UPLOADS)}/*": WRITE}
    for fn in ("listing", "download", "sneaky_delete"):
        assert s3_grants(resources, fn) == {arn(UPLOADS): LIST, f"{arn(UPLOADS)}/*": READ}, fn
    assert s3_grants(resources, "summarise") == {
        arn(UPLOADS): LIST,
        f"{arn(UPLOADS)}/*": READ,
        arn(REPORTS): LIST,
        f"{arn(REPORTS)}/*": WRITE,
        arn(ARCHIVE): LIST,
        f"{arn(ARCHIVE)}/*": WRITE,
    }
    assert s3_grants(resources, "health") == {}


def test_a_read_only_function_is_never_granted_a_write(resources: dict[tuple[str, str], Any]) -> None:
    """Would fail if `.read()` were granted as `.write()`: no put or delete for any function that declares
    every bucket it uses read-only."""
    for fn in ("listing", "download", "sneaky_delete"):
        actions = {a for granted in s3_grants(resources, fn).values() for a in granted}
        assert actions == {"s3:GetObject", "s3:ListBucket"}, fn


def test_a_bucket_found_holding_objects_is_kept_by_remove_unless_data_may_go() -> None:
    remote = RemoteState([Bucket(UPLOADS, has_objects=True), Bucket(REPORTS)])
    kept = make_plan([], remote)
    assert [r.name for r in kept.kept] == [UPLOADS]
    assert [s.resource.name for s in kept.steps] == [REPORTS]
    assert any(f"keep s3 bucket {UPLOADS}: it holds data" in line for line in kept.kept_lines())
    assert sorted(s.resource.name for s in make_plan([], remote, delete_data=True).steps) == [REPORTS, UPLOADS]


def test_objects_in_a_wanted_bucket_change_nothing(resources: dict[tuple[str, str], Any]) -> None:
    wanted = [r for r in resources.values() if isinstance(r, Bucket)]
    found = RemoteState([Bucket(b.name, has_objects=True, tags=b.tags) for b in wanted])
    assert make_plan(wanted, found).empty

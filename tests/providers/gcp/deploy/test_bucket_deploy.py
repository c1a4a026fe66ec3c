"""Deploying an app that declares buckets: the bucket of each (the one a storage trigger of that name watches;
made private, uniform and labelled, unless the settings map it to an existing bucket, which is only granted on),
`PORTABLE_FN_BUCKET_<NAME>` on exactly the functions that declare it, and each function's own account in that
bucket's own IAM policy with the role of its access; a second deploy changes nothing, `remove` takes the grants
back and keeps a bucket holding objects. Against the recording endpoint, held to storage.v1's Discovery
document (buckets.getIamPolicy/setIamPolicy among its methods)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy.grants import grants

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.deploy.grants import grant_changes

from ....app_copy import copy_app

PROJECT, REGION = "shop-project", "europe-west1"
FILES = Path(__file__).with_name("apps") / "files"
FUNCTIONS = f"projects/{PROJECT}/locations/{REGION}/functions/files-dev"
VIEWER, USER = "roles/storage.objectViewer", "roles/storage.objectUser"
LEGACY = {  # what Google puts in a new bucket's policy, which deploy sends back untouched
    "roles/storage.legacyBucketOwner": [f"projectEditor:{PROJECT}", f"projectOwner:{PROJECT}"],
    "roles/storage.legacyBucketReader": [f"projectViewer:{PROJECT}"],
}


def own(function: str) -> str:
    return f"serviceAccount:files-dev-{function}@{PROJECT}.iam.gserviceaccount.com"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return load_app(copy_app(FILES, tmp_path / "app"))  # deploys write into the app's directory


@pytest.fixture
def provider(google: Any, google_server: Any, helpers: Any, app: App) -> Any:
    google.buckets["company-archive"] = {"name": "company-archive", "project": PROJECT, "location": "EU"}
    settings = {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}
    return helpers.RecordingProvider(settings, google_server.url)


def env(google: Any, function: str) -> dict[str, str]:
    variables = google.functions[f"{FUNCTIONS}-{function}"]["serviceConfig"]["environmentVariables"]
    return {k: v for k, v in variables.items() if k.startswith("PORTABLE_FN_BUCKET_")}


def roles(google: Any, bucket: str) -> dict[str, list[str]]:
    """A bucket's policy as {role: members}."""
    return {b["role"]: sorted(b["members"]) for b in google.bucket_policies.get(bucket, {}).get("bindings", [])}


def test_buckets_env_and_grants_are_exactly_what_each_function_declares(provider: Any, app: App, google: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    assert google.app_buckets() == ["company-archive", "files-dev-reports", "files-dev-uploads"]
    for made in ("files-dev-reports", "files-dev-uploads"):
        bucket = google.buckets[made]
        assert bucket["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"] is True
        assert bucket["iamConfiguration"]["publicAccessPrevention"] == "enforced"
        assert bucket["labels"]["portable-fn-app"] == "files"
    assert "labels" not in google.buckets["company-archive"]  # mapped: never made, never labelled
    assert env(google, "upload") == {"PORTABLE_FN_BUCKET_UPLOADS": "files-dev-uploads"}
    assert env(google, "listing") == {
        "PORTABLE_FN_BUCKET_UPLOADS": "files-dev-uploads",
        "PORTABLE_FN_BUCKET_REPORTS": "files-dev-reports",
    }
    assert env(google, "summarise") == {
        "PORTABLE_FN_BUCKET_UPLOADS": "files-dev-uploads",
        "PORTABLE_FN_BUCKET_ARCHIVE": "company-archive",
    }
    assert env(google, "notify") == {}
    assert roles(google, "files-dev-uploads") == {
        **LEGACY,
        VIEWER: [own("listing")],  # listing only reads it
        USER: sorted([own("summarise"), own("upload")]),
    }
    assert roles(google, "files-dev-reports") == {**LEGACY, VIEWER: [own("listing")]}
    assert roles(google, "company-archive") == {**LEGACY, USER: [own("summarise")]}
    assert google.answer_problems == []
    assert pipeline.info(provider, app, "dev").outputs["buckets"] == {
        "uploads": "gs://files-dev-uploads",
        "reports": "gs://files-dev-reports",
        "archive": "gs://company-archive",
    }


def test_plan_lists_the_grants_and_a_second_deploy_changes_nothing(provider: Any, app: App, google: Any) -> None:
    planned = [s.describe() for s in pipeline.plan(provider, app, "dev").plan.steps]
    assert "+ create storage bucket files-dev-reports" in planned
    assert "+ create bucket access grant files-dev-uploads/files-dev-listing" in planned
    assert "+ create bucket access grant company-archive/files-dev-summarise" in planned
    assert not [line for line in planned if "storage bucket company-archive" in line]
    pipeline.deploy(provider, app, "dev")
    google.requests.clear()
    outcome = pipeline.deploy(provider, app, "dev")
    assert outcome.plan.empty, [s.describe() for s in outcome.plan.steps]
    assert google.mutating() == []


def test_a_function_that_stops_declaring_a_bucket_loses_its_grant_and_variable(
    provider: Any, app: App, google: Any, tmp_path: Path
) -> None:
    """`reports` is then declared by no function: kept as it holds an object (deleted were it empty)."""
    pipeline.deploy(provider, app, "dev")
    google.put_object("files-dev-reports", "2026/12.csv", b"a,b")
    source = copy_app(FILES, tmp_path / "edited") / "gcp_files.py"  # elsewhere: the module is imported afresh
    source.write_text(source.read_text().replace("uses=[uploads.read(), reports.read()]", "uses=[uploads.read()]"))
    changed = load_app(source.parent)
    planned = [s.describe() for s in pipeline.plan(provider, changed, "dev").plan.steps]
    assert "- delete bucket access grant files-dev-reports/files-dev-listing" in planned
    assert not [line for line in planned if line.startswith("- delete storage bucket")]
    pipeline.deploy(provider, changed, "dev")
    assert roles(google, "files-dev-reports") == LEGACY
    assert env(google, "listing") == {"PORTABLE_FN_BUCKET_UPLOADS": "files-dev-uploads"}


def test_remove_takes_the_grants_back_and_keeps_a_bucket_holding_objects(provider: Any, app: App, google: Any) -> None:
    pipeline.deploy(provider, app, "dev")
    google.put_object("files-dev-uploads", "in/a.txt", b"some words")
    messages: list[str] = []
    pipeline.remove(provider, app, "dev", messages.append)
    assert google.app_buckets() == ["company-archive", "files-dev-uploads"]  # the empty one went
    assert any("storage bucket files-dev-uploads" in m and "--delete-data" in m for m in messages), messages
    assert roles(google, "company-archive") == LEGACY and roles(google, "files-dev-uploads") == LEGACY
    pipeline.remove(provider, app, "dev", delete_data=True)
    assert google.app_buckets() == ["company-archive"]


def planned_grants(provider: Any, app: App) -> Any:
    desired = provider.desired(app, "dev", pipeline.package(provider, app, "dev").artifact)
    return grant_changes(grants(list(provider.read_remote(app, "dev"))), grants(desired))


def test_the_grants_read_back_as_made_and_a_read_becoming_a_write_changes_that_binding_only(
    provider: Any, app: App, google: Any, tmp_path: Path
) -> None:
    pipeline.deploy(provider, app, "dev")
    after = planned_grants(provider, app)
    assert (after.added, after.removed) == ((), ())
    assert len([g for g in after.kept if "/buckets/" in g.resource]) == 5
    source = copy_app(FILES, tmp_path / "edited") / "gcp_files.py"
    source.write_text(
        source.read_text().replace("uses=[uploads.read(), reports.read()]", "uses=[uploads.write(), reports.read()]")
    )
    changed = load_app(source.parent)
    changes = planned_grants(provider, changed)
    uploads = "projects/_/buckets/files-dev-uploads"
    assert [(g.function, g.role, g.resource) for g in changes.removed] == [("listing", VIEWER, uploads)]
    assert [(g.function, g.role, g.resource) for g in changes.added] == [("listing", USER, uploads)]
    pipeline.deploy(provider, changed, "dev")
    assert roles(google, "files-dev-uploads") == {
        **LEGACY,
        USER: sorted([own("listing"), own("summarise"), own("upload")]),
    }


def test_a_mapped_bucket_deploy_may_not_grant_on_says_who_must_run_what(provider: Any, app: App, google: Any) -> None:
    from portable_fn.runtime.errors import DeployError

    google.refuse.add("storage.buckets.setIamPolicy company-archive")
    with pytest.raises(DeployError) as refused:
        pipeline.deploy(provider, app, "dev")
    assert "on bucket 'company-archive'" in str(refused.value)
    assert (
        "gcloud storage buckets add-iam-policy-binding gs://company-archive "
        f"--member={own('summarise')} --role={USER}" in str(refused.value)
    )

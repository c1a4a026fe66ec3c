"""The audit trail on Google Cloud: who deploy acts as (from the credentials), and the records in the audit
bucket, against the recording endpoint for the functions and `storage_api.py` (held to the Storage Discovery
document) for Cloud Storage."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from portable_fn_gcp.deploy import GcpDeployer
from portable_fn_gcp.deploy.audit import audit_bucket
from portable_fn_gcp.deploy.naming import Names

from portable_fn import audit
from portable_fn.app import load_app
from portable_fn.deploy import DeployTarget, pipeline

from ....app_copy import copy_app

PROJECT, REGION = "shop-project", "europe-west1"
NO_STORAGE_APP = Path(__file__).with_name("apps") / "no_storage"  # deploy makes no Cloud Storage call for it


def _storage_api() -> Any:
    path = Path(__file__).with_name("storage_api.py")
    spec = importlib.util.spec_from_file_location("portable_fn_tests_storage_api", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "StorageApi"):
        spec.loader.exec_module(module)
    return module


storage_api = _storage_api()


@pytest.fixture(scope="module")
def storage_server() -> Iterator[Any]:
    with storage_api.StorageServer(storage_api.StorageApi()) as server:
        yield server


@pytest.fixture
def storage(storage_server: Any) -> Any:
    storage_server.api.reset()
    return storage_server.api


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return load_app(copy_app(NO_STORAGE_APP, tmp_path))


@pytest.fixture
def gcp(google: Any, google_server: Any, storage_server: Any, storage: Any, helpers: Any, app: Any) -> Any:
    settings = {
        **app.config.provider_settings("gcp", "dev"),
        "project": PROJECT,
        "poll_s": 0.01,
        "endpoints": {"storage": storage_server.url},
    }
    return helpers.RecordingProvider(settings, google_server.url)


def target_with(credentials: Any) -> DeployTarget:
    return GcpDeployer({"project": PROJECT, "region": REGION}, credentials=credentials).target()


def test_the_target_names_the_service_account_or_the_user_of_the_credentials(
    google: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    robot = service_account.Credentials(object(), "deployer@shop-project.iam.gserviceaccount.com", "https://t.invalid")
    assert target_with(robot) == DeployTarget(
        "gcp", "project", PROJECT, REGION, "deployer@shop-project.iam.gserviceaccount.com"
    )
    user = user_credentials.Credentials(token=None, account="alice@example.com")
    assert target_with(user).principal == "alice@example.com"
    assert target_with(AnonymousCredentials()).principal is None
    # none given: google-auth's Application Default Credentials, here a user's file, read without a refresh
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "123.apps.googleusercontent.com",
                "client_secret": "not-a-secret",
                "refresh_token": "not-a-token",
                "account": "bob@example.com",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    assert target_with(None).principal == "bob@example.com"


def test_the_audit_bucket_name_is_stable_unique_and_fits() -> None:
    name = audit_bucket(Names("shop", "dev", PROJECT, REGION))
    assert re.fullmatch(r"shop-dev-audit-[0-9a-f]{12}", name)
    assert audit_bucket(Names("shop", "dev", "other-project", REGION)) != name
    assert audit_bucket(Names("shop", "dev", PROJECT, "us-central1")) == name  # one per project, app and stage
    app = "A_very_long_app_name_" * 4
    digest = hashlib.sha256(f"{PROJECT}:{app}:dev:audit".encode()).hexdigest()[:12]
    assert (
        audit_bucket(Names(app, "dev", PROJECT, REGION))
        == f"a-very-long-app-name-a-very-long-app-name-a-audit-{digest}"
    )


def test_deploy_and_remove_are_recorded_in_the_audit_bucket(gcp: Any, app: Any, google: Any, storage: Any) -> None:
    outcome = pipeline.deploy(gcp, app, "dev")
    made = outcome.audit  # the record deploy wrote
    assert made is not None and outcome.plan is not None and outcome.artifact is not None

    bucket = audit_bucket(Names("nostore", "dev", PROJECT, REGION))
    name = f"pfn-audit/nostore/dev/{made.name}"
    assert made.location == f"gs://{bucket}/{name}" and made.notes == ()
    assert made.target == {
        "provider": "gcp",
        "scope": "project",
        "scope_id": PROJECT,
        "region": REGION,
        "principal": None,
    }  # the tests' anonymous credentials name nobody
    meta, data = storage.objects[(bucket, name)]
    assert json.loads(data) == made.to_dict() and meta["contentType"] == "application/json"
    made_bucket = storage.buckets[bucket]
    assert made_bucket["location"] == "EUROPE-WEST1" and made_bucket["versioning"] == {"enabled": True}
    assert made_bucket["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert made_bucket["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"] is True
    assert made_bucket["labels"] == {"portable-fn-audit": "nostore-dev", **made.tags()}
    uploads = [q for m, p, q in storage.requests if p.startswith("/upload/")]
    assert [q["ifGenerationMatch"] for q in uploads] == ["0", "0"]  # the first found no bucket yet
    assert storage.answer_problems == []

    again = pipeline.plan(gcp, app, "dev")  # the audit bucket is in no plan
    assert again.plan is not None and again.plan.empty

    removed = pipeline.remove(gcp, app, "dev").audit
    assert removed is not None
    assert google.functions == {} and bucket in storage.buckets  # the stage is gone, its trail is not
    assert audit.history(gcp, app, "dev") == [removed, made]
    assert made_bucket["labels"]["pfn-audit-digest"] == removed.tags()["pfn-audit-digest"]


def test_a_record_is_never_overwritten(gcp: Any, app: Any, storage: Any) -> None:
    store = gcp.deployer.audit_store(app, "dev")
    assert store.append("one.json", b'{"n": 1}') == f"{store.where}one.json"
    with pytest.raises(audit.RecordExists):
        store.append("one.json", b'{"n": 2}')
    assert store.read() == [b'{"n": 1}']
    assert storage.answer_problems == []


def test_history_of_a_stage_never_recorded_is_empty(gcp: Any, app: Any, storage: Any) -> None:
    assert audit.history(gcp, app, "dev") == []
    assert storage.buckets == {}


def test_an_app_named_after_google_gets_an_audit_bucket_cloud_storage_takes(
    gcp: Any, app: Any, storage: Any, tmp_path: Path
) -> None:
    """Cloud Storage refuses a bucket name holding "google" or a close misspelling, or beginning with "goog"
    (as the fake does): the audit bucket of such an app or stage is `pfn-audit-<digest>`, labelled for it."""
    for name, stage in [("from-google-sheets", "dev"), ("shop", "g00gle"), ("goog", "dev")]:
        digest = hashlib.sha256(f"{PROJECT}:{name}:{stage}:audit".encode()).hexdigest()[:12]
        assert audit_bucket(Names(name, stage, PROJECT, REGION)) == f"pfn-audit-{digest}"
    pyproject = app.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('app = "nostore"', 'app = "from-google-sheets"'))
    renamed = load_app(app.root)
    made = pipeline.deploy(gcp, renamed, "dev").audit
    assert made is not None and made.notes == ()
    bucket = audit_bucket(Names("from-google-sheets", "dev", PROJECT, REGION))
    assert made.location == f"gs://{bucket}/pfn-audit/from-google-sheets/dev/{made.name}"
    assert storage.buckets[bucket]["labels"]["portable-fn-audit"] == "from-google-sheets-dev"
    assert audit.history(gcp, renamed, "dev") == [made]

"""What Eventarc's delivery needs of an app's own service account, granted by deploy: `roles/run.invoker` on
each event function's Cloud Run service, and for a storage trigger `roles/eventarc.eventReceiver` on the
project (Google's "Roles and permissions for Cloud Run functions targets": a Pub/Sub trigger needs no event
receiver role); without an app account, each event function's own account, on its own service. Plans show
the grants, a rerun sends nothing, and `remove` takes back what deploy granted.
"""

from __future__ import annotations

from typing import Any

import pytest

from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import DeployError

from .conftest import audit_trail, audit_writes

PROJECT, REGION = "shop-project", "europe-west1"
LOCATION = f"projects/{PROJECT}/locations/{REGION}"
ACCOUNT = "shop-runtime@shop-project.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{ACCOUNT}"
RECEIVER = "roles/eventarc.eventReceiver"
EVENT_FUNCTIONS = ["fulfil", "notify", "sweep", "nightly-report", "on-upload", "place-order-run"]


@pytest.fixture
def own_account(google: Any, google_server: Any, shop: Any, helpers: Any) -> Any:
    """The provider with `service_account` set: the app's own runtime and trigger identity."""
    settings = {
        **shop.config.provider_settings("gcp", "dev"),
        "project": PROJECT,
        "poll_s": 0.01,
        "service_account": ACCOUNT,
    }
    return helpers.RecordingProvider(settings, google_server.url)


def service_policy(google: Any, function_id: str) -> list[dict[str, Any]]:
    service = google.functions[f"{LOCATION}/functions/shop-dev-{function_id}"]["serviceConfig"]["service"]
    return list(google.policies[service]["bindings"])


def receivers(google: Any) -> list[str]:
    bindings = google.project_policy(PROJECT)["bindings"]
    return [m for b in bindings if b["role"] == RECEIVER and "condition" not in b for m in b["members"]]


def test_plan_shows_the_grants_for_the_apps_own_account(own_account: Any, shop: Any, google: Any) -> None:
    steps = [s.describe() for s in pipeline.plan(own_account, shop, "dev").plan.steps]
    assert f"+ create event receiver grant {ACCOUNT}" in steps
    assert sorted(s for s in steps if "trigger invoker grant" in s) == [
        f"+ create trigger invoker grant shop-dev-{fn}" for fn in sorted(EVENT_FUNCTIONS)
    ]
    assert google.mutating() == []


def test_deploy_grants_them_keeping_the_policies_and_a_rerun_sends_nothing(
    own_account: Any, shop: Any, google: Any
) -> None:
    pipeline.deploy(own_account, shop, "dev")
    for fn in EVENT_FUNCTIONS:
        assert service_policy(google, fn) == [{"role": "roles/run.invoker", "members": [MEMBER]}]
    for fn in ("create-order", "get-order"):  # HTTP: only the public binding
        assert service_policy(google, fn) == [{"role": "roles/run.invoker", "members": ["allUsers"]}]
    assert receivers(google) == [MEMBER]
    assert {"role": "roles/owner", "members": ["user:owner@example.com"]} in google.project_policy(PROJECT)["bindings"]

    google.requests.clear()
    again = pipeline.deploy(own_account, shop, "dev")
    assert again.plan.empty and google.mutating() == []
    assert audit_writes(google) == audit_trail(again.audit)  # its record, and nothing else


def test_a_lost_grant_is_put_back_alone(own_account: Any, shop: Any, google: Any) -> None:
    pipeline.deploy(own_account, shop, "dev")
    service = google.functions[f"{LOCATION}/functions/shop-dev-fulfil"]["serviceConfig"]["service"]
    google.policies[service]["bindings"] = []
    outcome = pipeline.deploy(own_account, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == ["+ create trigger invoker grant shop-dev-fulfil"]
    assert service_policy(google, "fulfil") == [{"role": "roles/run.invoker", "members": [MEMBER]}]


def test_without_an_app_account_each_event_function_is_delivered_to_as_its_own(
    provider: Any, shop: Any, google: Any
) -> None:
    steps = [s.describe() for s in pipeline.deploy(provider, shop, "dev").plan.steps]
    own = f"shop-dev-on-upload@{PROJECT}.iam.gserviceaccount.com"
    assert [s for s in steps if "event receiver" in s] == [f"+ create event receiver grant {own}"]
    assert receivers(google) == [f"serviceAccount:{own}"]  # the storage trigger's account alone
    for fn in EVENT_FUNCTIONS:
        member = f"serviceAccount:shop-dev-{fn}@{PROJECT}.iam.gserviceaccount.com"
        assert service_policy(google, fn) == [{"role": "roles/run.invoker", "members": [member]}]


def test_remove_takes_back_the_project_grant(own_account: Any, shop: Any, google: Any) -> None:
    pipeline.deploy(own_account, shop, "dev")
    outcome = pipeline.remove(own_account, shop, "dev")
    assert f"- delete event receiver grant {ACCOUNT}" in [s.describe() for s in outcome.plan.steps]
    assert receivers(google) == [] and google.functions == {}
    assert pipeline.remove(own_account, shop, "dev").plan.empty


def test_remove_keeps_the_project_grant_another_stage_still_relies_on(
    own_account: Any, shop: Any, google: Any, helpers: Any
) -> None:
    prod = helpers.RecordingProvider({**own_account.settings}, own_account.endpoint_url)
    pipeline.deploy(prod, shop, "prod")
    pipeline.deploy(own_account, shop, "dev")
    outcome = pipeline.remove(own_account, shop, "dev")
    assert [line for line in outcome.plan.kept_lines() if "event receiver" in line] == [
        f"= keep event receiver grant {ACCOUNT}: function shop-prod-on-upload still uses {ACCOUNT} for its "
        f"trigger; take the role back by hand once nothing does: gcloud projects remove-iam-policy-binding "
        f"{PROJECT} --member={MEMBER} --role={RECEIVER}"
    ]
    assert receivers(google) == [MEMBER]
    pipeline.remove(prod, shop, "prod")
    assert receivers(google) == []


def test_a_caller_google_refuses_is_told_the_gcloud_command(own_account: Any, shop: Any, google: Any) -> None:
    google.refuse.add("setIamPolicy")
    own_account.deployer.config = own_account.deployer.config.model_copy(update={"grant_storage_agent": False})
    with pytest.raises(DeployError) as failed:
        pipeline.deploy(own_account, shop, "dev")
    assert f"gcloud projects add-iam-policy-binding {PROJECT} --member={MEMBER} --role={RECEIVER}" in str(failed.value)


def test_grants_to_accounts_made_this_run_wait_until_iam_knows_them(
    shop: Any, google: Any, google_server: Any, helpers: Any
) -> None:
    """IAM is eventually consistent: a service account deploy just made is refused ("does not exist") by the first
    policies naming it; those grants are retried every retry_every_s until IAM knows it."""
    google.tasks.account_delay = 1
    settings = {
        **shop.config.provider_settings("gcp", "dev"),
        "project": PROJECT,
        "poll_s": 0.01,
        "retry_every_s": 0.01,
    }
    messages: list[str] = []
    provider = helpers.RecordingProvider(settings, google_server.url)
    pipeline.deploy(provider, shop, "dev", messages.append)
    waits = [m for m in messages if "waiting for the functions' new service accounts to reach IAM" in m]
    assert waits and all("refused" in m for m in waits)
    assert service_policy(google, "fulfil") == [
        {"role": "roles/run.invoker", "members": [f"serviceAccount:shop-dev-fulfil@{PROJECT}.iam.gserviceaccount.com"]}
    ]
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_an_account_iam_never_learns_fails_naming_the_setting_and_a_rerun_converges(
    shop: Any, google: Any, google_server: Any, helpers: Any
) -> None:
    google.tasks.account_delay = 10_000
    settings = {
        **shop.config.provider_settings("gcp", "dev"),
        "project": PROJECT,
        "poll_s": 0.01,
        "retry_every_s": 0.01,
        "grant_wait_s": 0.1,
    }
    provider = helpers.RecordingProvider(settings, google_server.url)
    with pytest.raises(DeployError) as raised:
        pipeline.deploy(provider, shop, "dev")
    assert "does not exist" in str(raised.value) and "grant_wait_s" in str(raised.value)
    google.tasks.unknown_for.clear()  # IAM knows them now
    pipeline.deploy(provider, shop, "dev")
    assert pipeline.plan(provider, shop, "dev").plan.empty

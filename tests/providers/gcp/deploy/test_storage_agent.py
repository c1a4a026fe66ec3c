"""The Cloud Storage service agent's `roles/pubsub.publisher` on the project, which the shop's storage trigger
needs: granted by deploy (before the function, or the recording endpoint refuses the trigger as Eventarc
does), read back so a redeploy sends nothing, never revoked by remove, and never looked at for an app
without a storage trigger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from portable_fn_gcp.deploy import GcpDeployer
from portable_fn_gcp.settings import GcpSettings

from portable_fn.app import load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.errors import ConfigError, DeployError

from ....app_copy import copy_app
from .conftest import audit_trail, audit_writes

PROJECT = "shop-project"
POLICY = f"projects/{PROJECT}"
AGENT = "serviceAccount:service-123456789@gs-project-accounts.iam.gserviceaccount.com"
PUBLISHER = "roles/pubsub.publisher"
GET, SET = f"/v3/{POLICY}:getIamPolicy", f"/v3/{POLICY}:setIamPolicy"
OWNER = {"role": "roles/owner", "members": ["user:owner@example.com"]}
AUDIT = [{"service": "allServices", "auditLogConfigs": [{"logType": "ADMIN_READ"}]}]
GCLOUD = f"gcloud projects add-iam-policy-binding {PROJECT} --member={AGENT} --role={PUBLISHER}"
NO_STORAGE_APP = Path(__file__).with_name("apps") / "no_storage"


def paths(google: Any) -> list[str]:
    return [r.path for r in google.project_iam_calls()]


def publishing(google: Any) -> list[dict[str, Any]]:
    """The project policy's owner and publisher bindings: the agent's, beside the functions' own accounts' grants
    on the project (their states' databases, the storage trigger's event receiver role)."""
    return [b for b in google.projects[POLICY]["bindings"] if b["role"] in ("roles/owner", PUBLISHER)]


def test_deploy_grants_the_agent_before_the_storage_trigger_keeping_the_policy(
    provider: Any, shop: Any, google: Any
) -> None:
    messages: list[str] = []
    outcome = pipeline.deploy(provider, shop, "dev", messages.append)
    steps = [s.describe() for s in outcome.plan.steps if not s.describe().startswith("+ create service account")]
    assert steps[0] == f"+ create storage agent publisher grant {PROJECT}"  # first, after the functions' accounts
    policy = google.projects[POLICY]
    assert publishing(google) == [OWNER, {"role": PUBLISHER, "members": [AGENT]}]
    assert policy["auditConfigs"] == AUDIT
    sent = next(r for r in google.requests if r.path == SET)  # the agent's: the first project grant
    assert sent.body["policy"]["bindings"] == [OWNER, {"role": PUBLISHER, "members": [AGENT]}]  # as read, and it
    read = [r for r in google.requests if r.path == GET]
    assert read[-1].body == {"options": {"requestedPolicyVersion": 3}}
    order = [r.path for r in google.requests]
    on_upload = next(i for i, r in enumerate(google.requests) if r.query.get("functionId") == "shop-dev-on-upload")
    assert order.index(SET) < on_upload
    assert any(f"{AGENT} may now publish to Pub/Sub in project {PROJECT}" in m for m in messages)


def test_a_redeploy_reads_the_grant_and_sends_nothing(provider: Any, shop: Any, google: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    google.requests.clear()
    outcome = pipeline.deploy(provider, shop, "dev")
    assert outcome.plan.empty and google.mutating() == []
    assert audit_writes(google) == audit_trail(outcome.audit)  # its record, and nothing else
    assert set(paths(google)) == {GET}
    assert publishing(google) == [OWNER, {"role": PUBLISHER, "members": [AGENT]}]


def test_plan_lists_a_missing_grant_and_nothing_once_it_is_there(provider: Any, shop: Any, google: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    policy = google.projects[POLICY]
    policy["bindings"] = [b for b in policy["bindings"] if b["role"] != PUBLISHER]  # revoked by hand
    google.requests.clear()
    outcome = pipeline.plan(provider, shop, "dev")
    assert [s.describe() for s in outcome.plan.steps] == [f"+ create storage agent publisher grant {PROJECT}"]
    assert SET not in paths(google)
    pipeline.deploy(provider, shop, "dev")
    assert publishing(google) == [OWNER, {"role": PUBLISHER, "members": [AGENT]}]
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_other_members_bindings_and_conditions_are_kept(provider: Any, shop: Any, google: Any) -> None:
    other = {"role": PUBLISHER, "members": ["serviceAccount:other@shop-project.iam.gserviceaccount.com"]}
    conditional = {
        "role": PUBLISHER,
        "members": [AGENT],  # does not count: it may not apply
        "condition": {"title": "office hours", "expression": "request.time.getHours('UTC') < 18"},
    }
    google.project_policy(PROJECT)["bindings"] = [OWNER, conditional, other]
    pipeline.deploy(provider, shop, "dev")
    assert publishing(google) == [
        OWNER,
        conditional,
        {"role": PUBLISHER, "members": [*other["members"], AGENT]},
    ]
    assert google.projects[POLICY]["auditConfigs"] == AUDIT
    sent = next(r for r in google.requests if r.path == SET)
    assert sent.body["policy"]["version"] == 3  # as read: a policy with conditions is only set as version 3


def test_a_grant_already_there_is_not_sent_again(provider: Any, shop: Any, google: Any) -> None:
    google.project_policy(PROJECT)["bindings"] = [OWNER, {"role": PUBLISHER, "members": [AGENT]}]
    outcome = pipeline.deploy(provider, shop, "dev")
    assert "storage agent publisher grant" in [r.kind for r in outcome.plan.unchanged]
    assert not [s for s in outcome.plan.steps if s.resource.kind == "storage agent publisher grant"]
    assert publishing(google) == [OWNER, {"role": PUBLISHER, "members": [AGENT]}]


def test_an_app_without_storage_triggers_never_touches_project_iam_but_to_clear_its_accounts_on_remove(
    google: Any, google_server: Any, helpers: Any, tmp_path: Path
) -> None:
    app = load_app(copy_app(NO_STORAGE_APP, tmp_path))
    provider = helpers.RecordingProvider(
        {**app.config.provider_settings("gcp", "dev"), "project": PROJECT, "poll_s": 0.01}, google_server.url
    )
    pipeline.deploy(provider, app, "dev")
    pipeline.deploy(provider, app, "dev")
    assert paths(google) == [] and google.projects == {}
    pipeline.remove(provider, app, "dev")  # the accounts deploy made go: a binding naming them would go first
    assert paths(google) == [GET, GET]  # the plan's read, the run's (both accounts): nothing names them, none written


def test_a_caller_google_refuses_is_told_the_gcloud_command(provider: Any, shop: Any, google: Any) -> None:
    google.refuse = {"setIamPolicy"}
    with pytest.raises(DeployError) as refused:
        pipeline.deploy(provider, shop, "dev")
    message = str(refused.value)
    assert f"Cloud Storage service agent to hold {PUBLISHER} on project {PROJECT!r}" in message
    assert "Policy update access denied" in message and GCLOUD in message and "portable-fn deploy" in message
    assert google.functions == {}  # the grant goes first, and nothing after it ran


def test_a_policy_the_caller_may_not_read_plans_the_grant_and_deploy_explains(
    provider: Any, shop: Any, google: Any
) -> None:
    pipeline.deploy(provider, shop, "dev")
    google.refuse = {"getIamPolicy", "setIamPolicy"}
    outcome = pipeline.plan(provider, shop, "dev")  # unreadable reads as missing; info and remove still work
    planned = [s.describe() for s in outcome.plan.steps]
    assert planned[0] == f"+ create storage agent publisher grant {PROJECT}"
    # and so do the other grants on the project: the storage trigger's event receiver role, the states' access
    assert {s.resource.kind for s in outcome.plan.steps[1:]} == {"event receiver grant", "state access grant"}
    with pytest.raises(DeployError, match="grant_storage_agent = false") as refused:
        pipeline.deploy(provider, shop, "dev")
    assert GCLOUD in str(refused.value) and "resourcemanager.projects.getIamPolicy" in str(refused.value)
    assert pipeline.info(provider, shop, "dev").outputs["functions"]


def test_remove_keeps_the_grant_and_says_how_to_revoke_it(provider: Any, shop: Any, google: Any) -> None:
    pipeline.deploy(provider, shop, "dev")
    messages: list[str] = []
    outcome = pipeline.remove(provider, shop, "dev", messages.append)
    assert not [s for s in outcome.plan.steps if s.resource.kind == "storage agent publisher grant"]
    assert [r.name for r in outcome.plan.kept] == [PROJECT] and outcome.plan.summary().endswith(", 1 kept")
    assert publishing(google) == [OWNER, {"role": PUBLISHER, "members": [AGENT]}]
    assert any(
        f"= keep storage agent publisher grant {PROJECT}: it is project-wide and may be shared" in m
        and f"gcloud projects remove-iam-policy-binding {PROJECT} --member={AGENT}" in m
        for m in messages
    )
    assert google.functions == {}
    google.requests.clear()
    again = pipeline.remove(provider, shop, "dev")
    assert again.plan.empty and len(again.plan.kept) == 1  # nothing to do, and the grant still said to be kept
    assert google.mutating() == []


def test_a_new_stage_in_a_project_that_has_the_grant_plans_nothing_for_it(
    provider: Any, shop: Any, google: Any
) -> None:
    google.project_policy(PROJECT)["bindings"] = [OWNER, {"role": PUBLISHER, "members": [AGENT]}]  # made before
    outcome = pipeline.plan(provider, shop, "dev")
    assert not [s for s in outcome.plan.steps if s.resource.kind == "storage agent publisher grant"]
    assert [r.kind for r in outcome.plan.unchanged] == ["storage agent publisher grant"]


def test_project_number_names_the_agent_without_asking_cloud_storage(
    shop: Any, google: Any, google_server: Any, helpers: Any
) -> None:
    settings = {
        **shop.config.provider_settings("gcp", "dev"),
        "project": PROJECT,
        "poll_s": 0.01,
        "project_number": "123456789",
    }
    pipeline.deploy(helpers.RecordingProvider(settings, google_server.url), shop, "dev")
    assert publishing(google)[-1] == {"role": PUBLISHER, "members": [AGENT]}
    assert not any(r.path.endswith("/serviceAccount") for r in google.requests)


def test_grant_storage_agent_false_leaves_the_project_to_its_owners(
    shop: Any, google: Any, google_server: Any, helpers: Any
) -> None:
    google.project_policy(PROJECT)["bindings"] = [OWNER, {"role": PUBLISHER, "members": [AGENT]}]  # made by hand
    google.requests.clear()
    settings = {
        **shop.config.provider_settings("gcp", "dev"),
        "project": PROJECT,
        "poll_s": 0.01,
        "grant_storage_agent": False,
    }
    provider = helpers.RecordingProvider(settings, google_server.url)
    outcome = pipeline.deploy(provider, shop, "dev")
    assert outcome.report.applied
    assert not [s for s in outcome.plan.steps if s.resource.kind == "storage agent publisher grant"]
    assert publishing(google) == [OWNER, {"role": PUBLISHER, "members": [AGENT]}]  # as the owners left it
    with pytest.raises(ConfigError, match=r"gcp.grant_storage_agent: .*not 'no'"):
        GcpDeployer({"grant_storage_agent": "no"})


def test_the_deployer_reads_typed_settings_and_a_misspelled_key_is_refused_with_the_right_one() -> None:
    config = GcpDeployer(GcpSettings(project=PROJECT, grant_storage_agent=False)).config
    assert (config.project, config.grant_storage_agent, config.grant_wait_s) == (PROJECT, False, 420)
    with pytest.raises(ConfigError, match=r"tool.portable-fn.gcp.grant_storage_agnet: .*'grant_storage_agent'"):
        GcpDeployer({"grant_storage_agnet": False})


def waiting(shop: Any, google_server: Any, helpers: Any, **extra: Any) -> Any:
    settings = {
        **shop.config.provider_settings("gcp", "dev"),
        "project": PROJECT,
        "poll_s": 0.01,
        "retry_every_s": 0.01,
        **extra,
    }
    return helpers.RecordingProvider(settings, google_server.url)


def test_the_storage_trigger_waits_for_the_new_grant_to_reach_eventarc(
    shop: Any, google: Any, google_server: Any, helpers: Any
) -> None:
    """IAM changes take a while to reach Eventarc: the trigger is refused and the function left FAILED
    twice, then deployed again whole, in the same run."""
    google.agent_grant_delay = 2
    messages: list[str] = []
    provider = waiting(shop, google_server, helpers)
    pipeline.deploy(provider, shop, "dev", messages.append)
    waits = [m for m in messages if "waiting for the storage agent's new grant to reach Eventarc" in m]
    assert len(waits) == 2 and all("shop-dev-on-upload" in m for m in waits)
    on_upload = f"projects/{PROJECT}/locations/{helpers.REGION}/functions/shop-dev-on-upload"
    assert google.functions[on_upload]["state"] == "ACTIVE"
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_a_grant_that_never_reaches_eventarc_fails_with_what_to_do_and_a_rerun_converges(
    shop: Any, google: Any, google_server: Any, helpers: Any
) -> None:
    google.agent_grant_delay = 10_000
    provider = waiting(shop, google_server, helpers, grant_wait_s=0.2)
    with pytest.raises(DeployError) as raised:
        pipeline.deploy(provider, shop, "dev")
    message = str(raised.value)
    assert "shop-dev-on-upload" in message and "still refused" in message and "grant_wait_s" in message
    assert "unable to publish to Cloud Pub/Sub" in message and "run `portable-fn deploy` again" in message
    google.agent_pending = 0  # it reached Eventarc meanwhile
    pipeline.deploy(provider, shop, "dev")
    assert pipeline.plan(provider, shop, "dev").plan.empty


def test_a_refusal_when_this_run_granted_nothing_is_not_waited_for(
    shop: Any, google: Any, google_server: Any, helpers: Any
) -> None:
    """The grant was there before this run (by hand here): a refusal is not IAM catching up."""
    google.project_policy(PROJECT)["bindings"] = [OWNER, {"role": PUBLISHER, "members": [AGENT]}]
    google.agent_pending = 10_000
    with pytest.raises(DeployError, match="unable to publish to Cloud Pub/Sub"):
        pipeline.deploy(waiting(shop, google_server, helpers), shop, "dev")
    assert google.agent_pending == 10_000 - 1  # one try, no wait

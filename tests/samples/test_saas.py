"""samples/saas in one process (`portable_fn.testing`, as a provider calls it): tokens signed by an issuer
served on 127.0.0.1 (PyJWT, RS256), 401/403/429, each tenant's projects, activity and rate limit kept apart,
onboarding through its workflow (`WorkflowDriver`), the audit consumer, and the billing export's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portable_fn.app import App, load_app
from portable_fn.runtime import pipeline
from portable_fn.runtime.outcomes import RETRY
from portable_fn.runtime.ratelimit import RateLimitMiddleware
from portable_fn.testing import WorkflowDriver, invoke, make_event, make_request

from ..app_copy import copy_app
from .saas_issuer import Issuer, billing_system, serving

REPO = Path(__file__).resolve().parents[2]
SAAS = REPO / "samples" / "saas"
WRITE, READ, ADMIN = "projects:write", "projects:read", "tenants:admin"
BOTH = f"{WRITE} {READ}"


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with serving() as running:
        yield running


@pytest.fixture
def saas_dir(tmp_path: Path) -> Path:
    """A private copy of samples/saas."""
    return copy_app(SAAS, tmp_path)


@pytest.fixture
def saas_app(saas_dir: Path, issuer: Issuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    """The sample imported afresh, trusting the test's issuer (its stage's SAAS_ISSUER, as on a cloud)."""
    for name in [n for n in sys.modules if n == "saas" or n.startswith("saas.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("SAAS_ISSUER", issuer.url)
    monkeypatch.setenv("PORTABLE_FN_STATE_DIR", str(tmp_path / "state"))
    app = load_app(saas_dir)
    for name, value in app.config.runtime_env().items():  # what deploy gives every function: the CORS policy
        monkeypatch.setenv(name, value)
    return app


@pytest.fixture
def saas(saas_app: App) -> Any:
    """The sample's functions module."""
    return sys.modules["saas.functions"]


@pytest.fixture
def driver(saas: Any) -> Iterator[WorkflowDriver]:
    """Every state in memory, workflows run in this process, what is published kept in `driver.sent`."""
    with WorkflowDriver(start=1_800_000_000.0) as running:
        yield running


def call(function: Any, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    response = invoke(function, make_request(method, path, json=body, headers=headers))
    return response.status, json.loads(response.body) if response.body else None


def published(driver: WorkflowDriver) -> list[tuple[str, str, str | None]]:
    """(type, subject, tenantid) of each event published to tenant-events."""
    return [
        (event.type, event.subject or "", (event.extensions or {}).get("tenantid"))
        for channel, event, _ in driver.sent
        if channel.name == "tenant-events"
    ]


# -- the tenant's API ---------------------------------------------------------------------------------


def test_a_tenant_creates_gets_and_lists_its_projects(saas: Any, issuer: Issuer, driver: WorkflowDriver) -> None:
    alice = issuer.bearer("alice", scope=BOTH)
    status, created = call(saas.create_project, "POST", "/projects", alice, {"name": "Website"})
    assert status == 201
    assert (created["name"], created["created_by"]) == ("Website", "alice")
    assert created["id"].startswith("p-") and len(created["id"]) == 14
    assert call(saas.get_project, "GET", f"/projects/{created['id']}", alice) == (200, created)
    _, second = call(saas.create_project, "POST", "/projects", alice, {"name": "Mobile"})
    assert call(saas.list_projects, "GET", "/projects", alice) == (200, {"projects": [created, second]})
    assert published(driver) == [
        ("saas.project.created", created["id"], "acme"),
        ("saas.project.created", second["id"], "acme"),
    ]


def test_one_tenant_never_sees_another_tenants_projects(saas: Any, issuer: Issuer, driver: WorkflowDriver) -> None:
    acme, globex = issuer.bearer("alice", org="acme", scope=BOTH), issuer.bearer("bob", org="globex", scope=BOTH)
    _, project = call(saas.create_project, "POST", "/projects", acme, {"name": "Website"})
    assert call(saas.get_project, "GET", f"/projects/{project['id']}", globex) == (
        404,
        {"error": f"project {project['id']} not found"},
    )
    assert call(saas.list_projects, "GET", "/projects", globex) == (200, {"projects": []})
    assert call(saas.list_projects, "GET", "/projects", acme) == (200, {"projects": [project]})


def test_a_request_without_a_valid_token_is_refused_with_401_saying_why(
    saas: Any, issuer: Issuer, driver: WorkflowDriver
) -> None:
    body = {"name": "Website"}
    refused = invoke(saas.create_project, make_request("POST", "/projects", json=body))
    assert (refused.status, json.loads(refused.body)) == (
        401,
        {"error": "unauthorized", "reason": "missing Authorization header: send 'Authorization: Bearer <token>'"},
    )
    assert refused.headers["www-authenticate"] == "Bearer"
    stranger = Issuer()  # signs with a key the issuer's JWKS does not hold
    stranger.url, stranger.kid = issuer.url, "someone-else"
    cases = {
        "expired at 2026-12-01T00:00:00Z": issuer.bearer(scope=WRITE, exp=1_796_083_200, iat=1_796_080_000),
        "wrong audience: expected 'saas-api'": issuer.bearer(scope=WRITE, aud="billing-api"),
        "wrong issuer: expected " + repr(issuer.url): issuer.bearer(scope=WRITE, iss="https://evil.example/"),
        "unknown signing key 'someone-else'": stranger.bearer(scope=WRITE),
    }
    for reason, headers in cases.items():
        assert call(saas.create_project, "POST", "/projects", headers, body) == (
            401,
            {"error": "unauthorized", "reason": reason},
        ), reason
    assert published(driver) == []


def test_a_token_without_the_scope_or_the_tenant_claim_is_refused_with_403(
    saas: Any, issuer: Issuer, driver: WorkflowDriver
) -> None:
    reader = issuer.bearer(scope=READ)
    assert call(saas.create_project, "POST", "/projects", reader, {"name": "Website"}) == (
        403,
        {"error": "forbidden", "reason": "missing scope(s): projects:write"},
    )
    assert call(saas.create_tenant, "POST", "/tenants", reader, {"id": "globex", "name": "Globex"}) == (
        403,
        {"error": "forbidden", "reason": "missing scope(s): tenants:admin"},
    )
    no_tenant = issuer.bearer(org=None, scope=BOTH)
    assert call(saas.list_projects, "GET", "/projects", no_tenant) == (
        403,
        {"error": "list_projects: the caller's token has no 'org_id' claim naming its tenant."},
    )


def install(chain: tuple[Any, ...]) -> None:
    """Make `chain` the pipeline's middleware, in its order."""
    for item in pipeline.middleware():
        pipeline.remove(item)
    for item in chain:
        pipeline.use(item)


@pytest.fixture
def clock() -> Iterator[list[float]]:
    """The rate limiter's clock, set by the test (`clock[0]`): a limiter reading it stands in the default one's
    place while the test runs, so a bucket refills only when the test moves the clock."""
    now = [1_800_000_000.0]
    before = pipeline.middleware()
    limiter = RateLimitMiddleware(clock=lambda: now[0])
    install(tuple(limiter if isinstance(item, RateLimitMiddleware) else item for item in before))
    yield now
    install(before)


def test_each_tenant_may_create_60_projects_a_minute_then_gets_429_with_retry_after(
    saas: Any, issuer: Issuer, driver: WorkflowDriver, clock: list[float]
) -> None:
    alice, bob = issuer.bearer("alice", scope=WRITE), issuer.bearer("bob", scope=WRITE)  # one tenant, acme
    statuses = [
        call(saas.create_project, "POST", "/projects", alice if n % 2 else bob, {"name": f"p{n}"})[0] for n in range(60)
    ]
    assert statuses == [201] * 60
    refused = invoke(saas.create_project, make_request("POST", "/projects", json={"name": "one more"}, headers=alice))
    assert (refused.status, refused.headers["retry-after"]) == (429, "1")
    assert json.loads(refused.body) == {
        "error": "too many requests",
        "reason": "create_project allows 60/minute per caller; retry in 1 s",
    }
    globex = issuer.bearer("carol", org="globex", scope=WRITE)
    assert call(saas.create_project, "POST", "/projects", globex, {"name": "theirs"})[0] == 201  # its own bucket
    clock[0] += 1.0  # a second later one token is back
    assert call(saas.create_project, "POST", "/projects", bob, {"name": "p60"})[0] == 201
    assert call(saas.create_project, "POST", "/projects", bob, {"name": "p61"})[0] == 429


def test_the_browser_app_is_answered_a_preflight_and_can_read_a_refusal(saas: Any, driver: WorkflowDriver) -> None:
    app, stranger = "https://app.saas.example", "https://evil.example"
    asked = {"access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type"}
    preflight = invoke(saas.create_project, make_request("OPTIONS", "/projects", headers={"origin": app, **asked}))
    assert (preflight.status, dict(preflight.headers.items())) == (
        204,
        {
            "access-control-allow-origin": app,
            "vary": "Origin",
            "access-control-allow-methods": "POST",
            "access-control-allow-headers": "authorization, content-type",
            "access-control-max-age": "600",
        },
    )
    refused = invoke(
        saas.create_project, make_request("POST", "/projects", json={"name": "x"}, headers={"origin": app})
    )
    assert refused.status == 401  # no token, but the page may read why, and Retry-After on a 429
    assert (refused.headers["access-control-allow-origin"], refused.headers["access-control-expose-headers"]) == (
        app,
        "retry-after",
    )
    elsewhere = invoke(saas.list_projects, make_request("GET", "/projects", headers={"origin": stranger}))
    assert elsewhere.status == 401 and "access-control-allow-origin" not in elsewhere.headers


# -- onboarding and the audit trail -------------------------------------------------------------------


def test_a_tenant_is_onboarded_once_with_its_default_project_api_key_and_welcome_event(
    saas: Any, issuer: Issuer, driver: WorkflowDriver
) -> None:
    operator = issuer.bearer("ops", org="operator", scope=ADMIN)
    tenant = {"id": "globex", "name": "Globex", "plan": "team"}
    for _ in range(2):  # posted twice: onboarded once
        assert call(saas.create_tenant, "POST", "/tenants", operator, tenant) == (
            202,
            {"id": "globex", "onboarding": "globex"},
        )
        driver.run()
    done = driver.instance("globex")
    assert (done["status"], done["tenant"]) == ("completed", "globex")
    assert [(e["kind"], e["name"]) for e in done["history"]] == [
        ("step", "create_default_project"),
        ("step", "provision_api_key"),
        ("step", "send_welcome"),
    ]
    welcome = {
        "tenant": "globex",
        "name": "Globex",
        "plan": "team",
        "project_id": "p-default",
        "api_key_id": "k-default",
    }
    assert done["result"] == welcome
    [(channel, event, _)] = driver.sent
    assert (channel.name, event.type, event.subject, event.extensions["tenantid"]) == (
        "tenant-events",
        "saas.tenant.welcome",
        "globex",
        "globex",
    )
    assert event.data.model_dump() == welcome and done["history"][2]["result"] == event.id

    reader = issuer.bearer("bob", org="globex", scope=READ)  # the default project is globex's, nobody else's
    default = {"id": "p-default", "name": "Default", "created_by": "onboarding"}
    assert call(saas.list_projects, "GET", "/projects", reader) == (200, {"projects": [default]})
    assert call(saas.list_projects, "GET", "/projects", issuer.bearer(scope=READ)) == (200, {"projects": []})


def test_audit_keeps_each_tenants_events_apart_and_records_a_redelivery_once(
    saas: Any, issuer: Issuer, driver: WorkflowDriver
) -> None:
    created = make_event({"id": "p-1"}, type="saas.project.created", subject="p-1", id="e-1", tenantid="acme")
    welcome = make_event({}, type="saas.tenant.welcome", subject="globex", id="e-2", tenantid="globex")
    for event in (created, welcome, created):
        assert invoke(saas.audit, event).ok
    acme = {"id": "e-1", "type": "saas.project.created", "subject": "p-1", "tenant": "acme"}
    assert call(saas.get_activity, "GET", "/activity", issuer.bearer(scope=READ)) == (200, {"events": [acme]})
    globex = {"id": "e-2", "type": "saas.tenant.welcome", "subject": "globex", "tenant": "globex"}
    reader = issuer.bearer("bob", org="globex", scope=READ)
    assert call(saas.get_activity, "GET", "/activity", reader) == (200, {"events": [globex]})


def test_a_project_created_is_audited_for_its_tenant_through_tenant_events(
    saas: Any, issuer: Issuer, driver: WorkflowDriver
) -> None:
    _, project = call(saas.create_project, "POST", "/projects", issuer.bearer(scope=BOTH), {"name": "Website"})
    [(_, event, _)] = driver.sent
    assert invoke(saas.audit, event).ok  # as the topic delivers it: the event carries its tenant
    assert call(saas.get_activity, "GET", "/activity", issuer.bearer(scope=READ)) == (
        200,
        {"events": [{"id": event.id, "type": "saas.project.created", "subject": project["id"], "tenant": "acme"}]},
    )


def test_every_call_for_a_tenant_logs_one_usage_line(
    saas: Any, issuer: Issuer, driver: WorkflowDriver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="portable_fn.usage"):
        call(saas.create_project, "POST", "/projects", issuer.bearer(scope=BOTH), {"name": "Website"})
        call(saas.list_projects, "GET", "/projects", issuer.bearer("bob", org="globex", scope=READ))
        call(saas.list_projects, "GET", "/projects", issuer.bearer(org=None, scope=READ))  # no tenant: no line
    lines = [dict(r.msg["usage"]) for r in caplog.records if r.name == "portable_fn.usage"]  # type: ignore[index]
    for line in lines:
        assert line.pop("duration_ms") >= 0
    assert lines == [
        {"tenant": "acme", "function": "create_project", "invocations": 1, "outcome": "ack", "status": 201},
        {"tenant": "globex", "function": "list_projects", "invocations": 1, "outcome": "ack", "status": 200},
    ]


# -- billing: the one function that reads the secret ------------------------------------------------------


@pytest.fixture
def billing(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[dict[str, str], bytes]]]:
    """The billing system the export posts to (BILLING_URL points at it): what it received."""
    with billing_system() as (url, received):
        monkeypatch.setenv("BILLING_URL", url)
        yield received


def test_the_billing_export_posts_the_tenants_signed_with_the_billing_key(
    saas: Any, issuer: Issuer, driver: WorkflowDriver, billing: list[Any], tmp_path: Path
) -> None:
    from portable_fn.secrets import LocalSecretStore

    LocalSecretStore(tmp_path / "state" / "secrets.json", "dev").set("billing-key", "bk_test_4f9a")
    operator = issuer.bearer("ops", org="operator", scope=ADMIN)
    for tenant in ({"id": "acme", "name": "Acme"}, {"id": "globex", "name": "Globex", "plan": "team"}):
        assert call(saas.create_tenant, "POST", "/tenants", operator, tenant)[0] == 202
    tick = make_event({"scheduled_time": "2026-12-07T02:00:00Z"}, type="dev.portable-fn.schedule")
    assert invoke(saas.billing_export, tick).ok
    [(headers, body)] = billing
    assert json.loads(body) == {
        "at": "2026-12-07T02:00:00Z",
        "tenants": [
            {"tenant": "acme", "name": "Acme", "plan": "free"},
            {"tenant": "globex", "name": "Globex", "plan": "team"},
        ],
    }
    assert headers["x-signature"] == hmac.new(b"bk_test_4f9a", body, hashlib.sha256).hexdigest()


def test_the_billing_export_without_its_key_fails_naming_the_command_that_sets_it(
    saas: Any, driver: WorkflowDriver, billing: list[Any], tmp_path: Path
) -> None:
    tick = make_event({"scheduled_time": "2026-12-07T02:00:00Z"}, type="dev.portable-fn.schedule")
    result = invoke(saas.billing_export, tick)
    assert (result.outcome, billing) == (RETRY, [])  # tried again later: the key may be set by then
    secrets_file = tmp_path / "state" / "secrets.json"
    message = str(result.error)
    assert message.startswith(f"Secret 'billing-key' has no value in the local secrets file {secrets_file}")
    assert "Set it with `portable-fn secrets set billing-key --provider local --stage " in message

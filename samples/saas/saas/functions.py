"""A multi-tenant SaaS API: every request carries a JWT whose `org_id` claim names the tenant, and
everything a tenant stores is kept apart from every other tenant's without a handler saying so.

- `POST /projects`, `GET /projects/{project_id}`, `GET /projects`: a tenant's projects, in the state
  `projects` (scoped per tenant by portable-fn: the same key in two tenants is two records). Writing needs
  the scope `projects:write`, reading `projects:read`; each tenant may create 60 projects a minute.
- `POST /tenants` (scope `tenants:admin`, an operator's token): onboards a tenant through the durable
  `onboard_tenant` workflow, one instance per tenant: its default project, an API key record, and a
  `saas.tenant.welcome` event on the topic `tenant-events`, which carries the tenant (`tenantid`).
- `audit` records every event on `tenant-events` in the tenant's activity log; `GET /activity` shows it.
- `billing_export` (daily, 02:00 UTC) signs the tenants' list with the secret `billing-key` and posts it to
  the billing system: the only function that may read that secret.

Tokens come from the issuer in the stage's `SAAS_ISSUER`; `portable-fn dev` also accepts the tokens of
`portable-fn token`. The same file runs locally (`portable-fn dev samples/saas`) and on every cloud.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import urllib.request
from collections.abc import Callable
from typing import Any

from portable_fn import (
    CloudEvent,
    Context,
    KeyExistsError,
    Request,
    Response,
    ScheduleTick,
    State,
    VersionConflictError,
    Workflow,
    cron,
    emit,
    function,
    http,
    jwt,
    secret,
    start_workflow,
    state,
    tenant_from,
    topic,
    workflow,
)

from .models import (
    Activity,
    ApiKeyRecord,
    NewProject,
    NewTenant,
    Project,
    ProjectList,
    TenantAccepted,
    Welcome,
)

ISSUER = os.environ.get("SAAS_ISSUER", "https://auth.saas.example/")  # per stage in pyproject.toml (default: dev's)
AUDIENCE = "saas-api"
ACTIVITY_LIMIT = 100  # events kept in a tenant's activity log


def token(*scopes: str) -> Any:
    """Callers need a token from ISSUER for this API, holding every scope in `scopes`."""
    return jwt(issuer=ISSUER, audience=AUDIENCE, scopes=scopes)


BY_ORG = tenant_from(claim="org_id")  # the tenant a request acts for

projects = state("projects", model=Project)  # per tenant: project id -> project
project_ids = state("project-ids")  # per tenant, one record "all": the ids of its projects, oldest first
api_keys = state("api-keys", model=ApiKeyRecord)  # per tenant: key id -> what is kept of the key
activity = state("activity")  # per tenant, one record "log": its recent events
tenants = state("tenants")  # the operator's registry: tenant id -> name and plan (not per tenant)
tenant_events = topic("tenant-events")
billing_key = secret("billing-key")  # signs the billing export; set with `portable-fn secrets set`


def _change(store: State, key: str, empty: Any, change: Callable[[Any], None]) -> None:
    """Apply `change` to the record `key` of `store` (made from `empty` on first use) in one
    compare-and-set write, read again and retried when another call changed it first."""
    while True:
        item = store.item(key)
        if item is None:
            try:
                store.create(key, empty)
            except KeyExistsError:
                pass  # another call made it first
            continue
        change(item.value)
        try:
            store.update(key, item.value, item.version)
            return
        except VersionConflictError:
            continue


def _listing(item: str) -> Callable[[list[str]], None]:
    """The change that adds `item` to a list once."""

    def add(items: list[str]) -> None:
        if item not in items:
            items.append(item)

    return add


def _add_project(project: Project) -> None:
    """Store `project` for the current tenant and list it (a project already there is left as it is)."""
    try:
        projects.create(project.id, project)
    except KeyExistsError:
        return
    _change(project_ids, "all", [], _listing(project.id))


# -- the tenant's API ---------------------------------------------------------------------------------


@function(
    trigger=http(
        "POST",
        "/projects",
        auth=token("projects:write"),
        rate_limit="60/minute",
        request=NewProject,
        response={201: Project},
    ),
    tenant=BY_ORG,
    uses=[projects.write(), project_ids.write(), tenant_events.publish()],
)
def create_project(request: Request) -> Response:
    """Create a project for the caller's tenant and announce it on tenant-events."""
    wanted = NewProject.model_validate_json(request.body)
    project = Project(id="p-" + os.urandom(6).hex(), name=wanted.name, created_by=request.auth.subject)
    _add_project(project)
    emit(tenant_events, project, type="saas.project.created", subject=project.id)
    return Response.json(project, status=201)


@function(
    trigger=http("GET", "/projects/{project_id}", auth=token("projects:read"), response={200: Project, 404: None}),
    tenant=BY_ORG,
    uses=[projects.read()],
)
def get_project(request: Request) -> Response:
    """One of the caller's tenant's projects; another tenant's project is not found."""
    project_id = request.path_params["project_id"]
    project = projects.get(project_id)
    if project is None:
        return Response.json({"error": f"project {project_id} not found"}, status=404)
    return Response.json(project)


@function(
    trigger=http("GET", "/projects", auth=token("projects:read"), response=ProjectList),
    tenant=BY_ORG,
    uses=[projects.read(), project_ids.read()],
)
def list_projects(request: Request) -> Response:
    """The caller's tenant's projects, oldest first."""
    found = [projects.get(project_id) for project_id in project_ids.get("all", [])]
    return Response.json(ProjectList(projects=[p for p in found if p is not None]))


@function(
    trigger=http("GET", "/activity", auth=token("projects:read"), response=Activity),
    tenant=BY_ORG,
    uses=[activity.read()],
)
def get_activity(request: Request) -> Response:
    """The caller's tenant's recent events, as `audit` recorded them."""
    return Response.json(Activity(events=activity.get("log", [])))


@function(trigger=topic("tenant-events"), uses=[activity.write()])
def audit(event: CloudEvent, ctx: Context) -> None:
    """Record an event of tenant-events in its tenant's activity log (the event's `tenantid` scopes it)."""
    entry = {"id": event.id, "type": event.type, "subject": event.subject or "", "tenant": ctx.tenant or ""}

    def append(log: list[dict[str, str]]) -> None:
        if all(seen["id"] != event.id for seen in log):  # a redelivered event is recorded once
            log.append(entry)
            del log[:-ACTIVITY_LIMIT]

    _change(activity, "log", [], append)


# -- onboarding: a durable workflow per tenant ------------------------------------------------------------
# Each step runs at least once (a crash or a retry runs it again), so each one is safe to repeat.


def create_default_project(tenant: NewTenant) -> str:
    """The tenant's first project, "Default" (the same id on every run of this step)."""
    _add_project(Project(id="p-default", name="Default", created_by="onboarding"))
    return "p-default"


def provision_api_key(tenant: NewTenant) -> str:
    """The tenant's first API key: only its hash is kept (a real service mails the key once to the
    tenant's admin); a rerun of this step finds the record and makes no second key."""
    key = "sk_" + os.urandom(24).hex()
    record = ApiKeyRecord(id="k-default", sha256=hashlib.sha256(key.encode()).hexdigest(), created_by="onboarding")
    try:
        api_keys.create(record.id, record)
    except KeyExistsError:
        pass  # made by an earlier run of this step
    return record.id


def send_welcome(welcome: Welcome) -> str:
    """Announce the tenant on tenant-events (`saas.tenant.welcome`, carrying the tenant); the event's id."""
    return emit(tenant_events, welcome, type="saas.tenant.welcome", subject=welcome.tenant).id


@workflow(uses=[projects.write(), project_ids.write(), api_keys.write(), tenant_events.publish()])
def onboard_tenant(wf: Workflow, tenant: NewTenant) -> Welcome:
    """Default project, API key record, welcome event: the tenant is ready. Its instance serves the tenant
    (`start_workflow(..., tenant=)`), so what its steps store is that tenant's."""
    project_id = wf.step(create_default_project, tenant)
    api_key_id = wf.step(provision_api_key, tenant)
    about = {"tenant": tenant.id, "name": tenant.name, "plan": tenant.plan}
    welcome = Welcome(**about, project_id=project_id, api_key_id=api_key_id)
    wf.step(send_welcome, welcome)
    return welcome


@function(
    trigger=http("POST", "/tenants", auth=token("tenants:admin"), request=NewTenant, response={202: TenantAccepted}),
    uses=[tenants.write(), onboard_tenant],
)
def create_tenant(request: Request) -> Response:
    """An operator onboards a tenant: register it and start its onboarding (instance id = tenant id, so
    the same tenant posted again is onboarded once)."""
    tenant = NewTenant.model_validate_json(request.body)
    try:
        tenants.create(tenant.id, {"name": tenant.name, "plan": tenant.plan})
    except KeyExistsError:
        pass  # registered already: its onboarding started then
    _change(tenants, "#all", [], _listing(tenant.id))  # "#" is in no tenant id
    started = start_workflow(onboard_tenant, tenant, id=tenant.id, tenant=tenant.id)
    return Response.json(TenantAccepted(id=tenant.id, onboarding=started), status=202)


# -- billing ------------------------------------------------------------------------------------------


def sign(body: bytes, key: str) -> str:
    """The export's signature, as the billing system checks it: hex HMAC-SHA256 of the body."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@function(trigger=cron("0 2 * * *"), uses=[tenants.read(), billing_key])
def billing_export(event: CloudEvent[ScheduleTick], ctx: Context) -> None:
    """02:00 UTC daily: post the tenants and their plans to BILLING_URL, signed with the billing key (the
    run is only logged while BILLING_URL is unset)."""
    ids = tenants.get("#all", [])
    lines = [{"tenant": tenant_id, **tenants.get(tenant_id, {})} for tenant_id in ids]
    body = json.dumps({"at": event.data.scheduled_time, "tenants": lines}, sort_keys=True).encode()
    url = os.environ.get("BILLING_URL")
    if not url:
        ctx.logger.info("billing export of %d tenants not sent: BILLING_URL is unset", len(lines))
        return
    headers = {"content-type": "application/json", "x-signature": sign(body, billing_key.value)}
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers, method="POST"), timeout=10):
        pass

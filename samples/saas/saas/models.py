"""The SaaS sample's own data models: plain pydantic, nothing portable-fn specific."""

from __future__ import annotations

from pydantic import BaseModel, Field

TENANT_ID = r"^[a-z0-9][a-z0-9-]{1,39}$"  # the `org_id` claim of the tenant's tokens


class NewProject(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class Project(BaseModel):
    id: str
    name: str
    created_by: str | None  # the `sub` of the token that created it ("onboarding" for the default project)


class ProjectList(BaseModel):
    projects: list[Project]


class NewTenant(BaseModel):
    id: str = Field(pattern=TENANT_ID)
    name: str = Field(min_length=1, max_length=100)
    plan: str = Field(default="free", pattern=r"^(free|team|enterprise)$")


class TenantAccepted(BaseModel):
    id: str
    onboarding: str  # the onboarding workflow's instance id


class ApiKeyRecord(BaseModel):
    """What is kept of a tenant's API key: its id and a hash; the key itself is shown once, never stored."""

    id: str
    sha256: str
    created_by: str


class Welcome(BaseModel):
    tenant: str
    name: str
    plan: str
    project_id: str
    api_key_id: str


class Activity(BaseModel):
    """A tenant's audit trail: the events of its topic, newest last (the last `LIMIT`)."""

    events: list[dict[str, str]]

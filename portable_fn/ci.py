"""CI/CD pipelines for an app: a GitHub Actions workflow or a GitLab CI file, from `templates/ci/`.

`write_pipeline(app_dir, system)` writes one: tests; then, per cloud the app targets, `portable-fn check`
(findings as SARIF) and `portable-fn plan` on pull / merge requests, the plan kept as an artifact, and
`portable-fn deploy --yes` on the main branch. Every job reaches its cloud through the CI system's OIDC
token and the cloud's federation (no stored keys). What must be set up for that (the CI variables, and
the trust on each cloud's side) is `Pipeline.setup`: the top of the file says it, and so does the command.

The clouds an app targets are those whose table (`[tool.portable-fn.aws]`, `gcp`, `azure`) its pyproject
has, at the top or under a stage. A setting the provider would otherwise read from the environment
(`region`, `project`, `subscription_id`) is taken from the app when it has one, else from a CI variable.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .config import load_config
from .runtime.errors import ConfigError
from .scaffold import _fill

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TEMPLATES = Path(__file__).parent / "templates" / "ci"
CLOUDS = ("aws", "gcp", "azure")
SYSTEMS = {"github": Path(".github/workflows/portable-fn.yml"), "gitlab": Path(".gitlab-ci.yml")}
DEFAULT_BRANCH = "main"

# Actions, pinned to the latest major version of each as of 2026-12-06 (from their releases pages,
# https://github.com/<owner>/<name>/releases, as quoted in projects' upgrade pull requests of 2026).
ACTIONS = {
    "checkout": "actions/checkout@v7",
    "setup_python": "actions/setup-python@v7",
    "upload_artifact": "actions/upload-artifact@v7",
    "upload_sarif": "github/codeql-action/upload-sarif@v4",
    "configure_aws_credentials": "aws-actions/configure-aws-credentials@v6",
    "gcp_auth": "google-github-actions/auth@v3",
    "azure_login": "azure/login@v3",
}

# A setting each provider reads from the environment when the app does not set it: the CI variable
# (of the same name) that supplies it then.
FROM_ENVIRONMENT = {
    "aws": {"region": "AWS_REGION"},
    "gcp": {"project": "GOOGLE_CLOUD_PROJECT", "region": "CLOUDSDK_FUNCTIONS_REGION"},
    "azure": {"subscription_id": "AZURE_SUBSCRIPTION_ID"},
}

# The CI variables each cloud's federation needs, the same on GitHub and GitLab.
VARIABLES = {
    "aws": {"AWS_ROLE_ARN": "the IAM role the jobs assume, e.g. arn:aws:iam::123456789012:role/{app}-deploy"},
    "gcp": {
        "GCP_WORKLOAD_IDENTITY_PROVIDER": "the provider's full name, "
        "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER",
        "GCP_SERVICE_ACCOUNT": "the service account the jobs act as, e.g. {app}-deploy@PROJECT.iam.gserviceaccount.com",
    },
    "azure": {
        "AZURE_CLIENT_ID": "the application (client) id of the app registration or managed identity",
        "AZURE_TENANT_ID": "the Microsoft Entra tenant id",
    },
}
SETTING_VARIABLES = {
    "AWS_REGION": "the region to deploy to (or set region under [tool.portable-fn.aws])",
    "GOOGLE_CLOUD_PROJECT": "the project id (or set project under [tool.portable-fn.gcp])",
    "CLOUDSDK_FUNCTIONS_REGION": "the region to deploy to (or set region under [tool.portable-fn.gcp])",
    "AZURE_SUBSCRIPTION_ID": "the subscription id (or set subscription_id under [tool.portable-fn.azure])",
}

# What each cloud must trust, per CI system; {repo}, {branch}, {stage} and {app} are filled in.
TRUST = {
    ("github", "aws"): [
        "IAM: an OIDC identity provider for https://token.actions.githubusercontent.com, audience",
        "sts.amazonaws.com; the role AWS_ROLE_ARN trusts it for sts:AssumeRoleWithWebIdentity where",
        "token.actions.githubusercontent.com:sub is repo:{repo}:environment:{stage} (deploy) or",
        "repo:{repo}:pull_request (plan), and may deploy the app.",
    ],
    ("github", "gcp"): [
        "A workload identity pool with an OIDC provider, issuer https://token.actions.githubusercontent.com,",
        "mapping google.subject=assertion.sub and attribute.repository=assertion.repository, condition",
        "assertion.repository == '{repo}'; GCP_SERVICE_ACCOUNT grants roles/iam.workloadIdentityUser to",
        "principalSet://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/",
        "attribute.repository/{repo}, and may deploy the app.",
    ],
    ("github", "azure"): [
        "The app registration AZURE_CLIENT_ID has federated credentials with issuer",
        "https://token.actions.githubusercontent.com, audience api://AzureADTokenExchange and subjects",
        "repo:{repo}:environment:{stage} (deploy) and repo:{repo}:pull_request (plan), and a role",
        "(e.g. Contributor and User Access Administrator) on the subscription or resource group.",
    ],
    ("gitlab", "aws"): [
        "IAM: an OIDC identity provider for your GitLab's URL (https://gitlab.com), audience the same URL;",
        "the role AWS_ROLE_ARN trusts it for sts:AssumeRoleWithWebIdentity where gitlab.com:sub is",
        "project_path:{repo}:ref_type:branch:ref:{branch} (deploy), or matches (StringLike)",
        "project_path:{repo}:ref_type:branch:ref:* for merge requests' plans, and may deploy the app.",
    ],
    ("gitlab", "gcp"): [
        "A workload identity pool with an OIDC provider, issuer your GitLab's URL (https://gitlab.com),",
        "allowed audience https://iam.googleapis.com/<GCP_WORKLOAD_IDENTITY_PROVIDER> (the default), mapping",
        "google.subject=assertion.sub and attribute.project_path=assertion.project_path; GCP_SERVICE_ACCOUNT",
        "grants roles/iam.workloadIdentityUser to principalSet://iam.googleapis.com/projects/NUMBER/",
        "locations/global/workloadIdentityPools/POOL/attribute.project_path/{repo}, and may deploy the app.",
    ],
    ("gitlab", "azure"): [
        "The app registration AZURE_CLIENT_ID has a federated credential with issuer your GitLab's URL",
        "(https://gitlab.com), audience api://AzureADTokenExchange and subject",
        "project_path:{repo}:ref_type:branch:ref:{branch}, plus one per branch whose merge requests are",
        "planned (Azure matches subjects exactly), and a role on the subscription or resource group.",
    ],
}

SOURCES = {
    "github": [
        "https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/"
        "about-security-hardening-with-openid-connect",
        "https://github.com/aws-actions/configure-aws-credentials (README)",
        "https://github.com/google-github-actions/auth (README)",
        "https://github.com/Azure/login (README)",
    ],
    "gitlab": [
        "https://docs.gitlab.com/ci/secrets/id_token_authentication/ (variables in id_tokens:aud: GitLab 16.1+)",
        "https://docs.gitlab.com/ci/cloud_services/aws/, .../google_cloud/, .../azure/",
        "https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html "
        "(AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)",
        "https://google.aip.dev/auth/4117 (external_account credential files)",
        "https://learn.microsoft.com/python/api/azure-identity/azure.identity.workloadidentitycredential "
        "(AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE; also read by DefaultAzureCredential)",
    ],
}
SOURCES_READ = "2026-12-06"


@dataclass(frozen=True)
class Pipeline:
    """A pipeline as written: where, for which clouds, and what must be set up for it to run."""

    path: Path
    system: str
    providers: tuple[str, ...]
    stage: str
    variables: dict[str, str]  # CI variable -> what it holds
    setup: list[str]  # the lines the file's header and the command show

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "system": self.system,
            "providers": list(self.providers),
            "stage": self.stage,
            "variables": self.variables,
            "setup": self.setup,
        }


def write_pipeline(
    app_dir: Path,
    system: str,
    providers: list[str] | None = None,
    stage: str | None = None,
    branch: str = DEFAULT_BRANCH,
    force: bool = False,
) -> Pipeline:
    """Write the `system` pipeline of the app in `app_dir` at its repository's root; the pipeline written.
    `providers` default to the clouds the app targets; an existing pipeline file is kept unless `force`."""
    if system not in SYSTEMS:
        raise ConfigError(f"There is no CI system {system!r}; choose one of {', '.join(SYSTEMS)}.")
    config = load_config(app_dir)
    stage = stage or _default_stage(list(config.stages))
    config.check_stage(stage, app_dir / "pyproject.toml")
    clouds = tuple(providers or targeted_clouds(app_dir))
    if unknown := [p for p in clouds if p not in CLOUDS]:
        raise ConfigError(f"A pipeline deploys to {', '.join(CLOUDS)}; {', '.join(unknown)} is not one of them.")
    root = repository_root(app_dir)
    path = root / SYSTEMS[system]
    if path.exists() and not force:
        raise ConfigError(
            f"{path} already exists, so it was kept. Pass --force to replace it (edits made to it are lost), "
            "or move it away first and carry your edits over to the new one."
        )
    values = _values(app_dir, root, config.python, stage, branch, config.requirements)
    settings = {cloud: config.provider_settings(cloud, stage) for cloud in clouds}
    variables = _variables(clouds, settings, config.app)
    setup = _setup(system, clouds, variables, stage, branch, config.app, app_dir)
    text = _header(system, config.app, setup) + _render(system, clouds, settings, values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Pipeline(path, system, clouds, stage, variables, setup)


def targeted_clouds(app_dir: Path) -> list[str]:
    """The clouds whose table the app's pyproject has (`[tool.portable-fn.aws]`, or `aws` under a stage)."""
    document = tomllib.loads((app_dir / "pyproject.toml").read_text(encoding="utf-8"))
    table = document.get("tool", {}).get("portable-fn", {})
    stages = table.get("stages", {}).values()
    return [cloud for cloud in CLOUDS if cloud in table or any(cloud in stage for stage in stages)]


def repository_root(app_dir: Path) -> Path:
    """The nearest directory at or above `app_dir` holding `.git`; `app_dir` itself when there is none."""
    start = app_dir.resolve()
    return next((d for d in (start, *start.parents) if (d / ".git").exists()), start)


def _default_stage(stages: list[str]) -> str:
    return "prod" if "prod" in stages else stages[0]


def _values(
    app_dir: Path, root: Path, python: str, stage: str, branch: str, requirements: str | None
) -> dict[str, str]:
    """The placeholders every template of a pipeline shares."""
    app_path = app_dir.resolve().relative_to(root).as_posix()
    extra = f" -r {requirements}" if requirements else ""
    return {
        "{{app_path}}": app_path,
        "{{dir}}": "" if app_path == "." else f"{app_path}/",
        "{{python}}": python,
        "{{stage}}": stage,
        "{{branch}}": branch,
        "{{test_install}}": f'"portable-fn=={__version__}" pytest{extra}',
        **{f"{{{{{name}}}}}": action for name, action in ACTIONS.items()},
    }


def _variables(clouds: tuple[str, ...], settings: dict[str, dict[str, Any]], app: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for cloud in clouds:
        found.update({name: what.format(app=app) for name, what in VARIABLES[cloud].items()})
        found.update({name: SETTING_VARIABLES[name] for name in _missing(cloud, settings[cloud])})
    return found


def _missing(cloud: str, settings: dict[str, Any]) -> list[str]:
    """The CI variables that supply the settings the app leaves to the environment."""
    return [variable for key, variable in FROM_ENVIRONMENT[cloud].items() if not settings.get(key)]


def _setup(
    system: str, clouds: tuple[str, ...], variables: dict[str, str], stage: str, branch: str, app: str, app_dir: Path
) -> list[str]:
    """What a person sets up before the pipeline can run: the variables, then each cloud's trust."""
    if not clouds:
        return [
            "The app targets no cloud yet, so this pipeline only runs the tests. Add [tool.portable-fn.aws],",
            "[tool.portable-fn.gcp] or [tool.portable-fn.azure] to pyproject.toml (or pass --provider), then run",
            f"`portable-fn ci {system} {app_dir} --force` to add the check, plan and deploy jobs.",
        ]
    where = (
        "repository variables (Settings > Secrets and variables > Actions > Variables)"
        if system == "github"
        else "CI/CD variables (Settings > CI/CD > Variables)"
    )
    repo = "OWNER/REPO" if system == "github" else "GROUP/PROJECT"
    lines = [f"Set these {where}; none is a secret:"]
    width = max(len(name) for name in variables)
    lines += [f"  {name.ljust(width)}  {what}" for name, what in variables.items()]
    lines.append("Then let each cloud trust this pipeline's OIDC token (no keys are stored):")
    for cloud in clouds:
        trust = [line.format(repo=repo, branch=branch, stage=stage, app=app) for line in TRUST[(system, cloud)]]
        lines += [f"  {cloud}: {trust[0]}", *(f"    {line}" for line in trust[1:])]
    return lines


def _header(system: str, app: str, setup: list[str]) -> str:
    lines = [
        f"portable-fn CI/CD for app {app!r}, written by `portable-fn ci {system}` (portable-fn {__version__}).",
        "Tests on every change; per cloud, `portable-fn check` and `portable-fn plan` on merge requests",
        "(the plan kept as the artifact plan-<cloud>.json), `portable-fn deploy` on the main branch.",
        *(
            ["Pull requests from forks get no OIDC token, so they are tested but not planned."]
            if system == "github"
            else []
        ),
        "",
        *setup,
        "",
        f"Sources (read {SOURCES_READ}):",
        *(f"  {source}" for source in SOURCES[system]),
    ]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines) + "\n"


def _render(system: str, clouds: tuple[str, ...], settings: dict[str, dict[str, Any]], values: dict[str, str]) -> str:
    """The pipeline's body: the shared jobs, then a plan and a deploy job per cloud."""
    text = _fill(_template(system, "workflow.yml" if system == "github" else "pipeline.yml"), values)
    for cloud in clouds:
        cloud_values = {**values, **_cloud_values(system, cloud, settings[cloud])}
        cloud_values["{{auth}}"] = _fill(_template(system, f"auth-{cloud}.yml"), cloud_values)
        text += _fill(_template(system, "plan.yml"), cloud_values)
        text += _fill(_template(system, "deploy.yml"), cloud_values)
    return text


def _cloud_values(system: str, cloud: str, settings: dict[str, Any]) -> dict[str, str]:
    """The placeholders of one cloud's jobs: what it installs, and on GitHub the settings it takes from
    repository variables (GitLab hands its CI/CD variables to every job's environment itself)."""
    missing = _missing(cloud, settings)
    env = "".join(f"      {name}: ${{{{ vars.{name} }}}}\n" for name in missing)
    return {
        "{{provider}}": cloud,
        "{{install}}": f'"portable-fn[{cloud}]=={__version__}"',
        "{{env}}": f"    env:\n{env}" if system == "github" and env else "",
        "{{aws_region}}": settings.get("region") or "${{ vars.AWS_REGION }}",
        "{{gcp_project}}": settings.get("project") or "${{ vars.GOOGLE_CLOUD_PROJECT }}",
        "{{azure_subscription}}": settings.get("subscription_id") or "${{ vars.AZURE_SUBSCRIPTION_ID }}",
    }


def _template(system: str, name: str) -> str:
    return (TEMPLATES / system / name).read_text(encoding="utf-8")

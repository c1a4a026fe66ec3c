"""`portable-fn ci github|gitlab` and `init --ci`: the pipelines written, checked against the CI systems'
JSON schemas (check-jsonschema's vendored schemastore copies, offline), every `portable-fn` line they run
parsed by the CLI itself, and the GitLab jobs' OIDC set-up run in bash and read back by each cloud's SDK."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from portable_fn import __version__
from portable_fn.ci import ACTIONS, write_pipeline
from portable_fn.cli import cli, main
from portable_fn.scaffold import create_app

GITHUB = Path(".github/workflows/portable-fn.yml")
GITLAB = Path(".gitlab-ci.yml")
SCHEMAS = {GITHUB: "vendor.github-workflows", GITLAB: "vendor.gitlab-ci"}
CLOUD_STEPS = ["checkout", "setup-python", "install", "auth", "check", "upload-sarif"]


@pytest.fixture
def aws_app(tmp_path: Path) -> Path:
    """A new app (the `api` template) that targets AWS only, in eu-central-1."""
    app = create_app(tmp_path / "orders")
    with (app / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write('\n[tool.portable-fn.aws]\nregion = "eu-central-1"\n')
    return app


def written(app: Path, system: str, *args: str) -> dict[str, Any]:
    assert main(["ci", system, str(app), *args]) == 0
    loaded: dict[str, Any] = yaml.safe_load((app / (GITHUB if system == "github" else GITLAB)).read_text("utf-8"))
    return loaded


def uses(job: dict[str, Any]) -> list[str]:
    """A GitHub job's steps, each as the action it uses or the command it runs."""
    return [step.get("uses") or step["run"] for step in job["steps"]]


# -- GitHub ---------------------------------------------------------------------------------------------


def test_github_workflow_for_three_clouds_has_a_plan_and_a_deploy_job_per_cloud(shop_copy: Path) -> None:
    workflow = written(shop_copy, "github")
    assert list(workflow["jobs"]) == [
        "test",
        "plan-aws",
        "deploy-aws",
        "plan-gcp",
        "deploy-gcp",
        "plan-azure",
        "deploy-azure",
    ]
    assert workflow[True] == {"push": {"branches": ["main"]}, "pull_request": None}  # YAML 1.1 reads `on` as True
    assert workflow["permissions"] == {"contents": "read"}
    assert uses(workflow["jobs"]["test"]) == [
        ACTIONS["checkout"],
        ACTIONS["setup_python"],
        f'pip install "portable-fn=={__version__}" pytest',
        "pytest",
    ]
    plan = workflow["jobs"]["plan-gcp"]
    assert plan["if"] == (
        "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository"
    )
    assert plan["needs"] == "test"
    assert plan["permissions"] == {"contents": "read", "id-token": "write", "security-events": "write"}
    assert plan["env"] == {"GOOGLE_CLOUD_PROJECT": "${{ vars.GOOGLE_CLOUD_PROJECT }}"}  # shop sets no project
    assert uses(plan) == [
        ACTIONS["checkout"],
        ACTIONS["setup_python"],
        f'pip install "portable-fn[gcp]=={__version__}"',
        "google-github-actions/auth@v3",
        "portable-fn check --provider gcp --stage prod --sarif portable-fn-gcp.sarif",
        "github/codeql-action/upload-sarif@v4",
        "portable-fn plan --provider gcp --stage prod --json > plan-gcp.json",
        "actions/upload-artifact@v7",
    ]
    assert plan["steps"][3]["with"] == {
        "workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
        "service_account": "${{ vars.GCP_SERVICE_ACCOUNT }}",
        "project_id": "${{ vars.GOOGLE_CLOUD_PROJECT }}",
    }
    assert plan["steps"][5]["with"] == {"sarif_file": "portable-fn-gcp.sarif", "category": "portable-fn-gcp"}
    assert plan["steps"][7]["with"] == {"name": "plan-gcp", "path": "plan-gcp.json"}
    deploy = workflow["jobs"]["deploy-azure"]
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert deploy["environment"] == "prod"
    assert deploy["concurrency"] == {"group": "deploy-azure-prod", "cancel-in-progress": False}
    assert deploy["permissions"] == {"contents": "read", "id-token": "write", "security-events": "write"}
    assert uses(deploy)[3:] == [
        "azure/login@v3",
        "portable-fn check --provider azure --stage prod --sarif portable-fn-azure.sarif",
        "github/codeql-action/upload-sarif@v4",
        "portable-fn deploy --provider azure --stage prod --yes",
    ]
    assert deploy["steps"][3]["with"] == {
        "client-id": "${{ vars.AZURE_CLIENT_ID }}",
        "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
        "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
    }
    aws = workflow["jobs"]["deploy-aws"]["steps"][3]
    assert aws == {
        "uses": "aws-actions/configure-aws-credentials@v6",
        "with": {"role-to-assume": "${{ vars.AWS_ROLE_ARN }}", "aws-region": "eu-west-1"},  # shop's region
    }
    assert "env" not in workflow["jobs"]["deploy-aws"]


def test_github_workflow_for_aws_only(aws_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = written(aws_app, "github", "--stage", "dev", "--branch", "trunk")
    assert list(workflow["jobs"]) == ["test", "plan-aws", "deploy-aws"]
    assert workflow[True]["push"] == {"branches": ["trunk"]}
    deploy = workflow["jobs"]["deploy-aws"]
    assert deploy["environment"] == "dev"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/trunk'"
    assert uses(deploy) == [
        ACTIONS["checkout"],
        ACTIONS["setup_python"],
        f'pip install "portable-fn[aws]=={__version__}"',
        "aws-actions/configure-aws-credentials@v6",
        "portable-fn check --provider aws --stage dev --sarif portable-fn-aws.sarif",
        "github/codeql-action/upload-sarif@v4",
        "portable-fn deploy --provider aws --stage dev --yes",
    ]
    assert deploy["steps"][3]["with"]["aws-region"] == "eu-central-1"
    shown = capsys.readouterr().out
    assert f"Wrote {aws_app / GITHUB} (aws, stage dev)." in shown
    assert "  AWS_ROLE_ARN  the IAM role the jobs assume" in shown
    assert "repo:OWNER/REPO:environment:dev (deploy)" in shown
    assert "GCP_" not in shown and "AZURE_" not in shown


def test_a_region_left_to_the_environment_comes_from_a_repository_variable(tmp_path: Path) -> None:
    app = create_app(tmp_path / "jobs")
    with (app / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write("\n[tool.portable-fn.aws]\n")
    pipeline = write_pipeline(app, "github")
    job = yaml.safe_load(pipeline.path.read_text("utf-8"))["jobs"]["plan-aws"]
    assert job["env"] == {"AWS_REGION": "${{ vars.AWS_REGION }}"}
    assert job["steps"][3]["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    assert list(pipeline.variables) == ["AWS_ROLE_ARN", "AWS_REGION"]


# -- GitLab ---------------------------------------------------------------------------------------------


def test_gitlab_pipeline_for_three_clouds(shop_copy: Path) -> None:
    pipeline = written(shop_copy, "gitlab")
    jobs = [key for key, value in pipeline.items() if isinstance(value, dict) and "stage" in value]
    assert jobs == ["test", "plan-aws", "deploy-aws", "plan-gcp", "deploy-gcp", "plan-azure", "deploy-azure"]
    assert pipeline["stages"] == ["test", "plan", "deploy"]
    assert pipeline["default"] == {"image": "python:3.11"}
    assert pipeline["workflow"]["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
        {"if": '$CI_COMMIT_BRANCH == "main"'},
    ]
    assert pipeline["test"]["script"] == ['cd "."', f'pip install "portable-fn=={__version__}" pytest', "pytest"]
    plan = pipeline["plan-aws"]
    assert plan["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert plan["id_tokens"] == {"AWS_ID_TOKEN": {"aud": "$CI_SERVER_URL"}}
    assert plan["script"] == [
        'cd "."',
        f'pip install "portable-fn[aws]=={__version__}"',
        "portable-fn check --provider aws --stage prod --sarif portable-fn-aws.sarif",
        "portable-fn plan --provider aws --stage prod --json > plan-aws.json",
    ]
    assert plan["artifacts"] == {
        "when": "always",
        "expire_in": "30 days",
        "paths": ["plan-aws.json", "portable-fn-aws.sarif"],
    }
    deploy = pipeline["deploy-gcp"]
    assert deploy["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"'}]
    assert deploy["environment"] == {"name": "prod"}
    assert deploy["resource_group"] == "deploy-gcp-prod"
    assert deploy["id_tokens"] == {
        "GCP_ID_TOKEN": {"aud": "https://iam.googleapis.com/$GCP_WORKLOAD_IDENTITY_PROVIDER"}
    }
    assert deploy["script"][-1] == "portable-fn deploy --provider gcp --stage prod --yes"
    assert pipeline["plan-azure"]["id_tokens"] == {"AZURE_ID_TOKEN": {"aud": "api://AzureADTokenExchange"}}


def test_gitlab_pipeline_for_aws_only(aws_app: Path) -> None:
    pipeline = written(aws_app, "gitlab")
    assert [key for key in pipeline if key.endswith(("-aws", "-gcp", "-azure"))] == ["plan-aws", "deploy-aws"]
    assert pipeline["deploy-aws"]["script"] == [
        'cd "."',
        f'pip install "portable-fn[aws]=={__version__}"',
        "portable-fn check --provider aws --stage prod --sarif portable-fn-aws.sarif",
        "portable-fn deploy --provider aws --stage prod --yes",
    ]


def job_environment(before_script: list[str], given: dict[str, str]) -> dict[str, str]:
    """The environment a GitLab job's before_script leaves, run in bash with `given` as its CI variables."""
    script = "\n".join(
        [
            "set -eu",
            *before_script,
            f"{shlex.quote(sys.executable)} -c 'import json, os; print(json.dumps(dict(os.environ)))'",
        ]
    )
    done = subprocess.run(
        ["bash", "-c", script], env={"PATH": os.environ["PATH"], **given}, capture_output=True, text=True, check=True
    )
    found: dict[str, str] = json.loads(done.stdout)
    return found


def clear_cloud_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.mark.slow  # runs bash
def test_gitlab_jobs_hand_each_sdk_its_oidc_token(
    shop_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each deploy job's before_script, run as GitLab would with its id token, sets up what the cloud's SDK
    reads: boto3 assumes AWS_ROLE_ARN with the token, google-auth loads an external_account whose subject
    token is the token, and DefaultAzureCredential holds a WorkloadIdentityCredential."""
    import boto3
    import google.auth
    from azure.identity import DefaultAzureCredential, WorkloadIdentityCredential
    from google.auth import identity_pool

    pipeline = written(shop_copy, "gitlab")
    clear_cloud_environment(monkeypatch, tmp_path)
    provider = "projects/123/locations/global/workloadIdentityPools/gitlab/providers/shop"
    variables = {
        "CI_PROJECT_ID": "7",
        "CI_JOB_ID": "42",
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/shop-deploy",
        "AWS_ID_TOKEN": "aws.jwt",
        "GCP_WORKLOAD_IDENTITY_PROVIDER": provider,
        "GCP_SERVICE_ACCOUNT": "shop-deploy@shop-prod.iam.gserviceaccount.com",
        "GCP_ID_TOKEN": "gcp.jwt",
        "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
        "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000002",
        "AZURE_ID_TOKEN": "azure.jwt",
    }

    aws = job_environment(pipeline["deploy-aws"]["before_script"], variables)
    assert Path(aws["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text() == "aws.jwt"
    assert aws["AWS_ROLE_SESSION_NAME"] == "gitlab-7-42"
    for name in ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME"):
        monkeypatch.setenv(name, aws[name])
    credentials = boto3.Session(region_name="eu-west-1").get_credentials()
    assert credentials is not None and credentials.method == "assume-role-with-web-identity"

    gcp = job_environment(pipeline["deploy-gcp"]["before_script"], variables)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", gcp["GOOGLE_APPLICATION_CREDENTIALS"])
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "shop-prod")  # a CI/CD variable, as the pipeline's header says
    loaded, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])  # as GcpClient does
    assert isinstance(loaded, identity_pool.Credentials)
    assert loaded.info["audience"] == f"//iam.googleapis.com/{provider}"
    assert loaded.info["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert loaded.service_account_email == "shop-deploy@shop-prod.iam.gserviceaccount.com"
    assert loaded.retrieve_subject_token(None) == "gcp.jwt"

    azure = job_environment(pipeline["deploy-azure"]["before_script"], variables)
    assert Path(azure["AZURE_FEDERATED_TOKEN_FILE"]).read_text() == "azure.jwt"
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.setenv(name, azure[name])
    chain = DefaultAzureCredential().credentials
    assert [type(c) for c in chain].count(WorkloadIdentityCredential) == 1


@pytest.mark.slow
def test_the_gitlab_aws_job_assumes_its_role_through_sts(
    aws_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Further than the test above: boto3 exchanges the job's token at STS (moto server on 127.0.0.1) and
    acts as the role, in a session named after the GitLab job."""
    import boto3

    from portable_fn.emulators import Emulator

    pipeline = written(aws_app, "gitlab")
    clear_cloud_environment(monkeypatch, tmp_path)
    variables = {"CI_PROJECT_ID": "7", "CI_JOB_ID": "42", "AWS_ID_TOKEN": "header.claims.signature"}
    job = job_environment(pipeline["deploy-aws"]["before_script"], variables)
    moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"]
    with Emulator(moto, "http://127.0.0.1:{port}/moto-api/data.json", tmp_path, "moto-server") as sts:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
        monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/orders-deploy")
        for name in ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME"):
            monkeypatch.setenv(name, job[name])
        identity = boto3.Session(region_name="eu-central-1").client("sts").get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::123456789012:assumed-role/orders-deploy/gitlab-7-42"


# -- both -----------------------------------------------------------------------------------------------


@pytest.mark.slow  # check-jsonschema in a process of its own
@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_the_pipelines_pass_their_ci_systems_schema(shop_copy: Path, aws_app: Path, system: str) -> None:
    for app in (shop_copy, aws_app):
        path = write_pipeline(app, system).path
        assert validate(path, SCHEMAS[path.relative_to(app)]).returncode == 0


@pytest.mark.slow  # check-jsonschema in a process of its own
def test_the_schemas_reject_a_broken_pipeline(shop_copy: Path) -> None:
    """The schema check can fail: a GitHub job without `runs-on` and a GitLab job with an unknown key."""
    github = write_pipeline(shop_copy, "github").path
    github.write_text(github.read_text("utf-8").replace("    runs-on: ubuntu-latest\n", "", 1), "utf-8")
    gitlab = write_pipeline(shop_copy, "gitlab").path
    gitlab.write_text(gitlab.read_text("utf-8").replace("  resource_group:", "  resource_groups:", 1), "utf-8")
    assert validate(github, SCHEMAS[GITHUB]).returncode == 1
    assert validate(gitlab, SCHEMAS[GITLAB]).returncode == 1


def validate(path: Path, schema: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def commands(path: Path) -> list[list[str]]:
    """Every `portable-fn ...` line a pipeline runs, as its arguments (without the shell's redirection)."""
    document = yaml.safe_load(path.read_text("utf-8"))
    jobs = document["jobs"].values() if "jobs" in document else [v for v in document.values() if isinstance(v, dict)]
    lines = [step.get("run", "") for job in jobs for step in job.get("steps", [])]
    lines += [line for job in jobs for line in job.get("script", [])]
    found = [shlex.split(line) for line in lines if line.startswith("portable-fn ")]
    return [words[1 : words.index(">")] if ">" in words else words[1:] for words in found]


def parse(args: list[str]) -> str:
    """The command `args` name, parsed by the CLI's own parser (a renamed option fails here)."""
    name, *rest = args
    cli.commands[name].make_context(name, rest, parent=click.Context(cli, info_name="portable-fn"))
    return name


def test_every_portable_fn_line_the_pipelines_run_parses(shop_copy: Path) -> None:
    parsed = []
    for system in ("github", "gitlab"):
        for args in commands(write_pipeline(shop_copy, system, force=True).path):
            if args[0] != "check":
                parsed.append(parse(args))
    assert sorted(set(parsed)) == ["deploy", "plan"]
    assert len(parsed) == 12  # a plan and a deploy per cloud, per system


def test_the_pipelines_check_lines_parse(shop_copy: Path) -> None:
    lines = [args for args in commands(write_pipeline(shop_copy, "gitlab").path) if args[0] == "check"]
    assert len(lines) == 6
    assert [parse(args) for args in lines] == ["check"] * 6


def test_a_parser_rejects_a_renamed_option() -> None:
    """What the two tests above rely on: an option the command does not have is an error."""
    with pytest.raises(click.NoSuchOption):
        parse(["deploy", "--provider", "aws", "--stage", "prod", "--yes-please"])


# -- writing --------------------------------------------------------------------------------------------


def test_an_existing_pipeline_is_kept_unless_forced(aws_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = aws_app / GITLAB
    path.write_text("# ours\n", encoding="utf-8")
    assert main(["ci", "gitlab", str(aws_app)]) == 1
    assert path.read_text("utf-8") == "# ours\n"
    assert f"{path} already exists, so it was kept. Pass --force to replace it" in capsys.readouterr().err
    assert main(["ci", "gitlab", str(aws_app), "--force"]) == 0
    assert "plan-aws" in yaml.safe_load(path.read_text("utf-8"))


@pytest.mark.slow  # check-jsonschema in a process of its own
def test_init_with_ci_writes_a_pipeline_that_runs_the_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "demo", "--ci", "github"]) == 0
    workflow = yaml.safe_load((tmp_path / "demo" / GITHUB).read_text("utf-8"))
    assert list(workflow["jobs"]) == ["test"]
    shown = capsys.readouterr().out
    assert "The app targets no cloud yet, so this pipeline only runs the tests." in shown
    assert "`portable-fn ci github demo --force`" in shown
    assert validate(tmp_path / "demo" / GITHUB, SCHEMAS[GITHUB]).returncode == 0


def test_init_with_ci_and_a_provider_writes_that_clouds_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new app targets no cloud yet: `--provider` says which ones its first pipeline plans and deploys to."""
    monkeypatch.chdir(tmp_path)
    assert main(["init", "demo", "--ci", "gitlab", "--provider", "aws", "--provider", "azure"]) == 0
    pipeline = yaml.safe_load((tmp_path / "demo" / GITLAB).read_text("utf-8"))
    assert {"plan-aws", "deploy-aws", "plan-azure", "deploy-azure"} <= set(pipeline)
    assert not any(job.endswith("-gcp") for job in pipeline)
    assert "Wrote " in capsys.readouterr().out
    assert main(["init", "other", "--provider", "aws"]) == 2  # a cloud for no pipeline
    assert "add --ci github or --ci gitlab" in capsys.readouterr().err and not (tmp_path / "other").exists()


def test_an_app_below_the_repository_root_gets_the_pipeline_at_the_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    app = create_app(tmp_path / "services" / "orders")
    with (app / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write('\n[tool.portable-fn.aws]\nregion = "eu-central-1"\n')
    github = write_pipeline(app, "github")
    assert github.path == tmp_path / GITHUB
    workflow = yaml.safe_load(github.path.read_text("utf-8"))
    assert workflow["defaults"] == {"run": {"working-directory": "services/orders"}}
    assert workflow["jobs"]["plan-aws"]["steps"][-1]["with"]["path"] == "services/orders/plan-aws.json"
    gitlab = yaml.safe_load(write_pipeline(app, "gitlab").path.read_text("utf-8"))
    assert gitlab["plan-aws"]["script"][0] == 'cd "services/orders"'
    assert gitlab["plan-aws"]["artifacts"]["paths"] == [
        "services/orders/plan-aws.json",
        "services/orders/portable-fn-aws.sarif",
    ]


def test_a_provider_that_is_not_a_cloud_is_refused(aws_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ci", "github", str(aws_app), "--provider", "local"]) == 2
    assert "'local' is not one of 'aws', 'gcp', 'azure'" in capsys.readouterr().err
    assert not (aws_app / GITHUB).exists()


def test_json_says_what_was_written_and_what_to_set(aws_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ci", "gitlab", str(aws_app), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {key: shown[key] for key in ("path", "system", "providers", "stage", "variables")} == {
        "path": str(aws_app / GITLAB),
        "system": "gitlab",
        "providers": ["aws"],
        "stage": "prod",
        "variables": {
            "AWS_ROLE_ARN": "the IAM role the jobs assume, e.g. arn:aws:iam::123456789012:role/orders-deploy"
        },
    }
    assert shown["setup"][0] == "Set these CI/CD variables (Settings > CI/CD > Variables); none is a secret:"

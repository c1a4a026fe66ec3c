"""The audit trail through the local provider: what the record `deploy` and `remove` write holds, where it
goes, and what happens when the change or the record's write fails."""

from __future__ import annotations

import getpass
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from portable_fn import audit
from portable_fn.app import App, load_app
from portable_fn.deploy import Resource, pipeline
from portable_fn.local.provider import LocalCloud, LocalDeployer, LocalProvider
from portable_fn.provider import Provider
from portable_fn.runtime.errors import DeployError, ProviderError

LABEL_VALUE = re.compile(r"[a-z0-9_-]{1,63}")
SECRET = "an-env-value-never-recorded"


def local(cloud_dir: Path) -> LocalProvider:
    return LocalProvider({"state_dir": str(cloud_dir)})


def deployed(app: App, provider: Provider) -> audit.AuditRecord:
    """The record the pipeline wrote of a deploy of `app` to dev."""
    made = pipeline.deploy(provider, app, "dev").audit
    assert made is not None
    return made


class FullDisk(LocalCloud):
    """A local cloud whose disk fills up on the `fail_on_put`-th write (as in tests/deploy)."""

    def __init__(self, root: Path, fail_on_put: int) -> None:
        super().__init__(root)
        self.fail_on_put, self.puts = fail_on_put, 0

    def put(self, resource: Resource, app: str, stage: str) -> None:
        self.puts += 1
        if self.puts == self.fail_on_put:
            raise OSError("disk full\nNo space left on device while writing resources.json")
        super().put(resource, app, stage)


def test_a_deploy_is_recorded_with_who_what_and_the_outcome(shop_copy: Path, tmp_path: Path) -> None:
    pyproject = shop_copy / "pyproject.toml"
    reason = "the org tags by account"
    pyproject.write_text(
        pyproject.read_text()
        + '\n[tool.portable-fn.policy]\nrequired_tags = ["cost-center"]\n'
        + f'[[tool.portable-fn.policy.waivers]]\nrule = "PFN006"\nreason = "{reason}"\n'
    )
    app, provider = load_app(shop_copy), local(tmp_path / "cloud")
    said: list[str] = []
    outcome = pipeline.deploy(provider, app, "dev", said.append)
    assert outcome.plan is not None and outcome.artifact is not None and outcome.policy is not None
    made = outcome.audit
    assert made is not None
    waiver = {
        "rule": "PFN006",
        "rule_name": "required-tags",
        "function": None,
        "message": "tags lack cost-center (stage dev).",
        "fix": "Add the missing keys to [tool.portable-fn] tags (or the stage's tags), with a value each.",
        "key": "tool.portable-fn.tags",
        "file": str(pyproject),
        "line": pyproject.read_text().splitlines().index("[tool.portable-fn]") + 1,  # no tags: their table's
        "reason": reason,
    }

    assert made.app == "shop" and made.stage == "dev" and made.provider == "local" and made.verb == "deploy"
    assert made.principal == getpass.getuser()
    assert made.target == {
        "provider": "local",
        "scope": "directory",
        "scope_id": str(tmp_path / "cloud"),
        "region": "local",
        "principal": getpass.getuser(),
    }
    assert made.digest == audit.plan_digest(outcome.plan) and len(made.digest) == 64
    assert made.summary == "25 to create, 0 to update, 0 to delete, 0 unchanged"
    assert len(made.changes) == 25
    assert made.changes[0] == {
        "action": "create",
        "kind": outcome.plan.steps[0].resource.kind,
        "name": outcome.plan.steps[0].resource.name,
        "fields": [],
    }
    assert made.packages == {"artifact": outcome.artifact.sha256}
    assert made.waivers == (waiver,)
    assert (made.outcome, made.error) == ("succeeded", None)
    assert (made.commit, made.dirty) == (None, None)  # tmp_path is in no git work tree
    assert made.notes == ()  # the local cloud has nothing to tag, by design: no note says so on every deploy
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}\.json", made.name)
    assert made.location == f"{tmp_path / 'cloud' / 'audit.jsonl'} ({made.name.removesuffix('.json')})"
    assert audit.history(provider, app, "dev") == [made]
    assert said[-1] == f"Recorded in {made.location}" and not [line for line in said if "!" in line]
    assert outcome.to_dict()["audit"] == {"location": made.location, "digest": made.digest, "notes": []}


def test_history_is_newest_first_and_per_stage(shop_copy: Path, tmp_path: Path) -> None:
    app, provider = load_app(shop_copy), local(tmp_path / "cloud")
    first = deployed(app, provider)
    second = deployed(app, provider)  # a no-op redeploy is recorded too
    removed = pipeline.remove(provider, app, "dev").audit
    assert removed is not None

    assert [r.verb for r in audit.history(provider, app, "dev")] == ["remove", "deploy", "deploy"]
    assert audit.history(provider, app, "dev") == [removed, second, first]
    assert second.summary == "0 to create, 0 to update, 0 to delete, 25 unchanged" and second.changes == ()
    assert second.digest != first.digest
    assert removed.summary == "0 to create, 0 to update, 25 to delete, 0 unchanged" and removed.packages == {}
    assert audit.history(provider, app, "prod") == []
    lines = (tmp_path / "cloud" / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 3 and [json.loads(line)["verb"] for line in lines] == ["deploy", "deploy", "remove"]


def test_a_deploy_whose_executor_fails_is_recorded_as_failed_and_its_error_raised(
    shop_copy: Path, tmp_path: Path
) -> None:
    app, cloud = load_app(shop_copy), tmp_path / "cloud"
    planned = pipeline.plan(local(cloud), app, "dev").plan
    assert planned is not None
    provider = local(cloud)
    full = FullDisk(cloud, fail_on_put=5)
    provider.deployer = LocalDeployer(provider.settings, client=full)
    said: list[str] = []
    with pytest.raises(DeployError) as caught:
        pipeline.deploy(provider, app, "dev", said.append)

    first_line = (
        f"Deploying 'shop' (stage 'dev') to local: step 5 of 25, '{planned.in_dependency_order()[4].describe()}', "
        "failed: OSError: disk full"
    )
    assert str(caught.value).splitlines() == [
        first_line,
        "No space left on device while writing resources.json. Steps before it were applied and later ones were "
        "not; fix the cause and run `portable-fn deploy` again to converge (`portable-fn plan` shows what remains).",
    ]  # the executor's own error, not one about the record
    assert isinstance(caught.value.__cause__, OSError) and full.puts == 5
    [made] = audit.history(provider, app, "dev")
    assert (made.verb, made.outcome, made.error) == ("deploy", "failed", first_line)
    assert made.digest == audit.plan_digest(planned) and made.summary == planned.summary()
    assert said[-1] == f"Recorded in {cloud / 'audit.jsonl'} ({made.name.removesuffix('.json')})"


def test_a_change_that_fails_before_planning_is_recorded_without_a_plan(shop_copy: Path, tmp_path: Path) -> None:
    app, provider = load_app(shop_copy), local(tmp_path / "cloud")
    error = ValueError("bad app\nTraceback lines that do not belong in a record")
    before_planning = audit.record(provider, app, "dev", "deploy", None, None, error=error)
    assert (before_planning.outcome, before_planning.error) == ("failed", "bad app")
    assert (before_planning.digest, before_planning.summary, before_planning.changes) == (None, "no plan", ())
    assert before_planning.name.endswith("-noplan.json")
    assert before_planning.line()["outcome"] == "failed: bad app"


def test_env_values_never_reach_a_record(shop_copy: Path, tmp_path: Path) -> None:
    provider = local(tmp_path / "cloud")
    deployed(load_app(shop_copy), provider)
    pyproject = shop_copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.portable-fn.stages.dev]", f'[tool.portable-fn.stages.dev]\nenv = {{ SHOP_BANNER = "{SECRET}" }}'
        )
    )
    changed = deployed(load_app(shop_copy), provider)

    assert {c["kind"] for c in changed.changes} == {"local function"}
    assert {tuple(c["fields"]) for c in changed.changes} == {("code_sha256",)}  # the package holds pyproject
    assert SECRET not in (tmp_path / "cloud" / "audit.jsonl").read_text()


def test_the_tags_hold_to_gcp_label_rules() -> None:
    made = audit.AuditRecord(
        "shop",
        "dev",
        "gcp",
        "deploy",
        "2026-12-06T16:45:58.123456Z",
        None,
        None,
        "ab" * 32,
        "s",
        (),
        "0123456789abcdef" * 2 + "01234567",
        True,
        {},
        (),
        "succeeded",
    )
    assert made.tags() == {
        "pfn-audit-digest": "abababababab",
        "pfn-audit-commit": "0123456789ab-dirty",
        "pfn-audit-at": "20261206t164558z",
    }
    assert all(LABEL_VALUE.fullmatch(v) for v in made.tags().values())
    assert all(LABEL_VALUE.fullmatch(k) for k in made.tags())


def test_the_commit_and_whether_the_app_directory_differs_from_it(shop_copy: Path) -> None:
    git = ["git", "-c", "user.name=Audit Test", "-c", "user.email=audit@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=shop_copy, check=True)
    subprocess.run([*git, "add", "."], cwd=shop_copy, check=True)
    subprocess.run([*git, "commit", "-qm", "shop"], cwd=shop_copy, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=shop_copy, check=True, capture_output=True, text=True)
    (shop_copy / ".portable-fn" / "build").mkdir(parents=True)
    (shop_copy / ".portable-fn" / "build" / "app.zip").write_bytes(b"PK")  # portable-fn's own files don't count
    assert audit.git_state(shop_copy) == (head.stdout.strip(), False)
    (shop_copy / "shop" / "models.py").write_text("# changed\n")
    assert audit.git_state(shop_copy) == (head.stdout.strip(), True)


class BrokenStore:
    """An audit store whose writes fail, as a bucket the caller may not write to would."""

    where = "s3://nowhere/pfn-audit/shop/dev/"

    def append(self, name: str, body: bytes) -> str:
        raise PermissionError("AccessDenied: s3:PutObject")

    def read(self) -> list[bytes]:
        return []

    def mark(self, tags: Mapping[str, str]) -> str | None:
        raise AssertionError("a record that was not written is not tagged")


class BrokenDeployer(LocalDeployer):
    def audit_store(self, app: App, stage: str) -> BrokenStore:  # type: ignore[override]
        return BrokenStore()


def test_a_record_that_cannot_be_written_fails_a_deploy_that_succeeded_and_is_kept_and_resent(
    shop_copy: Path, tmp_path: Path
) -> None:
    app, provider = load_app(shop_copy), local(tmp_path / "cloud")
    planned = pipeline.plan(provider, app, "dev").plan
    assert planned is not None
    provider.deployer = BrokenDeployer(provider.settings)
    with pytest.raises(DeployError) as caught:
        pipeline.deploy(provider, app, "dev")
    assert len(LocalCloud(tmp_path / "cloud").find("shop", "dev")) == 25  # the deploy itself happened
    kept = list((shop_copy / ".portable-fn" / "audit" / "local" / "dev").glob("*.json"))
    assert len(kept) == 1
    assert json.loads(kept[0].read_text())["digest"] == audit.plan_digest(planned)
    assert str(caught.value) == (
        "The deploy of 'shop' (stage 'dev') on local succeeded, but its audit record was not written to "
        f"s3://nowhere/pfn-audit/shop/dev/: AccessDenied: s3:PutObject. The record is kept in {kept[0]}; once "
        "that is fixed, run `portable-fn history --provider local --stage dev --resend` to write it."
    )
    provider.deployer = LocalDeployer(provider.settings)
    written = audit.resend(provider, app, "dev")
    assert written == [f"{tmp_path / 'cloud' / 'audit.jsonl'} ({kept[0].stem})"]
    assert not kept[0].exists()
    assert [r.digest for r in audit.history(provider, app, "dev")] == [audit.plan_digest(planned)]


def test_a_record_that_cannot_be_written_never_hides_the_changes_own_error(shop_copy: Path, tmp_path: Path) -> None:
    app, provider = load_app(shop_copy), local(tmp_path / "cloud")
    provider.deployer = BrokenDeployer(provider.settings, client=FullDisk(tmp_path / "cloud", fail_on_put=1))
    said: list[str] = []
    with pytest.raises(DeployError, match=r"^Deploying 'shop' \(stage 'dev'\) to local: step 1 of 25, .*disk full"):
        pipeline.deploy(provider, app, "dev", said.append)
    [kept] = (shop_copy / ".portable-fn" / "audit" / "local" / "dev").glob("*.json")
    assert said[-1] == (
        "  ! The deploy of 'shop' (stage 'dev') on local failed, but its audit record was not written to "
        f"s3://nowhere/pfn-audit/shop/dev/: AccessDenied: s3:PutObject. The record is kept in {kept}; once "
        "that is fixed, run `portable-fn history --provider local --stage dev --resend` to write it."
    )
    assert json.loads(kept.read_text())["outcome"] == "failed"


class TagRefused(BrokenStore):
    def __init__(self) -> None:
        self.written: list[str] = []

    def append(self, name: str, body: bytes) -> str:
        if name in self.written:
            raise audit.RecordExists(name)
        self.written.append(name)
        return f"memory://{name}"

    def mark(self, tags: Mapping[str, str]) -> str | None:
        raise PermissionError("AccessDenied: s3:PutBucketTagging")


def test_a_tag_that_cannot_be_set_is_a_note_and_a_taken_name_gets_a_counter(shop_copy: Path, tmp_path: Path) -> None:
    app, provider = load_app(shop_copy), local(tmp_path / "cloud")
    store = TagRefused()

    class Deployer(LocalDeployer):
        def audit_store(self, app: App, stage: str) -> TagRefused:  # type: ignore[override]
            return store

    provider.deployer = Deployer(provider.settings)
    outcome = pipeline.plan(provider, app, "dev")
    made = audit.record(provider, app, "dev", "deploy", outcome.plan, outcome.artifact)
    assert made.notes == (
        f"The audit tags were not set (AccessDenied: s3:PutBucketTagging); the record is in memory://{made.name}.",
    )
    again = audit._append_new(store, made.name, b"{}")
    assert again == f"memory://{made.name.removesuffix('.json')}-1.json"


class Bare(Provider):
    """A third-party provider with no deploy side at all."""

    name = "bare"


def test_a_provider_without_an_audit_store_records_nothing_and_says_so(shop_copy: Path) -> None:
    app = load_app(shop_copy)
    with pytest.raises(ProviderError) as caught:
        audit.history(Bare(), app, "dev")
    assert str(caught.value) == (
        "Provider 'bare' keeps no audit trail: its deployer has no `audit_store`. Use --provider aws, gcp, azure "
        "or local."
    )
    made = audit.record(Bare(), app, "dev", "deploy", None, None)
    assert made.notes == ("Provider 'bare' keeps no audit trail: this deploy is recorded nowhere.",)
    assert made.location is None and made.outcome == "succeeded"


class Unreadable(BrokenStore):
    def read(self) -> list[bytes]:
        raise ConnectionError("connection refused\nmore detail")


def test_a_trail_that_cannot_be_read_says_where_and_why(shop_copy: Path, tmp_path: Path) -> None:
    provider = local(tmp_path / "cloud")

    class Deployer(LocalDeployer):
        def audit_store(self, app: App, stage: str) -> Unreadable:  # type: ignore[override]
            return Unreadable()

    provider.deployer = Deployer(provider.settings)
    with pytest.raises(DeployError) as caught:
        audit.history(provider, load_app(shop_copy), "dev")
    assert str(caught.value) == (
        "Reading the audit trail of 'shop' (stage 'dev') on local from s3://nowhere/pfn-audit/shop/dev/ failed: "
        "connection refused"
    )


def test_all_lists_what_the_module_defines() -> None:
    defined = {
        name
        for name, value in vars(audit).items()
        if not name.startswith("_")
        and name != "TYPE_CHECKING"
        and (getattr(value, "__module__", None) == audit.__name__ or name.isupper())
    }
    assert set(audit.__all__) == defined

"""`portable-fn history` on the local provider: the records newest first, as a table and as JSON."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from portable_fn import audit
from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.deploy import Resource, pipeline
from portable_fn.local.provider import LocalCloud, LocalDeployer, LocalProvider
from portable_fn.runtime.errors import DeployError


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The local cloud, where the CLI's local provider finds it too."""
    monkeypatch.setenv("PORTABLE_FN_LOCAL_CLOUD", str(tmp_path / "cloud"))
    return tmp_path / "cloud"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class Busy(LocalCloud):
    """A local cloud whose resources file cannot be rewritten to delete anything."""

    def delete(self, resource: Resource) -> None:
        raise OSError("store busy")


def deploy_and_remove(shop_copy: Path, cloud: Path) -> list[audit.AuditRecord]:
    """The records the pipeline wrote of a deploy and of a remove that failed, newest first."""
    app, provider = load_app(shop_copy), LocalProvider()
    first = pipeline.deploy(provider, app, "dev").audit
    assert first is not None
    provider.deployer = LocalDeployer(provider.settings, client=Busy(cloud))
    said: list[str] = []
    with pytest.raises(DeployError) as caught:
        pipeline.remove(provider, app, "dev", said.append)
    step = next(line for line in said if line.startswith("[1/25] ")).removeprefix("[1/25] ")
    assert str(caught.value) == (
        f"Removing 'shop' (stage 'dev') from local: step 1 of 25, '{step}', failed: OSError: store busy. Steps before "
        "it were applied and later ones were not; fix the cause and run `portable-fn remove` again to converge "
        "(`portable-fn plan` shows what remains)."
    )
    second, deployed = audit.history(provider, app, "dev")
    assert deployed == first and (second.verb, second.outcome, second.error) == ("remove", "failed", str(caught.value))
    return [second, first]


def test_history_lists_the_records_newest_first(capsys, shop_copy: Path, cloud: Path) -> None:
    newest, oldest = deploy_and_remove(shop_copy, cloud)
    assert newest.error is not None  # the remove's error, in full (one line)
    code, out, _ = run(capsys, "history", str(shop_copy))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["WHEN", "VERB", "WHO", "DIGEST", "COMMIT", "CHANGES", "OUTCOME"]
    user = getpass.getuser()
    assert lines[1].split() == [
        *newest.line()["when"].split(),
        "remove",
        user,
        newest.digest[:12],
        "-",
        *"0 to create, 0 to update, 25 to delete, 0 unchanged".split(),
        "failed:",
        *newest.error.split(),
    ]
    assert lines[2].split()[2:5] == ["deploy", user, oldest.digest[:12]]
    assert lines[2].split()[-1] == "succeeded" and len(lines) == 3


def test_history_as_json_with_a_limit(capsys, shop_copy: Path, cloud: Path) -> None:
    newest, _ = deploy_and_remove(shop_copy, cloud)
    code, out, _ = run(capsys, "history", str(shop_copy), "--json", "--limit", "1")
    assert code == 0
    assert json.loads(out) == {
        "app": "shop",
        "provider": "local",
        "stage": "dev",
        "where": str(cloud / "audit.jsonl"),
        "records": [newest.to_dict()],
    }


def test_history_of_nothing_says_where_it_looked(capsys, shop_copy: Path, cloud: Path) -> None:
    code, out, _ = run(capsys, "history", str(shop_copy), "--stage", "prod")
    assert code == 0
    assert out == (
        f"No deploy or remove of 'shop' (stage 'prod') on local is recorded in {cloud / 'audit.jsonl'}. "
        "`portable-fn deploy` records each one.\n"
    )


def test_resend_writes_the_kept_records_first(capsys, shop_copy: Path, cloud: Path) -> None:
    kept = shop_copy / ".portable-fn" / "audit" / "local" / "dev" / "20261206T164558.000000Z-abcdefabcdef.json"
    kept.parent.mkdir(parents=True)
    record = {
        **deploy_and_remove(shop_copy, cloud)[1].to_dict(),
        "at": "2026-12-06T16:45:58.000000Z",
        "digest": "abcdef" * 10 + "abcd",
    }
    kept.write_text(json.dumps(record))
    code, out, err = run(capsys, "history", str(shop_copy), "--resend", "--json")
    assert code == 0 and not kept.exists()
    assert err == f"Wrote {cloud / 'audit.jsonl'} (20261206T164558.000000Z-abcdefabcdef)\n"
    assert [r["at"] for r in json.loads(out)["records"]][-1] == "2026-12-06T16:45:58.000000Z"

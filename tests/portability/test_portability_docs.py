"""docs/portability.md is what the code says: its generated parts render from the code's own data (the
differences the suite allows, the limits dev enforces, the clouds' published figures, what deploy
creates), and every combination it lists as refused is refused, with the reason it gives, when a small
app declaring it is loaded for that cloud the way a user's is (`portable-fn invoke`)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from portability_contract.docs import CLOUDS, COMMAND, EVERY, PAGE, REFUSED, Refused, render

from portable_fn import cli
from portable_fn.local import quotas


def test_the_page_is_what_the_code_renders() -> None:
    page = PAGE.read_text(encoding="utf-8")
    fresh = render(page)
    diff = "".join(
        difflib.unified_diff(
            page.splitlines(True), fresh.splitlines(True), "docs/portability.md", "rendered from the code"
        )
    )
    assert fresh == page, f"docs/portability.md is out of date: run `{COMMAND}`\n{diff}"


def test_a_page_without_a_generated_part_says_which_is_missing() -> None:
    with pytest.raises(ValueError, match="missing .*'refused'.*<!-- generated: NAME -->"):
        render("<!-- generated: triggers -->\n<!-- end generated -->\n")


def test_every_cloud_figure_cites_the_page_that_publishes_it() -> None:
    figures = [
        (kind, aspect, cloud, figure)
        for kind, aspects in quotas.DELIVERY.items()
        for aspect, by_cloud in aspects.items()
        for cloud, figure in by_cloud.items()
    ]
    figures += [("event", "timeout", cloud, figure) for cloud, figure in quotas.EVENT_TIMEOUTS.items()]
    for kind, aspect, cloud, figure in figures:
        assert cloud in CLOUDS, (kind, aspect, cloud)
        expected = quotas.DEV if cloud == "local" else "https://"
        assert figure.source.startswith(expected), (kind, aspect, cloud, figure.source)
    for kind, by_cloud in quotas.SIZE_SOURCES.items():
        assert sorted(by_cloud) == sorted(CLOUDS[1:]), kind
        assert all(url.startswith("https://") for url in by_cloud.values()), kind


CASES = [(refused, cloud) for refused in REFUSED for cloud in (CLOUDS if refused.cloud == EVERY else (refused.cloud,))]


@pytest.mark.parametrize(("refused", "cloud"), CASES, ids=[f"{cloud}-{REFUSED.index(r)}" for r, cloud in CASES])
def test_a_refused_combination_is_refused_at_load_with_the_reason_the_page_gives(
    refused: Refused, cloud: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write_app(tmp_path, refused, cloud)
    event = tmp_path / "event.json"
    event.write_text("{}", encoding="utf-8")
    code = cli.main(["invoke", "f0", str(app), "--provider", cloud, "--event", str(event)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert refused.reason in " ".join(err.split()), err


def write_app(root: Path, refused: Refused, cloud: str) -> Path:
    """An app holding the declaration as the page shows it, one function per decorator."""
    app = root / "app"
    app.mkdir()
    settings = [f"[tool.portable-fn.{cloud}]", *refused.settings] if refused.settings else []
    (app / "pyproject.toml").write_text(
        "\n".join(
            [
                "[tool.portable-fn]",
                'app = "refused"',
                f'modules = ["{refused.module}"]',
                'python = "3.11"',
                *settings,
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    lines = ["from portable_fn import CloudEvent, Request, Response, cron, function, http, queue, schedule", ""]
    for i, decorator in enumerate(refused.declaration):
        signature = "request: Request) -> Response" if "trigger=http(" in decorator else "event: CloudEvent) -> None"
        body = "return Response.json({})" if "trigger=http(" in decorator else "pass"
        lines += ["", decorator, f"def f{i}({signature}:", f"    {body}", ""]
    (app / f"{refused.module}.py").write_text("\n".join(lines), encoding="utf-8")
    return app

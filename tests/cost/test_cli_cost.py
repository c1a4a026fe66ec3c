"""`portable-fn cost`: one table per cloud and the clouds side by side, the same as JSON, and no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portable_fn.cli import main

SHOP = Path(__file__).resolve().parents[2] / "samples" / "shop"
TOTALS = {"aws": "15.51276900000", "gcp": "23.19266800000000000000000001", "azure": "4.6270140000"}


def test_json_holds_every_cloud_with_its_rows_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", str(SHOP), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["app"], data["stage"]) == ("shop", "dev")
    assert {c["provider"]: c["total_usd"] for c in data["clouds"]} == TOTALS
    aws = data["clouds"][0]
    assert [row["function"] for row in aws["functions"]] == [
        "place_order-run",
        "create_order",
        "get_order",
        "confirm_payment",
        "fulfil",
        "sweep",
        "nightly_report",
        "on_upload",
        "notify",
    ]
    assert aws["functions"][2] == {
        "function": "get_order",
        "invocations": 1500000,
        "memory_mb": 256,
        "gb_seconds": "15000",
        "requests_usd": "0.3000000",
        "compute_usd": "0.2500005000",
        "resources_usd": "0",
        "total_usd": "0.5500005000",
        "traffic": "traffic.get_order",
        "details": [],
    }
    assert aws["free_tiers"][1] == {
        "name": "lambda.gb_second",
        "allowance": "400000 GB-seconds a month",
        "scope": "per AWS account, shared by every function in it (x86 and Arm together)",
        "credit_usd": "2.01433902867",
    }


def test_the_table_of_one_cloud(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", str(SHOP), "--provider", "aws", "--no-free-tier"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "aws (eu-west-1; list prices read 2026-12-06, USD/month)"
    assert lines[1].split() == ["FUNCTION", "INVOCATIONS", "GB-S", "REQUESTS", "COMPUTE", "RESOURCES", "TOTAL"]
    assert lines[4].split() == ["get_order", "1,500,000", "15,000", "$0.30", "$0.25", "$0.00", "$0.55"]
    assert lines[11].split() == ["total", "before", "free", "tiers", "$18.29"]
    assert lines[12].split() == ["total", "on", "aws", "$18.29"]
    assert "Side by side" not in "\n".join(lines)


def test_all_clouds_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", str(SHOP), "--provider", "all"]) == 0
    out = capsys.readouterr().out
    side = out[out.index("Side by side (USD/month):") :].splitlines()
    assert side[1].split() == ["FUNCTION", "AWS", "GCP", "AZURE"]
    assert side[2].split() == ["place_order-run", "$15.83", "$23.83", "$4.64"]
    assert side[-2].split() == ["free", "tiers", "-$2.77", "-$4.41", "-$2.66"]
    assert side[-1].split() == ["total", "$15.51", "$23.19", "$4.63"]
    assert "Free tier run.request: 2,000,000 requests a month, per billing account, shared." in out


def test_the_governance_note_shows_the_shops_table_as_the_cli_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/governance.md shows samples/shop's month on the three clouds: it must stay what `cost` prints, and
    say truly how many of the prices behind it were confirmed on the provider's page."""
    assert main(["cost", str(SHOP), "--provider", "all"]) == 0
    out = capsys.readouterr().out
    side = out[out.index("Side by side (USD/month):") :]
    note = (SHOP.parents[1] / "docs" / "governance.md").read_text(encoding="utf-8")
    assert f"```text\n{side}```\n" in note
    counts = []
    for cloud, name in (("aws", "AWS"), ("gcp", "Google"), ("azure", "Azure")):
        prices = json.loads((SHOP.parents[1] / "portable_fn" / "cost" / "prices" / f"{cloud}.json").read_text())
        checked = [price["checked"] for price in prices["prices"].values()]
        counts.append(f"{sum(checked) or 'none'} of {name}'s {len(checked)}")
    assert " ".join(f"{', '.join(counts[:2])}, {counts[2]})".split()) in " ".join(note.split())


AUDITED = """
import sys

def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"):
        raise RuntimeError(f"portable-fn cost reached for the network: {event} {args}")

sys.addaudithook(refuse)
from portable_fn.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow  # imports in a fresh interpreter
def test_it_needs_no_network_and_no_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_", "CLOUDSDK_", "AZURE_"))}
    env["HOME"] = str(tmp_path)  # no ~/.aws, ~/.config/gcloud or ~/.azure
    done = subprocess.run(
        [sys.executable, "-c", AUDITED, "cost", str(SHOP), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert {c["provider"]: c["total_usd"] for c in json.loads(done.stdout)["clouds"]} == TOTALS

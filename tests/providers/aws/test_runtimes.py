"""Lambda's runtime lifecycle as `plan` tells it: nothing while a Python is supported, then each stage."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from portable_fn_aws.provider import AwsProvider
from portable_fn_aws.runtimes import runtime_note

from portable_fn.app import load_app

FIX = 'set python = "3.12" (or later) under [tool.portable-fn]'


def test_a_supported_python_gets_no_note() -> None:
    assert runtime_note("3.12", date(2026, 12, 6)) is None
    assert runtime_note("3.11", date(2027, 6, 29)) is None


def test_each_stage_of_the_lifecycle_says_what_fails_and_the_fix() -> None:
    assert runtime_note("3.11", date(2027, 7, 1)) == (
        f"Lambda deprecated python3.11 on 2027-06-30 (no new functions from 2027-07-31): {FIX}."
    )
    assert runtime_note("3.11", date(2027, 8, 1)) == (
        f"Lambda refuses new python3.11 functions since 2027-07-31 and updates from 2027-08-31: {FIX}."
    )
    assert runtime_note("3.10", date(2027, 3, 3)) == (
        "Lambda deprecated python3.10 on 2026-10-31 and refuses to create or update functions on it since "
        f"2027-03-03: a deploy to AWS fails; {FIX}."
    )


def test_plan_notes_carry_it_for_the_app_s_python(shop_copy: Path) -> None:
    pyproject = shop_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('python = "3.11"', 'python = "3.10"', 1))
    app = load_app(shop_copy)
    said = runtime_note("3.10", date.today())
    assert app.config.python == "3.10" and said is not None  # deprecated on 2026-10-31, before this test was written
    assert AwsProvider({}).plan_notes(app, "dev")[0] == said

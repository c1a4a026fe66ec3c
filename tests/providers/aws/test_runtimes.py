"""Lambda's runtime lifecycle as `plan` tells it: nothing while a Python is supported, then each stage."""

from __future__ import annotations

from datetime import date

from portable_fn_aws.provider import AwsProvider
from portable_fn_aws.runtimes import runtime_note

from portable_fn.app import load_app


def test_a_supported_python_gets_no_note() -> None:
    assert runtime_note("3.12", date(2026, 12, 6)) is None
    assert runtime_note("3.11", date(2026, 6, 29)) is None


def test_each_stage_of_the_lifecycle_says_what_fails_and_the_fix() -> None:
    fix = 'set python = "3.12" (or later) under [tool.portable-fn]'
    assert runtime_note("3.11", date(2026, 7, 1)) == (
        f"Lambda deprecated python3.11 on 2026-06-30 (no new functions from 2026-07-31): {fix}."
    )
    assert runtime_note("3.11", date(2026, 8, 1)) == (
        f"Lambda refuses new python3.11 functions since 2026-07-31 and updates from 2026-08-31: {fix}."
    )
    assert runtime_note("3.10", date(2026, 12, 6)) == (
        "Lambda deprecated python3.10 on 2026-06-30 and refuses to create or update functions on it since "
        f"2026-08-31: a deploy to AWS fails; {fix}."
    )


def test_plan_notes_carry_it_for_the_app_s_python(shop_copy) -> None:  # type: ignore[no-untyped-def]
    app = load_app(shop_copy)
    notes = AwsProvider({}).plan_notes(app, "dev")
    assert app.config.python == "3.11"
    assert notes[0].startswith("Lambda deprecated python3.11 on 2026-06-30 and refuses to create or update")

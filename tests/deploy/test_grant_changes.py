"""`grant_changes`: the grants a plan keeps, adds and takes away, compared grant by grant."""

from __future__ import annotations

from portable_fn.deploy.grants import Grant, grant_changes

READ = Grant("show", "role/show", ("dynamodb:GetItem",), "table/stock")
WRITE = Grant("show", "role/show", ("dynamodb:GetItem", "dynamodb:PutItem"), "table/stock")
SECRET = Grant("charge", "role/charge", ("ssm:GetParameter",), "parameter/portable-fn/shop/dev/stripe-key")


def test_a_grant_whose_actions_change_is_taken_away_and_granted_anew() -> None:
    changes = grant_changes([READ, SECRET], [WRITE, SECRET])
    assert (changes.kept, changes.added, changes.removed) == ((SECRET,), (WRITE,), (READ,))
    assert changes.changed
    assert changes.lines() == [
        "Grants (1 to grant, 1 to take away, 1 unchanged):",
        "  = charge as role/charge: ssm:GetParameter on parameter/portable-fn/shop/dev/stripe-key",
        "  + show as role/show: dynamodb:GetItem, dynamodb:PutItem on table/stock",
        "  - show as role/show: dynamodb:GetItem on table/stock",
    ]


def test_the_same_grants_read_back_are_no_change_and_nothing_granted_prints_nothing() -> None:
    same = grant_changes([SECRET, READ, READ], [READ, SECRET])
    assert (same.added, same.removed, same.changed) == ((), (), False)
    assert same.to_dict()["kept"] == [READ.to_dict(), SECRET.to_dict()]
    assert grant_changes([], []).lines() == []

"""The app's own tests: they never ship."""

from ab_test import assign


def test_a_user_always_sees_the_same_variant(user: str) -> None:
    assert assign(user) == assign(user)

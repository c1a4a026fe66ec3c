"""A unit test next to the code: it never ships."""

from splits.functions import PREVIEW_USER


def test_the_preview_user_is_named() -> None:
    assert PREVIEW_USER

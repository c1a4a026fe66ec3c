"""A module that declares nothing."""


def helper():
    return 1

"""A module functions_imports_helpers.py imports."""

VERSION = 5

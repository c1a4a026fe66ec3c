"""The saas sample app: see functions.py."""

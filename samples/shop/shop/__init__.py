"""The shop sample app: see functions.py."""

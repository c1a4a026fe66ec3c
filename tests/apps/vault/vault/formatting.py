"""Formatting helpers only the HTTP function imports (so AWS gives each function a zip of its own)."""


def title(name: str) -> str:
    return name.replace("-", " ").title()

"""Developer sessions. `nox -l` lists them; `nox` runs the default ones (tests, lint, typecheck)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
# An interpreter that is not on the machine is skipped, never downloaded (where the CI variable is set, a
# missing one is an error instead).
nox.options.download_python = "never"

# Every Python the package supports (requires-python and the `python` setting of an app)
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

# provider distribution directory -> its module
PROVIDERS = {
    "providers/aws": "portable_fn_aws",
    "providers/gcp": "portable_fn_gcp",
    "providers/azure": "portable_fn_azure",
}
EDITABLE_PROVIDERS = [arg for path in PROVIDERS for arg in ("-e", f"./{path}")]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the whole test suite on each supported Python found here (it starts its own emulators)."""
    # --no-compile: the suite keeps its bytecode in .pytest_cache/pycache and never reads pip's (see the README)
    session.install("--no-compile", "-e", ".[test]", *EDITABLE_PROVIDERS)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting (`ruff format`, the one formatter of the tree), style and common bugs with ruff."""
    session.install("ruff>=0.5")
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", "portable_fn", "providers", "tests", "benchmarks", "samples")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the core and every provider with mypy in strict mode."""
    session.install("-e", ".", *EDITABLE_PROVIDERS, "mypy>=1.10")
    session.run("mypy", "portable_fn")
    for path, module in PROVIDERS.items():
        session.run("mypy", "--strict", f"{path}/{module}")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Measure against the anchor libraries side by side (opt-in: slow, prints ratios)."""
    session.install("-e", ".[test]", *EDITABLE_PROVIDERS)
    session.run("python", "benchmarks/run.py", *session.posargs)

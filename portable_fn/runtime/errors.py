"""Every error portable-fn raises on purpose, under one root.

Messages say where (which function, which provider, which file), what went wrong, and what to do next,
so a user can act on the message alone::

    PortableFnError
    ├── DeclarationError          a @function or trigger declaration is invalid (raised at import)
    ├── InvalidEventError         an event or request cannot be turned into a CloudEvent
    │   └── DataValidationError   the event data does not fit the handler's annotation
    ├── ConfigError               [tool.portable-fn] in pyproject.toml is missing or invalid
    ├── AppLoadError              the app's modules cannot be imported or hold no functions
    ├── ProviderError             a provider is missing or cannot honour the app
    │   ├── ProviderNotInstalledError
    │   └── UnsupportedTriggerError
    └── DeployError               a package / plan / deploy / remove step failed

This module is part of the runtime and imports nothing.
"""

from __future__ import annotations


class PortableFnError(Exception):
    """The root of every error raised on purpose by portable-fn."""


class DeclarationError(PortableFnError, ValueError):
    """A function or trigger declaration is invalid; raised when the module is imported."""


class InvalidEventError(PortableFnError, ValueError):
    """Input cannot be read as a CloudEvent or request. `attribute` names the culprit when known."""

    def __init__(self, message: str, attribute: str | None = None) -> None:
        super().__init__(message)
        self.attribute = attribute


class DataValidationError(InvalidEventError):
    """The event's data does not match the type the handler declared."""


class ConfigError(PortableFnError):
    """The app's configuration is missing or invalid."""


class UnknownStageError(ConfigError):
    """The command line names a stage the app does not declare (a usage error: exit code 2)."""


class AppLoadError(PortableFnError):
    """The app's modules could not be imported, or declare no functions."""


class ProviderError(PortableFnError):
    """A provider problem: not installed, or unable to honour what the app declares."""


class ProviderNotInstalledError(ProviderError):
    """The requested provider is not installed."""


class UnsupportedTriggerError(ProviderError):
    """A provider cannot bind a trigger or option the app declares."""


class DeployError(PortableFnError):
    """A packaging, planning or deploy step failed."""

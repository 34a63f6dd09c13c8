"""One exception tree for the hub; each error says what went wrong and how to fix it.

    HubError
    ├── ConfigError       hub.toml missing, unreadable or invalid
    ├── PluginError       a plugin failed to load or registered something broken
    ├── StoreError        the database could not be opened or migrated
    ├── SourceError       a source could not be fetched or parsed
    ├── SinkError         a sink could not deliver (carries the API's code when there is one)
    └── PortBusy          the port asked for is taken (names the option that changes it)

The CLI turns a ``HubError`` into one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose; ``hint`` says how to fix it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(HubError):
    """``hub.toml`` is missing, is not TOML, or does not validate."""


class PluginError(HubError):
    """A plugin could not be loaded, or registered an invalid or duplicate type."""


class StoreError(HubError):
    """The store could not be opened or used."""


class SourceError(HubError):
    """A source failed to fetch or parse; the source is retried later with back-off."""


class SinkError(HubError):
    """A sink failed to deliver a message."""

    def __init__(self, message: str, *, code: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class PortBusy(HubError):
    """The port ``hub serve`` or ``hub sandbox`` was asked to listen on is already taken."""

"""The project's exception tree.

This is a leaf module: it imports nothing from the project, so any module may import it
without creating an import cycle. Each error subclasses the closest standard exception so
callers can catch either the specific class or the stdlib one.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every error this project raises on purpose."""


class GnnParseError(RegistryError, ValueError):
    """Text could not be read as GNN at all (the parser's only exception type).

    Ordinary mistakes inside a GNN file are *findings*, not exceptions; this is raised only
    where no model value can be built (for example, input that is not text).
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line

    def __str__(self) -> str:
        base = super().__str__()
        return f"line {self.line}: {base}" if self.line is not None else base


class ConfigError(RegistryError, ValueError):
    """A configuration value (file, environment variable or flag) is invalid."""


class StoreError(RegistryError, OSError):
    """The registry could not be read or written durably.

    ``path`` names the file involved and ``reason`` the underlying cause.
    """

    def __init__(self, message: str, *, path: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        parts = [self.args[0] if self.args else "registry storage error"]
        if self.path:
            parts.append(f"(file: {self.path})")
        if self.reason:
            parts.append(f"cause: {self.reason}")
        return " ".join(str(p) for p in parts)


class StoreBusyError(StoreError, TimeoutError):
    """The registry lock could not be taken within the configured timeout."""


class StoreCorruptError(StoreError):
    """The registry file and every backup failed to parse or verify."""


class NotFoundError(RegistryError, LookupError):
    """A named model, version, alias or backup does not exist."""


class TransitionError(RegistryError, ValueError):
    """A lifecycle transition or curation change was refused."""


__all__ = [
    "ConfigError",
    "GnnParseError",
    "NotFoundError",
    "RegistryError",
    "StoreBusyError",
    "StoreCorruptError",
    "StoreError",
    "TransitionError",
]

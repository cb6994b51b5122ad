"""Narrow I/O fault injection: one ``os`` function fails only for the files a test names.

Used in-process (:class:`Injector`, with pytest's ``monkeypatch``) and, through
``tests/helpers/faultinject/sitecustomize.py``, inside a real ``gnn-registryd`` subprocess.
Every other call goes to the real function, so logging, the lock file and the watched
files keep working.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pytest is not imported by the subprocess injector
    import pytest


def fd_path(fd: int) -> str:
    """The path an open descriptor refers to (Linux ``/proc``), or ``""``."""
    try:
        return str(Path(f"/proc/self/fd/{fd}").readlink())
    except OSError:
        return ""


def is_store_temp(path: str | os.PathLike[str], stem: str = "model_registry.json") -> bool:
    """Whether ``path`` is a temp file the store writes on its way to replacing ``stem``."""
    name = Path(os.fspath(path)).name
    return name.startswith(".") and stem in name and name.endswith(".tmp")


def is_metadata_temp(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a temp file of a per-model metadata file."""
    name = Path(os.fspath(path)).name
    return name.startswith(".") and "_metadata.json" in name and name.endswith(".tmp")


Match = Callable[..., bool]

MATCHERS: dict[str, tuple[str, Match]] = {
    # name: (os function, predicate on its positional arguments)
    "temp_write": ("write", lambda fd, *_: is_store_temp(fd_path(fd))),
    "temp_fsync": ("fsync", lambda fd: is_store_temp(fd_path(fd))),
    "replace": ("replace", lambda src, *_: is_store_temp(src)),
    "backup_link": ("link", lambda src, *_: Path(src).name == "model_registry.json"),
    "metadata_write": ("write", lambda fd, *_: is_metadata_temp(fd_path(fd))),
    "summary_write": ("write",
                      lambda fd, *_: is_store_temp(fd_path(fd), "model_registry_summary")),
}
"""The write steps a test can fail, by name."""


def dir_fsync_matcher(directory: Path) -> tuple[str, Match]:
    """Fail ``fsync`` of the directory ``directory`` (the step after the rename)."""
    target = str(directory)
    return "fsync", lambda fd: fd_path(fd) == target


class Injector:
    """Make ``os.<name>`` raise ``OSError(code)`` when ``match`` says so; count the hits."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.hits = 0

    def fail(self, name: str, code: int, match: Match) -> None:
        """Start failing ``os.<name>`` calls that ``match``."""
        real = getattr(os, name)

        def fake(*args: Any, **kwargs: Any) -> Any:
            if match(*args):
                self.hits += 1
                raise OSError(code, os.strerror(code))
            return real(*args, **kwargs)

        self.monkeypatch.setattr(os, name, fake)

    def undo(self) -> None:
        """Stop failing (every patched function is restored)."""
        self.monkeypatch.undo()


__all__ = [
    "MATCHERS",
    "Injector",
    "Match",
    "dir_fsync_matcher",
    "fd_path",
    "is_metadata_temp",
    "is_store_temp",
]

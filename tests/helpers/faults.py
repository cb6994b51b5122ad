"""Narrow I/O fault injection: one ``os`` function fails only for the files a test names.

Used in-process (:class:`Injector`, with pytest's ``monkeypatch``) and, through
``tests/helpers/faultinject/sitecustomize.py``, inside a real ``gnn-registryd`` subprocess.
Every other call goes to the real function, so logging, the lock file and the watched
files keep working.
"""

from __future__ import annotations

import errno
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


def is_backup_temp(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is the temp file of a database backup being made."""
    p = Path(os.fspath(path))
    return p.parent.name == "backups" and p.name.startswith(".") and p.name.endswith(".tmp")


def is_metadata_temp(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a temp file of a per-model metadata file."""
    name = Path(os.fspath(path)).name
    return name.startswith(".") and "_metadata.json" in name and name.endswith(".tmp")


Match = Callable[..., bool]

DB_COMMIT = "db_commit"
"""The step that fails the database ``COMMIT`` itself (SQLite does its own I/O in C, so this
one is injected at :func:`registry.storage.db.commit`, the store's single commit call)."""

MATCHERS: dict[str, tuple[str, Match]] = {
    # name: (os function, predicate on its positional arguments)
    "view_write": ("write", lambda fd, *_: is_store_temp(fd_path(fd))),
    "view_replace": ("replace", lambda src, *_: is_store_temp(src)),
    "backup_fsync": ("fsync", lambda fd: is_backup_temp(fd_path(fd))),
    "backup_link": ("link", lambda src, *_: is_backup_temp(src)),
    "metadata_write": ("write", lambda fd, *_: is_metadata_temp(fd_path(fd))),
    "summary_write": ("write",
                      lambda fd, *_: is_store_temp(fd_path(fd), "model_registry_summary")),
}
"""The write steps a test can fail, by name."""


def dir_fsync_matcher(directory: Path) -> tuple[str, Match]:
    """Fail ``fsync`` of the directory ``directory`` (the step after the rename)."""
    target = str(directory)
    return "fsync", lambda fd: fd_path(fd) == target


def sqlite_fault(code: int) -> Exception:
    """The ``sqlite3`` exception SQLite raises for an OS error ``code`` during a write."""
    import sqlite3  # noqa: PLC0415

    if code == errno.ENOSPC:
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    else:
        exc = sqlite3.OperationalError("disk I/O error")
        exc.sqlite_errorcode = sqlite3.SQLITE_IOERR  # type: ignore[attr-defined]
    return exc


def fail_commit(code: int, active: Callable[[], bool]) -> Callable[..., None]:
    """A replacement for :func:`registry.storage.db.commit` failing while ``active()``."""
    from registry.storage import db  # noqa: PLC0415

    real = db.commit

    def fake(conn: Any) -> None:
        if active():
            raise sqlite_fault(code)
        real(conn)

    return fake


class Injector:
    """Make ``os.<name>`` raise ``OSError(code)`` when ``match`` says so; count the hits."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.hits = 0

    def fail(self, name: str, code: int, match: Match) -> None:
        """Start failing ``os.<name>`` calls that ``match`` (``db_commit``: the commit)."""
        if name == DB_COMMIT:
            from registry.storage import db  # noqa: PLC0415

            def count() -> bool:
                self.hits += 1
                return True

            self.monkeypatch.setattr(db, "commit", fail_commit(code, count))
            return
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
    "DB_COMMIT",
    "MATCHERS",
    "Injector",
    "Match",
    "dir_fsync_matcher",
    "fail_commit",
    "fd_path",
    "is_backup_temp",
    "is_metadata_temp",
    "is_store_temp",
    "sqlite_fault",
]

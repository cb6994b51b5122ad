"""Opening the registry database safely, and telling corruption from contention.

:func:`check_file` looks at the path before SQLite does: a FIFO would block ``open()``
forever, a directory or a symlink loop gives an unhelpful error, and a file that does not
hold a database makes SQLite fail on first use (``file is not a database``), which
:func:`translate` turns into :class:`NotADatabaseError`; an empty file (which SQLite would
silently treat as a new database) is refused here.

The file's content is never read here: closing any descriptor of a database file drops
every POSIX lock this process holds on it (SQLite's connections included), after which
another process could checkpoint and delete the WAL under a live writer. So only ``stat``
is used, and everything else goes through SQLite. :func:`connect` then opens it
with the pragmas every connection needs (WAL, ``synchronous=FULL``, foreign keys, a finite
busy timeout) and refuses a schema from a newer build.

Errors: :class:`NotADatabaseError` (a :class:`~registry.errors.StoreCorruptError`) for a file
that is not a usable database (recovery may set it aside), a plain
:class:`~registry.errors.StoreError` for what no recovery should touch (a FIFO, a directory,
a newer schema, an unreadable file), :class:`~registry.errors.StoreBusyError` for a lock
timeout.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat as stat_mod
from pathlib import Path

from registry.errors import StoreBusyError, StoreCorruptError, StoreError
from registry.storage import schema


class NotADatabaseError(StoreCorruptError):
    """The registry database file exists but is not a usable SQLite database."""


class EmptyDatabaseError(NotADatabaseError):
    """The database file is empty and no WAL holds its pages: it holds nothing at all."""


EMPTY_MESSAGE = "the registry database file is empty (truncated)"


def _wal_has_content(path: Path) -> bool:
    try:
        return path.with_name(path.name + "-wal").stat().st_size > 0
    except OSError:
        return False


def check_file(path: Path) -> bool:
    """Whether a database file is at ``path`` (False: nothing there), checked before opening.

    Args:
        path: the database file.

    Returns:
        True for a non-empty regular file; False when nothing is at ``path``.

    Raises:
        StoreError: a FIFO, socket, device, directory, symlink loop or dangling symlink, or
            the file cannot be read.
        NotADatabaseError: an empty regular file.
    """
    where = str(path)
    try:
        st = os.stat(path)  # follows symlinks: a loop raises ELOOP  # noqa: PTH116
    except FileNotFoundError:
        if os.path.islink(path):  # noqa: PTH114 - dangling symlink
            msg = "the registry database path is a dangling symbolic link"
            raise StoreError(msg, path=where, reason="fix or remove the link") from None
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            msg = "the registry database path is a symbolic link loop"
            raise StoreError(msg, path=where, reason="fix or remove the link") from exc
        raise StoreError("cannot inspect the registry database", path=where,
                         reason=exc.strerror or str(exc)) from exc
    if not stat_mod.S_ISREG(st.st_mode):
        kind = ("a directory" if stat_mod.S_ISDIR(st.st_mode)
                else "a FIFO (named pipe)" if stat_mod.S_ISFIFO(st.st_mode)
                else "not a regular file")
        msg = f"the registry database path is {kind}, not a database file"
        raise StoreError(msg, path=where, reason="move it away; nothing was opened")
    if st.st_size == 0 and not _wal_has_content(path):
        # In WAL mode a new database's pages may all still be in the -wal file.
        raise EmptyDatabaseError(EMPTY_MESSAGE, path=where)
    return True


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite's lock contention (``SQLITE_BUSY``/``SQLITE_LOCKED``)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


_CAUSES = {sqlite3.SQLITE_FULL: "no space left on device", sqlite3.SQLITE_IOERR:
           "input/output error", sqlite3.SQLITE_READONLY: "read-only file system or database",
           sqlite3.SQLITE_CANTOPEN: "cannot open the file", sqlite3.SQLITE_PERM:
           "permission denied"}


def commit(conn: sqlite3.Connection) -> None:
    """``COMMIT`` the open transaction of ``conn`` (the one commit step of the store)."""
    conn.execute("COMMIT")


def translate(exc: sqlite3.Error, path: Path, step: str, timeout: float) -> StoreError:
    """The project's error for a ``sqlite3`` exception raised while doing ``step``.

    Args:
        exc: the exception.
        path: the database file.
        step: what was being done (``"reading"``, ``"committing"``...).
        timeout: the busy timeout in seconds (named in a busy error).

    Returns:
        StoreBusyError for contention, NotADatabaseError for corruption, else StoreError.
    """
    where = str(path)
    if is_busy(exc):
        return StoreBusyError(f"registry is busy: could not {step} within {timeout:g} s",
                              path=where, reason="another process is writing")
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return NotADatabaseError(f"the registry database is corrupt ({step})", path=where,
                                 reason=str(exc))
    text = str(exc)
    raw = getattr(exc, "sqlite_errorcode", None)
    code = raw & 0xFF if isinstance(raw, int) else -1
    cause = _CAUSES.get(code)
    if cause is not None and code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY):
        try:
            if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
                cause = "read-only file system"
        except OSError:
            pass
    if cause is not None:
        return StoreError(f"registry database error while {step}", path=where,
                          reason=f"{cause} ({text})")
    if "malformed" in text or "not a database" in text:
        return NotADatabaseError(f"the registry database is corrupt ({step})", path=where,
                                 reason=text)
    return StoreError(f"registry database error while {step}", path=where, reason=text)


def _filename(path: Path) -> str | bytes:
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)  # a non-UTF-8 directory name: pass the bytes
    return text


def open_raw(path: Path, *, timeout: float, readonly: bool = False) -> sqlite3.Connection:
    """A connection to ``path`` with the standard pragmas, without schema handling.

    Args:
        path: the database file (created unless ``readonly``).
        timeout: busy timeout in seconds.
        readonly: open with ``mode=ro`` (never creates or writes the file).

    Returns:
        The connection in autocommit mode (callers issue ``BEGIN`` themselves).
    """
    name = _filename(path)
    if readonly and isinstance(name, str):
        uri = "file:" + name.replace("%", "%25").replace("?", "%3f").replace(
            "#", "%23") + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(name, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {max(int(timeout * 1000), 1)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()  # a connection sits in a reference cycle: it must be closed explicitly
        raise
    return conn


PAGE_SIZE = 16384
"""Page size of a new database (SQLite's default is 4096)."""


def connect(path: Path, *, timeout: float, create: bool) -> sqlite3.Connection:
    """Open the registry database at ``path`` (checked first), migrated to this schema.

    Args:
        path: the database file.
        timeout: busy timeout in seconds (``config.lock_timeout``).
        create: create the file when it does not exist (else FileNotFoundError).

    Returns:
        A connection in autocommit mode, WAL journal.

    Raises:
        FileNotFoundError: no database and ``create`` is False.
        StoreError / NotADatabaseError / StoreBusyError: see the module docstring.
    """
    if not check_file(path) and not create:
        raise FileNotFoundError(str(path))
    conn: sqlite3.Connection | None = None
    try:
        conn = open_raw(path, timeout=timeout)
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            # A new database only (the size is fixed once there is a page): models and
            # versions rows are 1-2 kB, which leave a third of a 4 KiB page empty.
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode = WAL")
        schema.migrate(conn, path=str(path))
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise translate(exc, path, "opening the database", timeout) from exc
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return conn


def quick_check(conn: sqlite3.Connection) -> list[str]:
    """SQLite's ``PRAGMA quick_check`` problems (empty when the database is sound)."""
    rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
    return [] if rows == ["ok"] else rows


def fsync_file(path: Path) -> None:
    """fsync one file (used on a finished backup or import before it is renamed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["EMPTY_MESSAGE", "EmptyDatabaseError", "NotADatabaseError", "check_file", "commit",
           "connect", "fsync_file", "is_busy", "open_raw", "quick_check", "read_generation",
           "translate"]


def read_generation(path: Path) -> tuple[int, str] | None:
    """``(generation, updated_at)`` of the database at ``path``, cheaply, or ``None``.

    ``None`` when there is no sound-looking database: missing, not a regular file, not a
    database, shorter than its header says (truncated, with no WAL to make up for it), or
    unreadable. Used by the scan cache to tell whether it is still current.
    """
    try:
        if not check_file(path):
            return None
        size = path.stat().st_size
        has_wal = path.with_name(path.name + "-wal").exists()
    except (StoreError, OSError):
        return None
    try:
        conn = open_raw(path, timeout=1.0, readonly=False)
    except sqlite3.Error:
        return None
    try:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        if not has_wal and pages * int(conn.execute("PRAGMA page_size").fetchone()[0]) > size:
            return None  # shorter than its header says: truncated
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
            return 0, ""  # created, schema not committed yet (a writer killed at its start)
        meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN "
                                 "('generation', 'updated_at')").fetchall())
        return int(meta.get("generation", 0)), str(meta.get("updated_at", ""))
    except (sqlite3.Error, ValueError):
        return None
    finally:
        conn.close()

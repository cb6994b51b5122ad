"""Online backups of the registry database: names, making, listing, reading, rotation.

A backup is a complete SQLite database made with SQLite's online backup API (a consistent
snapshot, taken while other connections read and write), written to a temp file, fsynced and
then linked to its final name, which is never overwritten. Names carry the store's lifetime
id (a random id made when the database was created), the generation and the UTC time::

    backups/model_registry.3f9a0c1e.00000041.20261205T081502Z.sqlite3

so a registry started afresh (a new store id) can never overwrite the backups of an older,
longer history, even when its generations are smaller. The newest backup is the one with the
latest time (then the highest generation). Rotation keeps the newest ``keep``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from registry.errors import StoreError
from registry.storage import db
from registry.storage.atomic import fsync_dir, store_error
from registry.storage.failpoints import failpoint

SUFFIX = ".sqlite3"


@dataclass(frozen=True, slots=True)
class Backup:
    """One backup file and what its name says.

    Attributes:
        path: the file.
        store_id: the lifetime id of the database it was taken from.
        generation: the generation it holds.
        stamp: the UTC time it was taken (``YYYYmmddTHHMMSSZ``).
    """

    path: Path
    store_id: str
    generation: int
    stamp: str

    @property
    def time(self) -> str:
        """The time as ISO-8601 (``2026-12-05T08:15:02Z``)."""
        s = self.stamp
        return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}Z"


def _pattern(stem: str) -> re.Pattern[str]:
    return re.compile(re.escape(stem) + r"\.([0-9a-f]{8,32})\.(\d{8,})\.(\d{8}T\d{6}Z)"
                      + re.escape(SUFFIX) + "$")


def list_backups(backup_dir: Path, stem: str) -> list[Backup]:
    """The backups of the registry named ``stem`` in ``backup_dir``, newest first.

    Args:
        backup_dir: the backups directory.
        stem: the database file's stem (``model_registry``).

    Returns:
        The backups (regular files whose names match), newest first.
    """
    try:
        names = os.listdir(backup_dir)  # noqa: PTH208 - names only, no Path per entry
    except OSError:
        return []
    pattern = _pattern(stem)
    found: list[Backup] = []
    for name in names:
        match = pattern.match(name)
        path = backup_dir / name
        if match and path.is_file() and not path.is_symlink():
            found.append(Backup(path, match.group(1), int(match.group(2)), match.group(3)))
    found.sort(key=lambda b: (b.stamp, b.generation, b.path.name), reverse=True)
    return found


def rotate(backup_dir: Path, stem: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups and fsync the directory.

    Raises:
        StoreError: a backup could not be deleted (step ``backup rotation``).
    """
    removed: list[Path] = []
    for old in list_backups(backup_dir, stem)[max(keep, 1):]:
        try:
            old.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise store_error(old.path, "backup rotation", exc) from exc
        removed.append(old.path)
    if removed:
        fsync_dir(backup_dir, for_file=backup_dir / stem, step="backup rotation")
    return removed


def utc_stamp() -> str:
    """The current UTC time as ``YYYYmmddTHHMMSSZ``."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def copy_database(source: sqlite3.Connection, target: Path) -> None:
    """Write a consistent copy of ``source``'s database to the new file ``target``, fsynced.

    Raises:
        StoreError: the copy failed (``target`` is removed).
    """
    try:
        dest = sqlite3.connect(os.fsencode(target), isolation_level=None)
        try:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dest.close()
        db.fsync_file(target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        raise store_error(target, "writing a backup", exc) from exc
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        raise db.translate(exc, target, "writing a backup", 0.0) from exc


def make_backup(conn: sqlite3.Connection, backup_dir: Path, *, stem: str, store_id: str,
                generation: int, keep: int) -> Path:
    """Back up the database of ``conn`` as generation ``generation``, then rotate.

    Args:
        conn: a connection to the registry database (not inside a write transaction).
        backup_dir: where backups go (created if needed).
        stem: the database file's stem.
        store_id: the database's lifetime id.
        generation: the generation it holds.
        keep: how many backups to keep.

    Returns:
        The backup's path (an existing one of the same name is left as it is).

    Raises:
        StoreError: a step failed; no partial backup is left under a backup name.
    """
    try:
        backup_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise store_error(backup_dir, "creating the backups directory", exc) from exc
    final = backup_dir / f"{stem}.{store_id}.{generation:08d}.{utc_stamp()}{SUFFIX}"
    temp = backup_dir / f".{final.name}.{os.getpid()}.tmp"
    copy_database(conn, temp)
    try:
        os.chmod(temp, 0o644)  # noqa: PTH101
        os.link(temp, final)  # never replaces an existing backup
    except FileExistsError:
        pass
    except OSError as exc:
        raise store_error(final, "keeping the backup", exc) from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    fsync_dir(backup_dir, for_file=final, step="backup")
    failpoint("during_backup_rotation")
    rotate(backup_dir, stem, keep)
    return final


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup holds (read from the file)."""

    generation: int
    models: int
    store_id: str
    problems: list[str]


def read_info(path: Path, timeout: float = 5.0) -> BackupInfo:
    """Open a backup read-only and check it (header, ``quick_check``, generation, count).

    Returns:
        Its info; ``problems`` is empty for a sound backup.
    """
    try:
        if not db.check_file(path):
            return BackupInfo(0, 0, "", ["missing"])
        conn = db.open_raw(path, timeout=timeout, readonly=True)
    except StoreError as exc:
        return BackupInfo(0, 0, "", [str(exc.args[0]) + (f": {exc.reason}" if exc.reason else "")])
    except sqlite3.Error as exc:
        return BackupInfo(0, 0, "", [str(exc)])
    try:
        problems = db.quick_check(conn)
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        models = int(conn.execute("SELECT count(*) FROM models WHERE deleted = 0").fetchone()[0])
        return BackupInfo(int(meta.get("generation", 0)), models, str(meta.get("store_id", "")),
                          problems)
    except (sqlite3.Error, ValueError) as exc:
        return BackupInfo(0, 0, "", [f"not a registry database: {exc}"])
    finally:
        conn.close()


__all__ = ["SUFFIX", "Backup", "BackupInfo", "copy_database", "list_backups", "make_backup",
           "read_info", "rotate", "utc_stamp"]

"""Online backups of the registry database: names, making, listing, reading, rotation.

A backup is a complete SQLite database made with SQLite's online backup API (a consistent
snapshot, taken while other connections read and write) into a temp file, then
stream-compressed with gzip (the fastest zlib level, :mod:`registry.storage.gzfiles`) into
a second temp file, which is fsynced and linked to its final name (never overwritten);
then the directory is fsynced. Names carry the store's lifetime id (a random id made when
the database was created), the generation and the UTC time::

    backups/model_registry.3f9a0c1e.00000041.20261205T081502Z.sqlite3.gz

so a registry started afresh (a new store id) can never overwrite the backups of an older,
longer history, even when its generations are smaller. Backups written before compression
(the same name without ``.gz``) are listed, checked and restored alike. The newest backup is
the one with the latest time (then the highest generation); rotation keeps the newest
``keep`` of either kind.

Reading a compressed backup (checking, listing, restoring) first decompresses it into a
private temp file (:func:`unpacked`, in the system's temp directory, removed afterwards); a
truncated or damaged ``.gz`` is reported as a problem of that backup, never installed.
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
from registry.storage.gzfiles import (
    GZ_SUFFIX,
    BackupUnreadableError,
    compress_file,
    decompress_file,
    is_compressed,
    unpacked,
)

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
    def compressed(self) -> bool:
        """Whether the file is a gzip-compressed backup (its name ends in ``.gz``)."""
        return self.path.name.endswith(GZ_SUFFIX)

    @property
    def time(self) -> str:
        """The time as ISO-8601 (``2026-12-05T08:15:02Z``)."""
        s = self.stamp
        return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}Z"


def _pattern(stem: str) -> re.Pattern[str]:
    return re.compile(re.escape(stem) + r"\.([0-9a-f]{8,32})\.(\d{8,})\.(\d{8}T\d{6}Z)"
                      + re.escape(SUFFIX) + "(?:" + re.escape(GZ_SUFFIX) + ")?$")


def list_backups(backup_dir: Path, stem: str) -> list[Backup]:
    """The backups of the registry named ``stem`` in ``backup_dir``, newest first.

    Args:
        backup_dir: the backups directory.
        stem: the database file's stem (``model_registry``).

    Returns:
        The backups (regular files whose names match, compressed or not), newest first.
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


def copy_database(source: sqlite3.Connection, target: Path, *, durable: bool = True) -> None:
    """Write a consistent, self-contained copy of ``source``'s database to the new file
    ``target`` (rollback journal mode, so it opens read-only without a ``-shm``).

    Args:
        source: a connection to the database to copy.
        target: the new file.
        durable: fsync it (off for a temp copy that is compressed and then deleted).

    Raises:
        StoreError: the copy failed (``target`` is removed).
    """
    try:
        dest = sqlite3.connect(os.fsencode(target), isolation_level=None)
        try:
            if not durable:  # a throwaway copy: no journal, no syncs while it is written
                dest.execute("PRAGMA journal_mode = OFF")
                dest.execute("PRAGMA synchronous = OFF")
            source.backup(dest)
            dest.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dest.close()
        if durable:
            db.fsync_file(target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        raise store_error(target, "writing a backup", exc) from exc
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        raise db.translate(exc, target, "writing a backup", 0.0) from exc


def install_copy(backup: Path, target: Path) -> None:
    """Write a durable, plain copy of the backup ``backup`` (compressed or not) to the new
    file ``target`` (the database's restore temp file).

    Raises:
        BackupUnreadableError: a compressed backup that cannot be decompressed.
        StoreError: the copy failed (``target`` is removed).
    """
    try:
        packed = is_compressed(backup)
    except OSError as exc:
        raise store_error(backup, "reading a backup", exc) from exc
    if packed:
        decompress_file(backup, target, durable=True)
        return
    src = db.open_raw(backup, timeout=5.0, readonly=True)
    try:
        copy_database(src, target)
    finally:
        src.close()


def make_backup(conn: sqlite3.Connection, backup_dir: Path, *, stem: str, store_id: str,
                generation: int, keep: int) -> Path:
    """Back up the database of ``conn`` as generation ``generation`` (compressed), then rotate.

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
    final = backup_dir / f"{stem}.{store_id}.{generation:08d}.{utc_stamp()}{SUFFIX}{GZ_SUFFIX}"
    raw = backup_dir / f".{final.name}.{os.getpid()}.raw.tmp"
    temp = backup_dir / f".{final.name}.{os.getpid()}.tmp"
    try:
        copy_database(conn, raw, durable=False)
        compress_file(raw, temp)
    finally:
        with contextlib.suppress(OSError):
            raw.unlink()
    try:
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


def _describe(exc: StoreError) -> str:
    return str(exc.args[0]) + (f": {exc.reason}" if exc.reason else "")


def read_info(path: Path, timeout: float = 5.0) -> BackupInfo:
    """Check a backup (decompressed first when it is compressed): header, ``quick_check``,
    generation, model count; opened read-only.

    Returns:
        Its info; ``problems`` is empty for a sound backup.
    """
    try:
        if not db.check_file(path):
            return BackupInfo(0, 0, "", ["missing"])
        with unpacked(path) as plain:
            return _read_plain(plain, timeout)
    except StoreError as exc:
        return BackupInfo(0, 0, "", [_describe(exc)])


def _read_plain(path: Path, timeout: float) -> BackupInfo:
    try:
        if not db.check_file(path):
            return BackupInfo(0, 0, "", ["missing"])
        conn = db.open_raw(path, timeout=timeout, readonly=True)
    except StoreError as exc:
        return BackupInfo(0, 0, "", [_describe(exc)])
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


__all__ = ["GZ_SUFFIX", "SUFFIX", "Backup", "BackupInfo", "BackupUnreadableError",
           "copy_database", "install_copy", "list_backups", "make_backup", "read_info",
           "rotate", "unpacked", "utc_stamp"]

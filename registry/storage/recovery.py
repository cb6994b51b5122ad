"""Recovery, restore and first-open creation of the registry database.

Helpers of :class:`registry.storage.store.RegistryStore` (they use its connection and lock state);
the store calls them while holding the writers' lock. See the store's module docstring for
the decisions taken here.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sqlite3
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from registry.errors import NotFoundError, StoreCorruptError, StoreError
from registry.model.records import utc_now
from registry.storage import backups as bk
from registry.storage import db, jsonimport
from registry.storage.atomic import fsync_dir, store_error

if TYPE_CHECKING:
    from registry.storage.store import RegistryStore

log = structlog.get_logger(__name__)


def _stamp() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def orphans_aside(store: RegistryStore) -> None:
    """Rename leftover ``-wal``/``-shm``/``-journal`` files of a missing database aside
    (a new database at the path must never replay another one's WAL)."""
    for suffix in ("-wal", "-shm", "-journal"):
        orphan = store.path.with_name(store.path.name + suffix)
        if orphan.exists():
            with contextlib.suppress(OSError):
                orphan.rename(orphan.with_name(f"{orphan.name}.orphan-{_stamp()}"))

def create_missing(store: RegistryStore) -> None:
    """Under the lock, with no database file: import, restore, or leave it to create."""
    store._cleanup_temps()
    orphans_aside(store)
    legacy = store._legacy_json()
    if legacy is not None:
        try:
            data = legacy.read_bytes()
        except OSError as exc:
            raise store_error(legacy, "reading the JSON registry to import", exc) from exc
        try:
            doc = jsonimport.decode_json(data)
        except jsonimport.NotImportableError as exc:
            if not store.backup_list():
                msg = (f"cannot import the JSON registry {legacy}: it was left in place; "
                       "fix it or move it aside to start empty")
                raise StoreCorruptError(msg, path=str(legacy), reason=str(exc)) from exc
            log.warning("json_registry_not_imported", path=str(legacy), problem=str(exc))
        else:
            jsonimport.build_database(store.path, doc, uuid.uuid4().hex[:16],
                                      timeout=store.timeout)
            kept = jsonimport.set_aside_json(legacy)
            log.warning("registry_imported", path=str(store.path), source=str(legacy),
                        kept_as=str(kept), models=len(doc.models))
            store._view_due = True
            return
    newest = newest_valid(store)
    if newest is not None:
        install(store, newest, reason="the registry database was missing")

def newest_valid(store: RegistryStore) -> tuple[bk.Backup, bk.BackupInfo] | None:
    """The newest backup that is a sound database, or ``None``."""
    for backup in store.backup_list():
        info = bk.read_info(backup.path, store.timeout)
        if not info.problems:
            return backup, info
        log.warning("backup_invalid", path=str(backup.path), problem="; ".join(info.problems))
    return None

def next_generation(store: RegistryStore, *generations: int) -> int:
    """One above every generation given and every backup's (generations only grow)."""
    names = [b.generation for b in store.backup_list()]
    return max([0, *generations, *names]) + 1

def install(store: RegistryStore, chosen: tuple[bk.Backup, bk.BackupInfo], *, reason: str) -> int:
    """Copy a backup into place as the database (no database file is there now)."""
    backup, info = chosen
    temp = store.path.with_name(f".{store.path.name}.restore-{os.getpid()}.tmp")
    bk.install_copy(backup.path, temp)
    generation = next_generation(store, info.generation)
    try:
        conn = db.open_raw(temp, timeout=store.timeout)
        try:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'",
                         (str(generation),))
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        db.fsync_file(temp)
        os.chmod(temp, 0o644)  # noqa: PTH101
        orphans_aside(store)
        os.replace(temp, store.path)  # noqa: PTH105 - the recipe's primitive
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise StoreError("cannot install the backup", path=str(backup.path),
                         reason=str(exc)) from exc
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise store_error(store.path, "installing the backup", exc) from exc
    fsync_dir(store.path.parent, for_file=store.path)
    log.warning("registry_restored_from_backup", path=str(store.path),
                backup=str(backup.path), generation=generation, reason=reason)
    store._view_due = True
    store._metadata_dirty |= {"*"}
    return generation

def set_aside(store: RegistryStore) -> Path:
    """Rename the database (and its WAL files) to ``<name>.corrupt-<UTC time>``."""
    store._close_writer()
    stamp = _stamp()
    target = store.path.with_name(f"{store.path.name}.corrupt-{stamp}")
    try:
        os.rename(store.path, target)  # noqa: PTH104
    except OSError as exc:
        raise store_error(store.path, "setting the corrupt database aside", exc) from exc
    for suffix in ("-wal", "-shm"):
        side = store.path.with_name(store.path.name + suffix)
        with contextlib.suppress(OSError):
            side.rename(store.path.with_name(f"{store.path.name}.corrupt-{stamp}{suffix}"))
    fsync_dir(store.path.parent, for_file=target)
    return target

def is_empty(store: RegistryStore) -> bool:
    """Whether the database file is empty with no WAL (it holds nothing)."""
    try:
        db.check_file(store.path)
    except db.EmptyDatabaseError:
        return True
    except StoreError:
        return False
    return False

def recover(store: RegistryStore, problem: str) -> None:
    """Under the lock: set a corrupt database aside and install the newest valid backup."""
    newest = newest_valid(store)
    if newest is None and is_empty(store):
        # An empty file holds nothing (e.g. a writer killed as it created the database):
        # keep it for inspection and start as if there were none.
        kept = set_aside(store)
        log.warning("empty_database_set_aside", path=str(store.path), kept_as=str(kept))
        create_missing(store)
        return
    if newest is None:
        msg = ("the registry database is corrupt and no valid backup exists; it was left "
               "in place: inspect it, restore a copy, or move it aside to start empty")
        raise StoreCorruptError(msg, path=str(store.path), reason=problem)
    kept = set_aside(store)
    log.warning("registry_recovered", path=str(store.path), corrupt_copy=str(kept),
                backup=str(newest[0].path), problem=problem)
    install(store, newest, reason=f"the registry database was corrupt: {problem}")


def pick(store: RegistryStore, backup: Path | None) -> tuple[bk.Backup, bk.BackupInfo]:
    """The backup to restore: ``backup`` (a path or a name in ``backups/``), or the newest
    valid one.

    Raises:
        NotFoundError: it does not exist, or there are no backups.
        StoreCorruptError: it (or every backup) is not a sound database.
    """
    if backup is None:
        if not store.backup_list():
            msg = f"no backups of {store.path.name} in {store.backup_dir}"
            raise NotFoundError(msg)
        found = newest_valid(store)
        if found is None:
            msg = "no backup of the registry is valid"
            raise StoreCorruptError(msg, path=str(store.backup_dir))
        return found
    path = Path(backup)
    if not path.exists() and not path.is_absolute():
        path = store.backup_dir / path
    if not path.is_file():
        msg = f"backup {backup} does not exist"
        raise NotFoundError(msg)
    info = bk.read_info(path, store.timeout)
    if info.problems:
        msg = "the backup is not a valid registry database"
        raise StoreCorruptError(msg, path=str(path), reason="; ".join(info.problems))
    return bk.Backup(path, info.store_id, info.generation, bk.utc_stamp()), info


Chosen = tuple[bk.Backup, bk.BackupInfo]
"""A backup and what reading it found."""


def restore_locked(store: RegistryStore, chosen: Chosen, actor: str) -> None:
    """Install ``chosen`` over the registry (caller holds the lock); see ``restore``."""
    healthy = False
    try:
        if db.check_file(store.path):
            conn = db.connect(store.path, timeout=store.timeout, create=False)
            store._conn = conn
            healthy = not db.quick_check(conn)
    except (db.NotADatabaseError, sqlite3.DatabaseError):
        healthy = False
    kept: Path | None = None
    if healthy and store._conn is not None:
        meta = dict(store._conn.execute("SELECT key, value FROM meta").fetchall())
        kept = bk.make_backup(store._conn, store.backup_dir, stem=store.path.stem,
                              store_id=str(meta.get("store_id")),
                              generation=int(meta.get("generation", 0)),
                              keep=max(store.config.backup_count, 1) + 1)
        copy_into_live(store, chosen, int(meta.get("generation", 0)))
    else:
        kept = set_aside(store) if store.path.exists() else None
        install(store, chosen, reason=f"restore requested by {actor}")
    store.restored_from = chosen[0].path
    log.warning("registry_restored", path=str(store.path), backup=str(chosen[0].path),
                previous_kept_as=str(kept) if kept else None, actor=actor)
    store._close_writer()
    store._checked = False
    conn = store._writer()
    doc = store._read_doc(conn, writable=False)
    store._metadata_dirty.add("*")
    if store.config.write_model_metadata:
        store._write_metadata(doc, set())
    store.write_view()


def copy_into_live(store: RegistryStore, chosen: Chosen, current: int) -> None:
    """Copy a backup into the live database through SQLite's backup API (its readers and
    writers keep working on the same file), then count the generation up."""
    conn = store._conn
    assert conn is not None
    try:
        store_id = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        with bk.unpacked(chosen[0].path) as plain:
            src = db.open_raw(plain, timeout=store.timeout, readonly=True)
            try:
                src.backup(conn)
            finally:
                src.close()
        generation = next_generation(store, current, chosen[1].generation)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                         [("generation", str(generation)), ("updated_at", utc_now()),
                          ("store_id", str(store_id[0] if store_id else ""))])
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise db.translate(exc, store.path, "restoring", store.timeout) from exc

"""Derived files written from a thread of their own: the service's metadata files, view and
backups, never on a save's path (:meth:`RegistryStore.flush_background`).

Helpers of :class:`registry.storage.store.RegistryStore` (they use its lock, its due flags and
its metadata writer, as :mod:`registry.storage.recovery` does). Decisions:

* The view is rendered without the writers' lock into ``.<view>.<pid>.staged`` beside it,
  then renamed into place under the lock, unless the view there is of the same database
  and a newer generation (a command in another process wrote it meanwhile): an older view
  never replaces a newer one.
* The metadata files of the models changed since the last flush are written under the lock
  from a read snapshot taken under it (the newest: no writer commits meanwhile).
* A backup needs no lock: SQLite's online backup copies one read snapshot, the name is
  unique (store id, generation, time) and linked without overwriting, and rotation only
  removes what is beyond the newest ``backup_count``.
* Staged files are not covered by the lock, so another process's start never deletes them
  while their writer lives: only those of processes that are gone are swept.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from registry.storage import db, jsonimport
from registry.storage.atomic import store_error
from registry.storage.view import read_view_header, write_view

if TYPE_CHECKING:
    from registry.storage.store import RegistryStore

log = structlog.get_logger(__name__)

PAUSE_STEPS = 20_000
"""SQLite virtual-machine steps between two calls of :meth:`RegistryStore.flush_background`'s
``pause``."""


def flush(store: RegistryStore, *, final: bool = False,
          pause: Callable[[], None] | None = None) -> None:
    """Write ``store``'s due derived files from the calling thread (module docstring).

    Like :meth:`RegistryStore.flush_derived` (the view at most every ``view_interval``, a
    backup every ``backup_interval``; ``final``: whatever is due), but from a new read
    connection, holding the writers' lock only for the metadata files and the view's rename.

    Args:
        final: write whatever is due now (on stop).
        pause: called every few thousand SQLite steps while the view is read; it may
            block to let another thread run first (the service: its worker's batch).

    Raises:
        StoreError: a derived file could not be written (it stays due; the database is
            unaffected).
    """
    now = time.monotonic()
    metadata = bool(store._metadata_dirty) and store.config.write_model_metadata
    with store._due_lock:
        view = store._view_due and (final or now - store._last_view >= store.view_interval)
        backup = store._backup_due and (final or now - store._last_backup >= store.backup_interval)
        if not (metadata or view or backup) or not store.path.exists():
            return
        store._view_due &= not view  # a commit from now on marks them due again
        store._backup_due &= not backup
    done = False
    try:
        conn = db.connect(store.path, timeout=store.timeout, create=False)
        try:
            if metadata:
                with store._lock.hold("metadata files"):
                    conn.execute("BEGIN")
                    try:
                        store._write_metadata(store._read_doc(conn, writable=False), set())
                    finally:
                        conn.execute("COMMIT")
            if view:
                install_view(store, conn, pause)
                view = False
            if backup:
                store._backup(force=True, conn=conn)
            done = True
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise db.translate(exc, store.path, "writing the derived files", store.timeout) from exc
    finally:
        if not done:
            with store._due_lock:
                store._view_due |= view
                store._backup_due |= backup


def install_view(store: RegistryStore, conn: sqlite3.Connection,
                 pause: Callable[[], None] | None) -> None:
    """Write the view from ``conn`` to a staged file, then rename it into place under the
    lock unless a newer view of the same database is there already."""
    staged = store.view_path.with_name(f".{store.view_path.name}.{os.getpid()}.staged")
    if pause is not None:  # only while reading: never while holding the lock
        conn.set_progress_handler(lambda: pause() or 0, PAUSE_STEPS)
    try:
        write_view(conn, staged)
    finally:
        conn.set_progress_handler(None, 0)
    ours = read_view_header(staged) or {}
    with store._lock.hold("view"):
        legacy = store._legacy_json()
        if legacy is not None:  # e.g. killed between the import's two renames: keep it
            kept = jsonimport.set_aside_json(legacy)
            log.warning("json_registry_kept", path=str(legacy), kept_as=str(kept))
        there = read_view_header(store.view_path) or {}
        if (there.get("store_id") == ours.get("store_id")
                and int(there.get("generation", -1)) > int(ours.get("generation", 0))):
            staged.unlink()  # a newer view is in place already
        else:
            try:
                os.replace(staged, store.view_path)  # noqa: PTH105 - the recipe's primitive
            except OSError as exc:
                with contextlib.suppress(OSError):
                    staged.unlink()
                raise store_error(store.view_path, "replace", exc) from exc
    store._last_view = time.monotonic()


def remove_dead_staged(view: Path) -> list[Path]:
    """Staged views (``.<view>.<pid>.staged``, and their temp files) of processes that are
    gone: a background view write is not covered by the lock, so only its owner's death
    makes its files leftovers."""
    removed: list[Path] = []
    for staged in view.parent.glob(f"*.{view.name}.*.staged*"):
        pid = staged.name.split(f"{view.name}.", 1)[1].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                staged.unlink()
                removed.append(staged)
        except OSError:
            continue  # alive (not ours to signal)
    return removed


__all__ = ["PAUSE_STEPS", "flush", "install_view", "remove_dead_staged"]

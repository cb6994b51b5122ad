"""The registry's storage interface: :class:`RegistryStore` over a SQLite database.

The use cases (scan, register, lifecycle, queries, API) call only this class:

* ``load()`` / ``load_index()``: a read-only snapshot (its own connection and read
  transaction: WAL readers never wait for a writer); entries are read on first access;
* ``transaction(actor=...)``: one ``BEGIN IMMEDIATE`` transaction; the block changes the
  yielded document in place and the changed models' rows are written and committed on exit
  (nothing on an exception). The caller's acknowledgement comes after ``COMMIT``;
* ``restore()``, ``verify()``, ``backups()``, ``write_summary()``, ``metadata_path()``.

Files (``config.registry_file`` names the JSON view, as ``--registry`` always has):

* the database is that path with the suffix ``.sqlite3`` (``model_registry.sqlite3`` next
  to ``model_registry.json``): :func:`database_path`;
* the view ``model_registry.json`` and the per-model metadata files are derived and written
  after the commit (see :mod:`registry.storage.view`, :mod:`registry.storage.metafiles`);
* ``backups/`` holds online backups (:mod:`registry.storage.backups`), made after a
  committed write at most every ``backup_interval`` seconds (0: after every write, the CLI;
  the service sets a few minutes) and on :meth:`RegistryStore.close`.

Decisions:

* Writers also hold the registry filelock (``<db>.lock``, with its ``.lock.owner`` sidecar)
  for the transaction and the derived-file writes that follow it: one writer at a time
  writes the derived files, a busy registry names its holder, and a nested transaction in
  one thread is refused instead of waiting for itself. Readers take no lock.
* A missing database is created on the first write, except that a JSON registry of an
  older version at the view path is imported first (:mod:`registry.storage.jsonimport`)
  and, with backups present, the newest valid backup is restored (loudly) instead of
  starting empty. A read of a registry that does not exist returns an empty document and
  creates nothing.
* A database that is not a regular file (FIFO, directory, symlink loop) is refused with a
  clear error and never opened. One that is not a SQLite database or fails ``quick_check``
  (run on a store's first write, in ``verify`` and after any corruption error) is renamed
  to ``<name>.corrupt-<UTC time>`` and the newest valid backup installed, with a warning;
  with no valid backup it is left in place and :class:`StoreCorruptError` raised. An
  empty file with no WAL (a writer killed as it created the database) holds nothing: it is
  set aside and the registry starts as if there were none.
* Per store object (one CLI command, one scan, the service), the first write also sweeps
  crash-leftover temp files and rewrites missing metadata files; later writes touch only
  what they changed (a listing of a 10,000-model output folder costs more than a batch).
* The SQL lives in :mod:`registry.storage`; recovery and restore are in
  :mod:`registry.storage.recovery`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog

from registry.config import Config
from registry.errors import StoreError
from registry.model.records import RegistryDoc, utc_now
from registry.storage import background, codec, db, jsonimport, recovery
from registry.storage import backups as bk
from registry.storage.atomic import ensure_dir, remove_stale_temps, write_atomic
from registry.storage.failpoints import failpoint
from registry.storage.locking import RegistryLock
from registry.storage.metafiles import metadata_body, readable_chunks, write_metadata_files
from registry.storage.models import SqlModels
from registry.storage.view import write_view

log = structlog.get_logger(__name__)

SUMMARY_FILENAME = "model_registry_summary.json"
BACKUP_DIRNAME = "backups"
DB_SUFFIX = ".sqlite3"

PruneHook = Callable[[RegistryDoc, int], bool]
"""``hook(doc, max_bytes) -> changed``: shrink ``doc`` toward ``max_bytes`` when it is too big."""


def database_path(config: Config) -> Path:
    """The database file of ``config``: ``registry_file`` with the suffix ``.sqlite3``."""
    view = config.registry_file
    return view if view.suffix == DB_SUFFIX else view.with_suffix(DB_SUFFIX)


def view_path(config: Config) -> Path:
    """The JSON view of ``config``: ``registry_file`` (``.json`` when it names the database)."""
    view = config.registry_file
    return view.with_suffix(".json") if view.suffix == DB_SUFFIX else view


def check_model_id(model_id: str) -> None:
    """Refuse a model id that could escape the output directory.

    Raises:
        StoreError: the id is empty, ``.``, ``..`` or contains ``/`` or NUL.
    """
    if model_id in ("", ".", "..") or "/" in model_id or "\0" in model_id:
        msg = f"refusing to write metadata for unsafe model id {model_id!r}"
        raise StoreError(msg, reason="model ids must be directory-safe")


def _head(doc: RegistryDoc) -> tuple[Any, ...]:
    return (doc.generation, doc.updated_at, doc.last_scan_at, tuple(doc.roots))


def _stamp() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")


class RegistryStore:
    """Durable storage of one registry (module docstring).

    Attributes:
        config: the settings used.
        path: the database file (:func:`database_path`).
        view_path: the derived JSON view (``config.registry_file``).
        lock_path / owner_path: the writers' filelock and its owner sidecar.
        backup_dir: where backups go (``registry_dir / "backups"``).
        prune_hook: optional hook called when the database is over
            ``config.max_registry_size`` MB.
        backup_interval: least seconds between two backups (0: after every write).
        write_view_now: write the view after each commit (off in the service, which calls
            :meth:`flush_derived` to coalesce it to at most one per ``view_interval``).
        derived_in_background: commits only mark the metadata files, the view and backups
            due; another thread writes them with :meth:`flush_background` (the service: a
            save is acknowledged after its commit, never after a derived file is written).
        keep_writer: keep the writer connection open between transactions (the service:
            no reopening, and no WAL checkpoint on each close); it is reopened when the
            database file was replaced meanwhile (a restore or recovery by another process).
    """

    def __init__(self, config: Config) -> None:
        """Describe the registry of ``config`` (nothing is read or created yet)."""
        self.config = config
        self.path: Path = database_path(config)
        self.view_path: Path = view_path(config)
        self.lock_path: Path = self.path.with_name(self.path.name + ".lock")
        self.owner_path: Path = self.path.with_name(self.path.name + ".lock.owner")
        self.backup_dir: Path = config.registry_dir / BACKUP_DIRNAME
        self.prune_hook: PruneHook | None = None
        self.backup_interval: float = 0.0
        self.write_view_now: bool = True
        self._metadata_dirty: set[str] = set()
        self._metadata_checked = False
        self._cleaned = False
        self._lock = RegistryLock(self.lock_path, self.owner_path, config)
        self._conn: sqlite3.Connection | None = None
        self._checked = False
        self._last_backup = float("-inf")
        self._backup_due = False
        self._view_due = False
        self._last_view = float("-inf")
        self.view_interval: float = 1.0
        self.restored_from: Path | None = None
        self.derived_in_background: bool = False
        self.keep_writer: bool = False
        self._conn_file: tuple[int, int] | None = None
        self._due_lock = threading.Lock()

    @property
    def timeout(self) -> float:
        """The busy timeout in seconds (``config.lock_timeout``)."""
        return float(self.config.lock_timeout)

    # -- presence --------------------------------------------------------------------------

    def _legacy_json(self) -> Path | None:
        view = self.view_path
        try:
            with view.open("rb") as handle:
                head = handle.read(4096)
        except OSError:
            return None
        return None if b'"store_id"' in head and b'"schema_version":2' in head else view

    def exists(self) -> bool:
        """Whether there is a registry here: a database, a JSON registry to import, or
        backups to restore (nothing is created)."""
        try:
            if db.check_file(self.path):
                return True
        except StoreError:
            return True
        return self._legacy_json() is not None or bool(self.backup_list())

    def health(self) -> str | None:
        """Why the database is not usable (missing, not a database, failing
        ``quick_check``), or ``None`` when it is sound. Read-only."""
        try:
            if not db.check_file(self.path):
                return f"no registry database at {self.path}"
            conn = db.open_raw(self.path, timeout=self.timeout, readonly=False)
        except (StoreError, sqlite3.Error) as exc:
            return str(exc)
        try:
            problems = db.quick_check(conn)
        except sqlite3.Error as exc:
            return str(exc)
        finally:
            conn.close()
        return "; ".join(problems) if problems else None

    def backup_list(self) -> list[bk.Backup]:
        """The backups, newest first."""
        return bk.list_backups(self.backup_dir, self.path.stem)

    def backups(self) -> list[Path]:
        """The backup files, newest first."""
        return [b.path for b in self.backup_list()]

    # -- creating a missing database -------------------------------------------------------

    # -- connections -----------------------------------------------------------------------

    def _close_writer(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Write what is still due (the coalesced view, a pending backup) and close the
        writer connection. Call on stop."""
        self.flush_derived(final=True)
        self._close_writer()

    def check(self, *, actor: str = "gnn-registry") -> None:
        """Do now, under the lock, what this store's first write would do first.

        The database is opened (created, imported or restored from a backup when missing)
        and checked with ``quick_check`` (set aside and restored from a backup when corrupt);
        crash-leftover temp files are swept and missing metadata files rewritten. The
        service calls it at start, so that its first save does not wait for any of it.

        Raises:
            StoreBusyError: the lock was not taken in time.
            StoreCorruptError: the database and every backup are corrupt.
            StoreError: a step failed.
        """
        with self._lock.hold(actor), self._session() as conn:
            if not self._cleaned:
                self._cleanup_temps()
                self._cleaned = True
            if self.config.write_model_metadata and not self._metadata_checked:
                try:
                    conn.execute("BEGIN")
                    self._write_metadata(self._read_doc(conn, writable=False), set())
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise db.translate(exc, self.path, "checking the metadata files",
                                       self.timeout) from exc

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        """The writer connection for one unit of work (caller holds the lock); closed after."""
        conn = self._writer()
        kept = False
        try:
            yield conn
            kept = self.keep_writer
        finally:
            if not kept:
                self._close_writer()

    def _open_checked(self) -> sqlite3.Connection:
        fresh = not db.check_file(self.path)
        if fresh:
            recovery.create_missing(self)
        conn = db.connect(self.path, timeout=self.timeout, create=True)
        try:
            if not self._checked:
                problems = db.quick_check(conn)
                if problems:
                    msg = "the registry database fails its integrity check"
                    raise db.NotADatabaseError(msg, path=str(self.path),
                                               reason="; ".join(problems[:3]))
            if fresh or not self._checked:  # once per store (one commit), not per batch
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('store_id', ?)",
                             (uuid.uuid4().hex[:16],))
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
                codec.ensure_fts(conn)
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.close()
            raise db.translate(exc, self.path, "checking the database", self.timeout) from exc
        except BaseException:
            conn.close()
            raise
        self._checked = True
        return conn

    def _file_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)  # noqa: PTH116 - one syscall per transaction
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _writer(self) -> sqlite3.Connection:
        """The writer connection (caller holds the lock), recovering a corrupt database."""
        if self._conn is not None:
            if self._file_id() == self._conn_file:
                return self._conn
            self._close_writer()  # a kept connection to a file that was replaced meanwhile
        ensure_dir(self.path.parent, for_file=self.path)
        try:
            self._conn = self._open_checked()
        except db.NotADatabaseError as exc:
            recovery.recover(self, str(exc))
            self._checked = False
            self._conn = self._open_checked()
        self._conn_file = self._file_id()
        return self._conn

    def _reader(self) -> sqlite3.Connection | None:
        """A new read connection, or ``None`` when there is no registry at all."""
        try:
            present = db.check_file(self.path)
        except db.NotADatabaseError as exc:
            with self._lock.hold("recovery"):
                self._writer_recovering(str(exc))
            present = True
        if not present:
            if self._legacy_json() is None and not self.backup_list():
                return None
            with self._lock.hold("recovery"):
                self._writer()
        try:
            return db.connect(self.path, timeout=self.timeout, create=False)
        except db.NotADatabaseError as exc:
            with self._lock.hold("recovery"):
                self._writer_recovering(str(exc))
            return db.connect(self.path, timeout=self.timeout, create=False)
        except FileNotFoundError:
            return None

    def _writer_recovering(self, problem: str) -> None:
        try:
            if db.check_file(self.path):
                conn = db.connect(self.path, timeout=self.timeout, create=False)
                try:
                    bad = db.quick_check(conn)
                finally:
                    conn.close()
                if not bad:
                    return  # another process recovered it meanwhile
        except db.NotADatabaseError:
            pass
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
        self._close_writer()
        recovery.recover(self, problem)

    # -- documents -------------------------------------------------------------------------

    def _read_doc(self, conn: sqlite3.Connection, *, writable: bool) -> RegistryDoc:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        roots = [codec.dec(r[0]) for r in conn.execute("SELECT path FROM roots ORDER BY position")]
        last_scan = meta.get("last_scan_at")
        models = SqlModels(conn, self.path, writable=writable, timeout=self.timeout)
        return RegistryDoc(models=models, generation=int(meta.get("generation", 0)),
                           updated_at=str(meta.get("updated_at", "")), roots=roots,
                           last_scan_at=json.loads(last_scan) if last_scan else None)

    def load(self) -> RegistryDoc:
        """A read-only snapshot of the registry (no lock; entries are read on access).

        Returns:
            The document; an empty one when there is no registry (nothing is created).

        Raises:
            StoreCorruptError: the database is corrupt and no backup is valid.
            StoreError: the database cannot be opened (not a regular file, newer schema...).
        """
        for attempt in range(2):
            conn = self._reader()
            if conn is None:
                return RegistryDoc()
            try:
                conn.execute("BEGIN")
                doc = self._read_doc(conn, writable=False)
            except sqlite3.Error as exc:
                conn.close()
                err = db.translate(exc, self.path, "reading the registry", self.timeout)
                if attempt or not isinstance(err, db.NotADatabaseError):
                    raise err from exc
                with self._lock.hold("recovery"):
                    self._writer_recovering(str(err))
                continue
            weakref.finalize(doc.models, conn.close)
            return doc
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def release(doc: RegistryDoc) -> None:
        """Close the connection of a snapshot from :meth:`load` now (its decoded entries,
        ids and index rows read so far stay usable)."""
        if isinstance(doc.models, SqlModels):
            doc.models.close()

    def load_index(self) -> RegistryDoc:
        """The same snapshot as :meth:`load` (index rows come from one query on demand)."""
        return self.load()

    @contextmanager
    def transaction(self, *, actor: str = "gnn-registry") -> Iterator[RegistryDoc]:
        """One write transaction (``BEGIN IMMEDIATE``) under the writers' lock.

        Yields the document; on normal exit the changed models' rows, the header and a new
        generation are committed when anything changed, then the derived files are written.
        On an exception inside the block everything is rolled back.

        Raises:
            StoreBusyError: the lock or the database was not taken within the timeout.
            StoreCorruptError: the database and every backup are corrupt.
            StoreError: a write step failed (nothing was committed).
            RuntimeError: a transaction on this registry is already open in this thread.
        """
        with self._lock.hold(actor), self._session() as conn:
            if not self._cleaned:  # crash leftovers: once per store object (a listing of
                self._cleanup_temps()  # the output folder costs O(models))
                self._cleaned = True
            try:
                doc = self._begin(conn)
            except db.NotADatabaseError as exc:
                self._close_writer()
                self._writer_recovering(str(exc))
                doc = self._begin(self._writer())
            before = _head(doc)
            try:
                yield doc
                changed = self._commit(doc, before, actor)
                self._after_commit(doc, changed)
            finally:
                with contextlib.suppress(sqlite3.Error):
                    if self._conn is not None and self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                if isinstance(doc.models, SqlModels):
                    doc.models.detach()
                if not self.keep_writer:
                    self._close_writer()

    def _begin(self, conn: sqlite3.Connection) -> RegistryDoc:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return self._read_doc(conn, writable=True)
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            raise db.translate(exc, self.path, "starting a transaction", self.timeout) from exc

    def _commit(self, doc: RegistryDoc, before: tuple[Any, ...],
                actor: str) -> set[str] | None:
        conn = self._conn
        assert conn is not None
        try:
            changed, removed = doc.models.take_changes()
            if not changed and not removed and _head(doc) == before:
                conn.execute("ROLLBACK")
                return None
            limit = int(self.config.max_registry_size * 1024 * 1024)
            size = self._db_size(conn)
            if size > limit:
                if self.prune_hook is not None and self.prune_hook(doc, limit):
                    more, gone = doc.models.take_changes()
                    changed |= more
                    removed |= gone
                else:  # nothing (more) to prune: written all the same, and said so
                    log.warning("registry_over_size", path=str(self.path), size=size,
                                limit=limit)
            if self.config.write_model_metadata:
                for mid in changed:
                    check_model_id(mid)
            doc.generation = max(doc.generation, int(before[0])) + 1
            doc.updated_at = utc_now()
            self._write_head(conn, doc)
            failpoint("before_db_commit")
            db.commit(conn)
        except sqlite3.Error as exc:
            raise db.translate(exc, self.path, "committing", self.timeout) from exc
        failpoint("after_db_commit")
        # Debug: the per-file events it covers are logged after it (a change is acknowledged
        # after its commit); the batch or scan event follows them.
        log.debug("registry_written", path=str(self.path), generation=doc.generation,
                  changed_models=len(changed), removed_models=len(removed), actor=actor)
        return changed

    @staticmethod
    def _db_size(conn: sqlite3.Connection) -> int:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        return pages * int(conn.execute("PRAGMA page_size").fetchone()[0])

    @staticmethod
    def _write_head(conn: sqlite3.Connection, doc: RegistryDoc) -> None:
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                         [("generation", str(doc.generation)), ("updated_at", doc.updated_at),
                          ("last_scan_at", json.dumps(doc.last_scan_at))])
        stored = [codec.dec(r[0]) for r in conn.execute("SELECT path FROM roots ORDER BY position")]
        if stored != list(doc.roots):
            conn.execute("DELETE FROM roots")
            conn.executemany("INSERT INTO roots (position, path) VALUES (?, ?)",
                             [(i, codec.enc(r)) for i, r in enumerate(doc.roots)])

    def _after_commit(self, doc: RegistryDoc, changed: set[str] | None) -> None:
        """Derived files after a transaction (still under the lock)."""
        if changed is not None:
            self._backup_due = True
            self._view_due = True
        if self.config.write_model_metadata:
            if self.derived_in_background:  # under the lock, like flush_background's write
                self._metadata_dirty |= changed or set()
            else:
                self._write_metadata(doc, changed or set())
        if self.derived_in_background:  # written by flush_background, in another thread
            return
        if self._view_due and self.write_view_now:
            self.write_view()
        if self._backup_due:
            self._backup(force=False)

    # -- derived files ---------------------------------------------------------------------

    def write_view(self) -> None:
        """Write ``model_registry.json`` from the database now (caller holds the lock or
        accepts a concurrent rewrite; each write is atomic)."""
        conn = self._conn
        if conn is None:
            return
        legacy = self._legacy_json()
        if legacy is not None:  # e.g. killed between the import's two renames: keep it
            kept = jsonimport.set_aside_json(legacy)
            log.warning("json_registry_kept", path=str(legacy), kept_as=str(kept))
        try:
            write_view(conn, self.view_path)
        except sqlite3.Error as exc:
            raise db.translate(exc, self.path, "writing the view", self.timeout) from exc
        self._view_due = False
        self._last_view = time.monotonic()

    def flush_derived(self, *, final: bool = False) -> None:
        """Write the derived files that are due (takes the lock when there is work).

        With ``write_view_now`` off (the service), commits only mark the view stale; this
        writes it at most every ``view_interval`` seconds, and a backup at most every
        ``backup_interval``; ``final`` (on stop) writes whatever is still due.

        Raises:
            StoreError: a derived file could not be written (the database is unaffected).
        """
        now = time.monotonic()
        view = self._view_due and (final or now - self._last_view >= self.view_interval)
        backup = self._backup_due and (final or now - self._last_backup >= self.backup_interval)
        if not (view or backup) or not self.path.exists():
            return
        with self._lock.hold("derived files"), self._session():
            if view:
                self.write_view()
            if backup:
                self._backup(force=True)

    def flush_background(self, *, final: bool = False,
                         pause: Callable[[], None] | None = None) -> None:
        """Write the due derived files from a thread of their own (``derived_in_background``):
        see :func:`registry.storage.background.flush`.

        Raises:
            StoreError: a derived file could not be written (it stays due).
        """
        background.flush(self, final=final, pause=pause)

    def _backup(self, *, force: bool, conn: sqlite3.Connection | None = None) -> None:
        if not (self.config.registry_backup and self.config.backup_count > 0):
            self._backup_due = False
            return
        now = time.monotonic()
        if not force and now - self._last_backup < self.backup_interval:
            return
        conn = conn or self._conn
        if conn is None:
            return
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        bk.make_backup(conn, self.backup_dir, stem=self.path.stem,
                       store_id=str(meta.get("store_id", "0" * 16)),
                       generation=int(meta.get("generation", 0)), keep=self.config.backup_count)
        self._last_backup = now
        self._backup_due = False

    def _cleanup_temps(self) -> None:
        removed = remove_stale_temps(self.view_path.parent, self.view_path.name)
        for pattern in (f".{self.path.name}.*.tmp", f".{self.path.name}.*.tmp-journal"):
            for tmp in self.path.parent.glob(pattern):
                with contextlib.suppress(OSError):
                    tmp.unlink()
                    removed.append(tmp)
        if self.backup_dir.is_dir():
            for tmp in self.backup_dir.glob(f".{self.path.stem}.*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
                    removed.append(tmp)
        removed += background.remove_dead_staged(self.view_path)
        if removed:
            log.info("stale_temp_files_removed", path=str(self.path),
                     files=[str(p) for p in removed])

    def metadata_path(self, model_id: str) -> Path:
        """``registry_dir/<model_id>/<model_id>_metadata.json``.

        Raises:
            StoreError: the id is not directory-safe.
        """
        check_model_id(model_id)
        return self.config.registry_dir / model_id / f"{model_id}_metadata.json"

    def _write_metadata(self, doc: RegistryDoc, changed: set[str]) -> None:
        models = doc.models
        every = "*" in self._metadata_dirty
        self._metadata_dirty.discard("*")
        todo = {mid for mid in changed | self._metadata_dirty if mid in models}
        base = os.fspath(self.config.registry_dir)
        # The first write of this store object (a CLI command, a scan, the service's start)
        # also rewrites metadata files that went missing or empty: one stat per model, once.
        check = every or not self._metadata_checked
        self._metadata_checked = True
        for mid in models if check else ():
            if every:
                todo.add(mid)
            elif mid not in todo:
                try:  # missing, or empty (not fsynced, then a power loss): rewrite it
                    if not os.stat(f"{base}/{mid}/{mid}_metadata.json").st_size:  # noqa: PTH116
                        todo.add(mid)
                except OSError:
                    todo.add(mid)
        pending = sorted(todo)
        self._metadata_dirty = set(pending)
        write_metadata_files(self._metadata_items(doc, pending), count=len(pending))
        self._metadata_dirty.clear()
        if pending:
            failpoint("after_metadata_write")

    def _metadata_items(self, doc: RegistryDoc,
                        pending: list[str]) -> Iterator[tuple[Path, bytes]]:
        for mid in pending:
            path = self.metadata_path(mid)
            remove_stale_temps(path.parent, path.name)
            # same_family links are derived from the family key at read time: a file that
            # listed them would go stale whenever another member came or went
            yield path, metadata_body(doc.models.raw(mid, family=False))

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Atomically write ``registry_dir/model_registry_summary.json`` (a report: no fsync).

        Raises:
            StoreError: the write failed (the previous summary is left intact).
        """
        target = self.config.registry_dir / SUMMARY_FILENAME
        write_atomic(target, readable_chunks(summary), durable=False)
        return target

    # -- operator commands -----------------------------------------------------------------

    def restore(self, backup: Path | None = None, *,
                actor: str = "gnn-registry") -> RegistryDoc:
        """Replace the registry's content with a backup, under the lock.

        The current database is backed up first (or set aside as ``.corrupt-`` when it is
        not sound). The restored registry gets generation ``max(every backup's) + 1``.

        Args:
            backup: a backup file (a path, or a name inside ``backup_dir``); the newest
                valid backup when ``None``.
            actor: who asked (logged).

        Returns:
            The restored document (a snapshot).

        Raises:
            NotFoundError: the named backup does not exist, or there are no backups.
            StoreCorruptError: the named backup (or every backup) is not valid.
            StoreBusyError: the lock was not taken in time.
            StoreError: a write step failed.
        """
        with self._lock.hold(actor):
            self._cleanup_temps()
            chosen = recovery.pick(self, backup)
            try:
                recovery.restore_locked(self, chosen, actor)
            finally:
                self._close_writer()
        return self.load()

    def verify(self) -> list[str]:
        """Integrity problems of the database, its backups, the view and metadata files.

        Read-only, safe while writers are active.

        Returns:
            One human-readable line per problem; empty when everything checks out.
        """
        from registry.storage.verify import verify  # noqa: PLC0415 - keeps this module short

        return verify(self)


__all__ = ["BACKUP_DIRNAME", "DB_SUFFIX", "SUMMARY_FILENAME", "PruneHook", "RegistryStore",
           "check_model_id", "database_path", "view_path"]

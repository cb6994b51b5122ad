"""The only code that reads and writes the registry file: lock, load, atomic write, backups.

:class:`RegistryStore` wraps one registry file (``config.registry_file``):

* ``load()`` reads without the lock (the file is only ever replaced atomically);
* ``transaction()`` is the read-modify-write under the filelock: it yields the document and
  writes it back, with a rotated backup first, only when its JSON changed;
* ``restore()``, ``verify()``, ``backups()`` and ``write_summary()`` serve the CLI.

Decisions where the brief was silent:

* Recovery (a registry that does not decode) first hard-links the bad file to
  ``<name>.corrupt-<UTC timestamp>`` and then replaces it with the newest valid backup, so the
  registry path never disappears under a lock-free reader. The installed document gets a
  generation above every backup's, so generations stay monotonic and backup names unique.
  Per-model metadata files are then rewritten from the recovered document.
* With no valid backup, the corrupt file is **left in place** and ``StoreCorruptError`` is
  raised every time, rather than moved aside (the next run would then start empty and the
  operator might not notice).
* A missing registry file is an empty document even when backups exist (per the brief);
  ``verify()`` reports that case.
* Locking uses one new ``FileLock`` per transaction (its own descriptor), so threads of one
  process exclude each other through the kernel just as processes do. A nested transaction
  for the same registry path in the same thread (on any store object) raises RuntimeError
  instead of waiting for itself until the timeout.
* ``<registry>.lock.owner`` holds ``{"pid", "host", "actor", "since"}`` of the current holder;
  it is informational (written without fsync) and removed by its owner before release.
* Metadata files are written for models whose JSON changed, plus any whose earlier write
  failed in this process, plus any whose file is missing (one ``stat`` per write for each
  model not already due). Their bodies are built one at a time as they are written.
  Files of models that vanished from the document are left alone (models are
  tombstoned, not dropped, by the registry layer).
  They are derived copies of registry entries: the registry file is the durable record
  (field-notes: "the registry file is the source of truth"), so their durability is
  batched (see :func:`registry.metafiles.write_metadata_files`).
* The document of our own last write (or full load) is kept as encoded lines (in memory,
  or spilled to an unnamed temp file by a large write, see :mod:`registry.spill`). A
  later ``load()`` or ``transaction()`` reuses it, without reading or verifying the file,
  when the file's device, inode, size, mtime_ns and first line (which holds the generation
  and the checksums) are unchanged; under the lock for a transaction. The service's
  save->registered latency then does not grow with the registry.
* A commit streams the registry file to its temp file in chunks (never joined in memory)
  and builds each metadata file's body just before writing it.
* ``load_index()`` reads only the header and the index rows (the scanner's lock-free pass);
  the model lines are read from the same open file on first access.
* ``restore()`` always keeps the current file as a backup first, even with backups turned
  off in the config: it is an explicit operator action and must be undoable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from registry import recovery
from registry.atomic import remove_stale_temps, write_atomic
from registry.backups import InvalidRegistryError, decode, list_backups, make_backup
from registry.config import Config
from registry.docfile import encoding, read_index
from registry.errors import StoreError
from registry.failpoints import failpoint
from registry.locking import RegistryLock
from registry.metafiles import metadata_body, readable_chunks, write_metadata_files
from registry.records import ModelMap, RegistryDoc, utc_now

log = structlog.get_logger(__name__)

SUMMARY_FILENAME = "model_registry_summary.json"
BACKUP_DIRNAME = "backups"

PruneHook = Callable[[RegistryDoc, int], bool]
"""``hook(doc, max_bytes) -> changed``: shrink ``doc`` toward ``max_bytes`` when it is too big."""



def _head(doc: RegistryDoc) -> tuple[Any, ...]:
    return (doc.schema_version, doc.generation, doc.updated_at, doc.last_scan_at,
            tuple(doc.roots))


@dataclass(frozen=True, slots=True)
class _Cached:
    """The encoded document of our last write or full load, and what identified the file."""

    key: tuple[int, int, int, int]
    first_line: bytes
    head: tuple[Any, ...]
    models: ModelMap

    def doc(self) -> RegistryDoc:
        schema_version, generation, updated_at, last_scan_at, roots = self.head
        return RegistryDoc(models=self.models.copy_encoded(), generation=generation,
                           updated_at=updated_at, roots=list(roots), last_scan_at=last_scan_at,
                           schema_version=schema_version)


def _file_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def check_model_id(model_id: str) -> None:
    """Refuse a model id that could escape the output directory.

    Args:
        model_id: the id.

    Raises:
        StoreError: the id is empty, ``.``, ``..`` or contains ``/`` or NUL.
    """
    if model_id in ("", ".", "..") or "/" in model_id or "\0" in model_id:
        msg = f"refusing to write metadata for unsafe model id {model_id!r}"
        raise StoreError(msg, reason="model ids must be directory-safe")


class RegistryStore:
    """Durable, locked storage of one registry file.

    Attributes:
        config: the settings used.
        path: the registry file.
        lock_path: the filelock's lock file (``path + ".lock"``).
        owner_path: informational sidecar naming the lock holder (``path + ".lock.owner"``).
        backup_dir: where rotated backups go (``registry_dir / "backups"``).
        prune_hook: optional hook called when the serialised registry is over
            ``config.max_registry_size`` MB.
    """

    def __init__(self, config: Config) -> None:
        """Wrap the registry named by ``config`` (nothing is read or created yet).

        Args:
            config: settings (registry path, backups, lock, metadata files).
        """
        self.config = config
        self.path: Path = config.registry_file
        self.lock_path: Path = self.path.with_name(self.path.name + ".lock")
        self.owner_path: Path = self.path.with_name(self.path.name + ".lock.owner")
        self.backup_dir: Path = config.registry_dir / BACKUP_DIRNAME
        self.prune_hook: PruneHook | None = None
        self._metadata_dirty: set[str] = set()
        self._cached: _Cached | None = None
        self._lock = RegistryLock(self.lock_path, self.owner_path, config)


    def _read_bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError("cannot read the registry", path=str(self.path),
                             reason=exc.strerror or str(exc)) from exc

    def _remember(self, doc: RegistryDoc, first_line: bytes, size: int) -> None:
        """Cache ``doc`` (flushed, fully loaded) as the content of the file just read/written.

        Args:
            doc: the document.
            first_line: the file's first line (without the newline), as read or written.
            size: the file's length, as read or written.
        """
        self._cached = None
        try:
            st = self.path.stat()
        except OSError:
            return
        if st.st_size != size:
            return
        with suppress(RuntimeError):
            self._cached = _Cached(_file_key(st), first_line, _head(doc),
                                   doc.models.copy_encoded())

    def _remember_read(self, doc: RegistryDoc, data: bytes) -> None:
        self._remember(doc, data[:data.find(b"\n")], len(data))

    def _from_cache(self) -> RegistryDoc | None:
        cached = self._cached
        if cached is None:
            return None
        try:
            st = self.path.stat()
            if _file_key(st) != cached.key:
                return None
            with self.path.open("rb") as handle:
                first = handle.readline().rstrip(b"\n")
        except OSError:
            return None
        return cached.doc() if first == cached.first_line else None

    def load_index(self) -> RegistryDoc:
        """Read the header and index rows only (entries are read on first access).

        Falls back to :meth:`load` when the file is in another layout or does not verify.

        Returns:
            The document (entries decode lazily; an access may raise ``LazyLoadError``
            when the file turns out not to verify).

        Raises:
            Same as :meth:`load`.
        """
        cached = self._from_cache()
        if cached is not None:
            return cached
        try:
            doc = read_index(self.path)
        except FileNotFoundError:
            return RegistryDoc()
        return doc if doc is not None else self.load()

    def load(self) -> RegistryDoc:
        """Read the registry without taking the lock.

        Returns:
            The document; an empty one when the file does not exist.

        Raises:
            StoreCorruptError: the file does not decode and no backup does either.
            StoreBusyError: recovery was needed and the lock could not be taken.
            StoreError: the file cannot be read.
        """
        cached = self._from_cache()
        if cached is not None:
            return cached
        data = self._read_bytes()
        if data is None:
            return RegistryDoc()
        try:
            doc = decode(data)
        except InvalidRegistryError:
            pass
        else:
            self._remember_read(doc, data)
            return doc
        with self._lock.hold("recovery"):
            return self._load_locked()

    def _load_locked(self) -> RegistryDoc:
        cached = self._from_cache()
        if cached is not None:
            return cached
        data = self._read_bytes()
        if data is None:
            self._cached = None
            return RegistryDoc()
        try:
            doc = decode(data)
        except InvalidRegistryError as exc:
            doc = recovery.recover(self, str(exc))
        else:
            self._remember_read(doc, data)
            return doc
        self._cached = None
        if self.config.write_model_metadata:
            self._write_metadata(doc, set(doc.models))
        return doc


    def _cleanup_temps(self) -> None:
        removed = remove_stale_temps(self.path.parent, self.path.name)
        removed += remove_stale_temps(self.backup_dir, f"{self.path.stem}.*{self.path.suffix}")
        if removed:
            log.info("stale_temp_files_removed", path=str(self.path),
                     files=[str(p) for p in removed])


    @contextmanager
    def transaction(self, *, actor: str = "gnn-registry") -> Iterator[RegistryDoc]:
        """Read-modify-write the registry under the lock.

        Yields the loaded (or recovered) document. On normal exit, if its JSON changed, the
        generation is incremented, ``updated_at`` set, the current file kept as a backup,
        the registry replaced atomically and changed models' metadata files written. On an
        exception inside the block nothing is written and the exception propagates.

        Args:
            actor: who is writing (logged, and named in the lock owner file).

        Yields:
            The document to change in place.

        Raises:
            StoreBusyError: the lock was not taken within ``config.lock_timeout``.
            StoreCorruptError: the registry and every backup are corrupt.
            StoreError: a write step failed (the previous registry is left intact, except
                for metadata files, which are written after the registry).
            RuntimeError: a transaction on this registry is already open in this thread.
        """
        with self._lock.hold(actor):
            self._cleanup_temps()
            doc = self._load_locked()
            before = _head(doc)
            on_disk = self.path.exists()
            yield doc
            self._commit(doc, before, actor, backup_current=on_disk)

    def _commit(self, doc: RegistryDoc, before: tuple[Any, ...], actor: str, *,
                backup_current: bool) -> None:
        doc.models.flush()
        changed, removed = doc.models.take_changes()
        if not changed and not removed and _head(doc) == before:
            return
        loaded_generation = int(before[1])
        doc.generation = max(doc.generation, loaded_generation) + 1
        doc.updated_at = utc_now()
        data = encoding(doc)
        limit = int(self.config.max_registry_size * 1024 * 1024)
        if data.size > limit and self.prune_hook is not None and self.prune_hook(doc, limit):
            data = encoding(doc)
            more, gone = doc.models.take_changes()
            changed |= more
            removed |= gone
        if data.size > limit:
            log.warning("registry_over_size", path=str(self.path), size=data.size, limit=limit)
        if self.config.write_model_metadata:
            for mid in changed:
                check_model_id(mid)
        if backup_current and self.config.registry_backup and self.config.backup_count > 0:
            make_backup(self.path, self.backup_dir, loaded_generation, self.config.backup_count)
        self._cached = None
        write_atomic(self.path, data.chunks(), crash_points=True)  # streamed, never joined
        self._remember(doc, data.first_line, data.size)
        failpoint("after_registry_write")
        # Debug: the per-file events it covers are logged after it (a change is acknowledged
        # after its commit), so at info it read backwards; the batch/scan event follows them.
        log.debug("registry_written", path=str(self.path), generation=doc.generation,
                 models=len(doc.models), changed_models=len(changed), size=data.size,
                 actor=actor)
        if self.config.write_model_metadata:
            self._write_metadata(doc, changed)


    def metadata_path(self, model_id: str) -> Path:
        """Where the metadata file of ``model_id`` goes.

        Args:
            model_id: the model id.

        Returns:
            ``registry_dir/<model_id>/<model_id>_metadata.json``.

        Raises:
            StoreError: the id is not directory-safe.
        """
        check_model_id(model_id)
        return self.config.registry_dir / model_id / f"{model_id}_metadata.json"

    def _write_metadata(self, doc: RegistryDoc, changed: set[str]) -> None:
        models = doc.models
        todo = {mid for mid in changed | self._metadata_dirty if mid in models}
        base = os.fspath(self.config.registry_dir)
        for mid in models:  # plain stat calls, only for models not already due: every write
            if mid not in todo:
                try:
                    os.stat(f"{base}/{mid}/{mid}_metadata.json")  # noqa: PTH116 - hot loop
                except OSError:
                    todo.add(mid)
        pending = sorted(todo)
        self._metadata_dirty = set(pending)
        write_metadata_files(self._metadata_items(doc, pending), count=len(pending))
        self._metadata_dirty.clear()

    def _metadata_items(self, doc: RegistryDoc,
                        pending: list[str]) -> Iterator[tuple[Path, bytes]]:
        """Each pending model's target and body, built one at a time (never all held)."""
        for mid in pending:
            path = self.metadata_path(mid)
            # Crash leftovers of an earlier metadata write (we hold the lock).
            remove_stale_temps(path.parent, path.name)
            yield path, metadata_body(doc.models.raw(mid))


    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Atomically write ``registry_dir/model_registry_summary.json``.

        Args:
            summary: a JSON-serialisable dict (non-JSON values are written with ``str``).

        Returns:
            The summary file's path.

        Raises:
            StoreError: the write failed (the previous summary is left intact).
        """
        target = self.config.registry_dir / SUMMARY_FILENAME
        # Streamed (it may list 10,000 changes); a report, not a record: no fsync.
        write_atomic(target, readable_chunks(summary), durable=False)
        return target

    def backups(self) -> list[Path]:
        """The registry's backups, newest first.

        Returns:
            Paths in ``backup_dir`` named ``<stem>.<generation>.json``.
        """
        return [path for _generation, path in list_backups(self.backup_dir, self.path)]

    def restore(self, backup: Path | None = None, *,
                actor: str = "gnn-registry") -> RegistryDoc:
        """Replace the registry with a backup, under the lock.

        The current file is kept first (as a backup, or as a ``.corrupt-`` copy when it does
        not decode). The restored document gets generation ``max(current, backup, every
        backup's) + 1``.

        Args:
            backup: the backup file (a path, or a name inside ``backup_dir``); the newest
                valid backup when ``None``.
            actor: who asked (logged).

        Returns:
            The restored document.

        Raises:
            NotFoundError: the named backup does not exist, or there are no backups.
            StoreCorruptError: the named backup (or every backup) does not decode.
            StoreBusyError: the lock was not taken in time.
            StoreError: a write step failed.
        """
        with self._lock.hold(actor):
            self._cleanup_temps()
            self._cached = None
            doc = recovery.restore(self, backup, actor)
            if self.config.write_model_metadata:
                self._write_metadata(doc, set(doc.models))
            return doc

    def verify(self) -> list[str]:
        """Integrity problems of the registry file, its backups and metadata files.

        Returns:
            One human-readable line per problem; empty when everything checks out.
        """
        return recovery.verify(self)


__all__ = ["BACKUP_DIRNAME", "SUMMARY_FILENAME", "PruneHook", "RegistryStore",
           "check_model_id"]

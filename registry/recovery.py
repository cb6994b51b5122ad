"""Recovery from a corrupt registry, restore from a backup, and the integrity check.

Helpers of :class:`registry.store.RegistryStore`; the store calls them while holding the
registry lock (``verify`` excepted, which only reads). See the store's module docstring for
the decisions taken here.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from registry.atomic import fsync_dir, store_error, write_atomic
from registry.backups import (
    InvalidRegistryError,
    decode,
    encode,
    list_backups,
    make_backup,
    read_backup,
)
from registry.errors import NotFoundError, StoreCorruptError, StoreError
from registry.records import RegistryDoc, utc_now
from registry.schemacheck import check_document

if TYPE_CHECKING:
    from registry.store import RegistryStore

log = structlog.get_logger(__name__)


def set_aside(path: Path) -> Path:
    """Keep a copy of a bad registry file as ``<name>.corrupt-<UTC timestamp>``.

    The copy is a hard link, so ``path`` itself stays in place until the caller replaces
    it (a lock-free reader never finds the registry missing). Never overwrites a copy.

    Args:
        path: the bad file.

    Returns:
        The copy's path.

    Raises:
        StoreError: no copy could be made.
    """
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    for attempt in range(100):
        suffix = f".corrupt-{stamp}" + (f"-{attempt}" if attempt else "")
        target = path.with_name(path.name + suffix)
        try:
            os.link(path, target)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                raise store_error(target, "keeping the corrupt file", exc) from exc
            if target.exists():
                continue
            try:
                data = path.read_bytes()
            except OSError as read_exc:
                raise store_error(target, "keeping the corrupt file", read_exc) from read_exc
            write_atomic(target, data)
            return target
        fsync_dir(path.parent, for_file=target)
        return target
    msg = "cannot find a free name for the corrupt copy"
    raise StoreError(msg, path=str(path))


def _newest_valid(store: RegistryStore) -> tuple[Path, RegistryDoc] | None:
    for _generation, path in list_backups(store.backup_dir, store.path):
        try:
            return path, read_backup(path)
        except (InvalidRegistryError, StoreError) as exc:
            log.warning("backup_invalid", path=str(path), problem=str(exc))
    return None


def _next_generation(store: RegistryStore, *generations: int) -> int:
    names = [gen for gen, _path in list_backups(store.backup_dir, store.path)]
    return max([0, *generations, *names]) + 1


def recover(store: RegistryStore, problem: str) -> RegistryDoc:
    """Replace a corrupt registry with its newest valid backup (caller holds the lock).

    Args:
        store: the store.
        problem: why the registry file did not decode (for the log and errors).

    Returns:
        The recovered document, already written.

    Raises:
        StoreCorruptError: no backup decodes; the corrupt file is left where it is.
        StoreError: writing failed.
    """
    found = _newest_valid(store)
    if found is None:
        msg = ("the registry file is corrupt and no valid backup exists; it was left in "
               "place: inspect it, restore a copy, or move it aside to start empty")
        raise StoreCorruptError(msg, path=str(store.path), reason=problem)
    backup, doc = found
    corrupt_copy = set_aside(store.path)
    doc.generation = _next_generation(store, doc.generation)
    doc.updated_at = utc_now()
    write_atomic(store.path, encode(doc))
    log.warning("registry_recovered", path=str(store.path), corrupt_copy=str(corrupt_copy),
                backup=str(backup), generation=doc.generation, problem=problem)
    return doc


def _pick(store: RegistryStore, backup: Path | None) -> tuple[Path, RegistryDoc]:
    if backup is None:
        if not list_backups(store.backup_dir, store.path):
            msg = f"no backups of {store.path.name} in {store.backup_dir}"
            raise NotFoundError(msg)
        found = _newest_valid(store)
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
    try:
        return path, read_backup(path)
    except InvalidRegistryError as exc:
        msg = "the backup is not a valid registry"
        raise StoreCorruptError(msg, path=str(path), reason=str(exc)) from exc


def restore(store: RegistryStore, backup: Path | None, actor: str) -> RegistryDoc:
    """Install a backup as the registry (caller holds the lock); see ``RegistryStore.restore``.

    Args:
        store: the store.
        backup: the backup to install, or ``None`` for the newest valid one.
        actor: who asked.

    Returns:
        The restored document, already written.
    """
    source, doc = _pick(store, backup)
    current_generation = 0
    kept: Path | None = None
    try:
        data: bytes | None = store.path.read_bytes()
    except FileNotFoundError:
        data = None
    except OSError as exc:
        raise store_error(store.path, "reading the registry", exc) from exc
    if data is not None:
        try:
            current_generation = decode(data).generation
        except InvalidRegistryError:
            kept = set_aside(store.path)
        else:
            kept = make_backup(store.path, store.backup_dir, current_generation,
                               max(store.config.backup_count, 1))
    doc.generation = _next_generation(store, current_generation, doc.generation)
    doc.updated_at = utc_now()
    write_atomic(store.path, encode(doc), crash_points=True)
    log.warning("registry_restored", path=str(store.path), backup=str(source),
                previous_kept_as=str(kept) if kept else None, generation=doc.generation,
                actor=actor)
    return doc


def _check_file(path: Path, label: str) -> tuple[RegistryDoc | None, bytes, list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, b"", [f"{label}: cannot read: {exc.strerror or exc}"]
    try:
        doc = decode(data)
    except InvalidRegistryError as exc:
        return None, data, [f"{label}: {exc}"]
    problems = [f"{label}: schema: {p}" for p in check_document(json.loads(data))]
    return doc, data, problems


def verify(store: RegistryStore) -> list[str]:
    """Problems of the registry file, its backups (parse, schema, generation order) and the
    per-model metadata files (present).

    Args:
        store: the store.

    Returns:
        One line per problem.
    """
    problems: list[str] = []
    backups = list_backups(store.backup_dir, store.path)
    doc: RegistryDoc | None = None
    data = b""
    if store.path.exists():
        doc, data, found = _check_file(store.path, str(store.path))
        problems += found
    elif backups:
        problems.append(f"{store.path}: missing, but {len(backups)} backup(s) exist "
                        "(run restore to reinstate the newest)")
    for generation, path in backups:
        backup_doc, backup_data, found = _check_file(path, str(path))
        problems += found
        if backup_doc is not None and backup_doc.generation != generation:
            problems.append(f"{path}: holds generation {backup_doc.generation}, "
                            f"but its name says {generation}")
        # Equal generations are legitimate after a crash between keeping the backup and
        # replacing the registry: then both names hold the same content.
        if doc is not None and backup_doc is not None and (
                generation > doc.generation or (generation == doc.generation
                                                and backup_data != data)):
            problems.append(f"{path}: generation {generation} is not older than the "
                            f"registry's ({doc.generation})")
    if doc is not None and store.config.write_model_metadata:
        for mid in sorted(doc.models):
            try:
                meta = store.metadata_path(mid)
            except StoreError as exc:
                problems.append(f"model {mid!r}: {exc}")
                continue
            if not meta.is_file():
                problems.append(f"model {mid}: metadata file {meta} is missing")
    return problems


__all__ = ["recover", "restore", "set_aside", "verify"]

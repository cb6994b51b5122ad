"""First-open import of a JSON registry into a new database.

Two layouts are recognised:

* this project's schema-1 ``model_registry.json`` (``schema_version: 1``, ``models`` keyed by
  id holding :meth:`~registry.model.entries.ModelEntry.to_dict` entries, including deleted models
  whose ids stay reserved), read through :meth:`registry.model.records.RegistryDoc.from_dict`;
* the GNN pipeline's reference step-4 registry (top-level ``models`` keyed by id, each with
  ``model_id``, ``name``, ``description``, ``current_version``, ``tags``, ``metadata``,
  ``created_at``, ``updated_at`` and ``versions`` keyed by version string holding
  ``version``, ``hash``, ``created_at``, ``metadata``), see :func:`from_step4`.

The new database is built in a temp file in the same directory, fsynced and renamed into
place; only then is the JSON file renamed to ``<name>.v1-imported`` (kept, never deleted). A
kill at any point leaves either the old JSON registry (the temp file is swept later) or the
finished database (and, if the kill fell between the two renames, a JSON file the next open
sees is already imported: a database exists, so it is renamed aside then).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import structlog

from registry.errors import StoreError
from registry.model.entries import HistoryEvent, ModelEntry, VersionRecord
from registry.model.modelmap import ModelMap
from registry.model.records import RegistryDoc
from registry.storage import codec, db, schema
from registry.storage.atomic import fsync_dir, store_error
from registry.storage.failpoints import failpoint

log = structlog.get_logger(__name__)

IMPORTED_SUFFIX = ".v1-imported"
"""Appended to the name of a JSON registry once it has been imported."""

MAX_DEPTH = 64
"""Nesting deeper than this is refused before decoding (a hostile file must not recurse)."""


class NotImportableError(ValueError):
    """The JSON file is not a registry this build can import; ``str()`` says why."""


def _too_deep(text: str) -> bool:
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def is_view(data: Any) -> bool:
    """Whether decoded JSON is this project's derived view (schema_version 2)."""
    return isinstance(data, dict) and data.get("schema_version") == 2 and "store_id" in data


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (1 << 30,)


def from_step4(data: dict[str, Any]) -> RegistryDoc:
    """A document from the reference step-4 registry layout (module docstring).

    Raises:
        NotImportableError: a model does not have the expected fields.
    """
    models: dict[str, ModelEntry] = {}
    try:
        for key, raw in data["models"].items():
            mid = str(raw.get("model_id") or key)
            created = str(raw.get("created_at") or "")
            updated = str(raw.get("updated_at") or created)
            meta = dict(raw.get("metadata") or {})
            path = str(meta.get("file_path") or raw.get("file_path") or "")
            versions: list[VersionRecord] = []
            for vkey in sorted(raw.get("versions") or {}, key=_version_key):
                v = raw["versions"][vkey]
                vmeta = dict(v.get("metadata") or {})
                versions.append(VersionRecord(
                    version=str(v.get("version") or vkey), sha256=str(v.get("hash") or ""),
                    registered_at=str(v.get("created_at") or created),
                    file_path=str(vmeta.get("file_path") or path),
                    file_size_bytes=int(vmeta.get("file_size", 0) or 0),
                    change="initial" if not versions else "declared", metadata=vmeta))
            current = str(raw.get("current_version") or (versions[-1].version if versions
                                                         else "1.0.0"))
            record = next((v for v in versions if v.version == current), None)
            models[mid] = ModelEntry(
                model_id=mid, model_name=str(raw.get("name") or mid), file_path=path,
                file_size_bytes=record.file_size_bytes if record else 0,
                registered_at=created, updated_at=updated, version=current,
                tags=[str(t) for t in raw.get("tags") or []],
                description=str(raw.get("description") or ""), metadata=meta,
                versions=versions, sha256=record.sha256 if record else "",
                history=[HistoryEvent(at=updated or created, event="imported",
                                      actor="gnn-registry",
                                      details={"source": "step-4 registry"})])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        msg = f"not a step-4 registry: {exc}"
        raise NotImportableError(msg) from exc
    return RegistryDoc(models=ModelMap(models))


def decode_json(data: bytes) -> RegistryDoc:
    """The document in a JSON registry file's bytes (either layout).

    Raises:
        NotImportableError: not JSON, too deeply nested, a view, or neither layout.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"not UTF-8: {exc}"
        raise NotImportableError(msg) from exc
    if _too_deep(text):
        msg = f"JSON nested deeper than {MAX_DEPTH} levels"
        raise NotImportableError(msg)
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = f"not valid JSON: {exc}"
        raise NotImportableError(msg) from exc
    if is_view(raw):
        msg = "a derived view of a registry database, not a registry"
        raise NotImportableError(msg)
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
        msg = "no 'models' object"
        raise NotImportableError(msg)
    if raw.get("schema_version") == 1:
        try:
            return RegistryDoc.from_dict(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            msg = f"does not match the registry schema: {detail}"
            raise NotImportableError(msg) from exc
    if "schema_version" in raw:
        msg = f"unsupported schema_version {raw.get('schema_version')!r}"
        raise NotImportableError(msg)
    return from_step4(raw)


def write_doc(conn: sqlite3.Connection, doc: RegistryDoc, store_id: str) -> None:
    """Write a whole document into an empty database (inside the caller's transaction)."""
    for mid in doc.models:
        codec.write_entry(conn, doc.models[mid])
    conn.executemany("INSERT INTO roots (path) VALUES (?)", [(codec.enc(r),) for r in doc.roots])
    meta = {"generation": str(doc.generation), "updated_at": doc.updated_at,
            "last_scan_at": json.dumps(doc.last_scan_at), "store_id": store_id}
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))


def build_database(target: Path, doc: RegistryDoc, store_id: str, *, timeout: float) -> None:
    """Create the database ``target`` from ``doc``: temp file, fsync, rename, dir fsync.

    Raises:
        StoreError: a step failed (the temp file is removed; ``target`` is untouched).
    """
    temp = target.with_name(f".{target.name}.import-{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        temp.unlink()
    try:
        conn = db.open_raw(temp, timeout=timeout)
        try:
            schema.migrate(conn, path=str(temp))
            conn.execute("BEGIN IMMEDIATE")
            write_doc(conn, doc, store_id)
            codec.ensure_fts(conn)
            conn.execute("COMMIT")
            failpoint("during_migration")
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        db.fsync_file(temp)
        os.chmod(temp, 0o644)  # noqa: PTH101
        failpoint("before_migration_rename")
        os.replace(temp, target)  # noqa: PTH105 - the recipe's primitive
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise StoreError("cannot build the registry database", path=str(target),
                         reason=str(exc)) from exc
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise store_error(target, "building the registry database", exc) from exc
    fsync_dir(target.parent, for_file=target, step="migration")


def set_aside_json(source: Path) -> Path:
    """Rename an imported JSON registry to ``<name>.v1-imported`` (never over another)."""
    target = source.with_name(source.name + IMPORTED_SUFFIX)
    attempt = 0
    while target.exists():
        attempt += 1
        target = source.with_name(f"{source.name}{IMPORTED_SUFFIX}-{attempt}")
    try:
        os.rename(source, target)  # noqa: PTH104
    except OSError as exc:
        raise store_error(source, "keeping the imported JSON registry", exc) from exc
    fsync_dir(source.parent, for_file=target, step="migration")
    return target


__all__ = ["IMPORTED_SUFFIX", "MAX_DEPTH", "NotImportableError", "build_database", "decode_json",
           "from_step4", "is_view", "set_aside_json", "write_doc"]

"""The derived view ``model_registry.json``: the seed's registry file, compact (schema 2).

Written from the database by SQL (summary columns, version numbers and hashes, tags,
aliases: no structure snapshots, findings or history; each model's ``metadata`` cut to
its small scalars by :func:`compact_metadata`) and replaced atomically with
:func:`registry.storage.atomic.write_atomic`. It is regenerable, so it is not fsynced: a crash may
leave the previous view, which ``verify`` reports as stale and the next write replaces.
The layout is ``registry/schema/registry.schema.json``; deleted models are left out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from registry.storage.atomic import write_atomic
from registry.storage.codec import dec, jload
from registry.storage.failpoints import failpoint

VIEW_SCHEMA_VERSION = 2

SMALL_TEXT = 128
"""Longest string a compact ``metadata`` object keeps (longer ones are left to the store)."""

REPEATED_KEYS = frozenset({"model_name", "description", "tags", "sha256"})
"""``metadata`` keys that repeat a model-level field (``sha256``: the current version's)."""


def compact_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The small part of a model's ``metadata`` written to the derived files.

    Kept: numbers, booleans and strings of at most :data:`SMALL_TEXT` characters (the
    seed's ``variables`` and ``connections`` counts, ``gnn_section``, ``language_version``,
    ``author``, ``license``, ``declared_version``, ``signature`` (the family key),
    ``model_index``/``model_count``...). Dropped: keys in :data:`REPEATED_KEYS`, ``null``,
    lists and objects (declared dependencies are relationships; sections and structure are
    in the store) and long strings. The store keeps everything; ``show`` prints it.

    Args:
        metadata: the model-level metadata.

    Returns:
        A new dict, keys in their original order.
    """
    return {key: value for key, value in metadata.items()
            if key not in REPEATED_KEYS and (
                isinstance(value, bool | int | float)
                or (isinstance(value, str) and len(value) <= SMALL_TEXT))}

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _grouped(conn: sqlite3.Connection, sql: str) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in conn.execute(sql):
        out.setdefault(dec(row[0]), []).append(row[1:])
    return out


def header(conn: sqlite3.Connection) -> dict[str, Any]:
    """The view's header fields as the database has them now."""
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    return {"schema_version": VIEW_SCHEMA_VERSION,
            "generation": int(meta.get("generation", 0)),
            "updated_at": str(meta.get("updated_at", "")),
            "store_id": str(meta.get("store_id", ""))}


def _chunks(conn: sqlite3.Connection) -> Iterator[bytes]:
    head = header(conn)
    yield (_encode(head)[:-1] + ',"models":{').encode("utf-8")
    versions = _grouped(conn, "SELECT model_id, version, sha256, registered_at, change "
                              "FROM versions ORDER BY model_id, seq")
    tags = _grouped(conn, "SELECT model_id, tag FROM tags ORDER BY model_id, position")
    aliases = _grouped(conn, "SELECT model_id, alias, version FROM aliases "
                             "ORDER BY model_id, alias")
    first = True
    for (mid, name, path, size, registered_at, updated_at, version, state, description,
         metadata) in conn.execute(
            "SELECT id, name, path, size, registered_at, updated_at, version, state, "
            "description, metadata FROM models WHERE deleted = 0 ORDER BY id"):
        model_id = dec(mid)
        entry = {
            "model_id": model_id, "model_name": dec(name), "file_path": dec(path),
            "file_size_bytes": size, "registered_at": registered_at,
            "updated_at": updated_at, "version": dec(version), "state": state,
            "tags": [dec(t) for (t,) in tags.get(model_id, [])],
            "aliases": {dec(a): dec(v) for a, v in aliases.get(model_id, [])},
            "description": dec(description),
            "metadata": compact_metadata(jload(metadata) or {}),
            "versions": [{"version": dec(v), "sha256": s, "registered_at": at, "change": c}
                         for v, s, at, c in versions.get(model_id, [])],
        }
        sep = "" if first else ",\n"
        first = False
        try:
            yield (sep + _encode(model_id) + ":" + _encode(entry)).encode("utf-8")
        except UnicodeEncodeError:  # a non-UTF-8 file name: ASCII JSON escapes keep it
            yield (sep + json.dumps(model_id) + ":" + json.dumps(entry)).encode("ascii")
    yield b"}}\n"


def write_view(conn: sqlite3.Connection, target: Path) -> None:
    """Write the view of the database of ``conn`` to ``target`` (one read transaction).

    Raises:
        StoreError: the file could not be written (the previous view stays).
    """
    conn.execute("BEGIN")
    try:
        write_atomic(target, _chunks(conn), durable=False)
    finally:
        conn.execute("COMMIT")
    failpoint("after_view_write")


def read_view_header(path: Path) -> dict[str, Any] | None:
    """``schema_version``, ``generation`` and ``store_id`` of a view file, or ``None``."""
    try:
        with path.open("rb") as handle:
            first = handle.read(512)
    except OSError:
        return None
    end = first.find(b',"models":')
    if end < 0:
        return None
    try:
        value = json.loads(first[:end] + b"}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


__all__ = ["REPEATED_KEYS", "SMALL_TEXT", "VIEW_SCHEMA_VERSION", "compact_metadata", "header",
           "read_view_header", "write_view"]

"""One model's rows <-> :class:`~registry.entries.ModelEntry`, and the text encoding.

A model is one ``models`` row (the model-level fields, the file stat, the family key and a
``summary``: the model's index row as JSON, what scans and ``list`` need without touching
other tables) plus its rows in ``versions`` (the structure snapshot in its own column),
``history``, ``aliases``, ``tags`` and ``relationships``.

``same_family`` edges are not stored: the ``family`` column (the structural signature of the
current version) is the group key, and :func:`read_entry` derives the edges from the other
members of the group with the same rule as :mod:`registry.relations` (a mesh up to
:data:`~registry.relations.MESH_LIMIT` members, else a star around the smallest id).

Text: SQLite stores TEXT as UTF-8, which cannot hold the lone surrogates that stand for the
bytes of a non-UTF-8 file name. :func:`enc` therefore stores such a string as a BLOB of its
``surrogatepass`` bytes and :func:`dec` turns it back; every other string stays TEXT.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from registry.entries import FileStat, HistoryEvent, ModelEntry, Relationship, VersionRecord
from registry.relations import group_links
from registry.rowcodec import current_metadata, index_row

Text = str | bytes


def enc(value: str) -> Text:
    """``value`` as stored: TEXT, or a BLOB when it holds lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")
    return value


def dec(value: Text | None) -> str:
    """Inverse of :func:`enc` (``None`` reads as the empty string)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return str(value)


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def jdump(value: Any) -> Text:
    """Compact JSON of ``value`` as stored (see :func:`enc`)."""
    return enc(_ENCODE(value))


def jload(value: Text | None) -> Any:
    """Inverse of :func:`jdump` (``None`` reads as ``None``)."""
    return None if value is None else json.loads(dec(value))


MODEL_COLUMNS = ("id", "name", "path", "source_index", "size", "registered_at", "updated_at",
                 "version", "state", "description", "sha256", "st_size", "st_mtime_ns",
                 "st_inode", "st_device", "st_recorded_ns", "deleted", "family", "findings",
                 "metadata", "summary")

_UPSERT = (f"INSERT INTO models ({', '.join(MODEL_COLUMNS)}) VALUES "
           f"({', '.join('?' for _ in MODEL_COLUMNS)}) ON CONFLICT (id) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in MODEL_COLUMNS[1:]))


def family_of(entry: ModelEntry) -> str:
    """The family key of ``entry``: the structural signature of its current version."""
    signature = current_metadata(entry).get("signature")
    if isinstance(signature, str) and signature:
        return signature
    record = entry.current
    return record.signature if record is not None else ""


def _model_values(entry: ModelEntry, summary: dict[str, Any]) -> tuple[Any, ...]:
    st = entry.file_stat
    stat: tuple[int | None, ...] = ((st.size, st.mtime_ns, st.inode, st.device, st.recorded_ns)
                                    if st is not None else (None,) * 5)
    return (enc(entry.model_id), enc(entry.model_name), enc(entry.file_path),
            entry.source_index, entry.file_size_bytes, entry.registered_at, entry.updated_at,
            enc(entry.version), entry.state, enc(entry.description), entry.sha256, *stat,
            int(entry.deleted), enc(str(summary.get("signature") or "")),
            jdump(entry.findings), jdump(entry.metadata), jdump(summary))


def write_entry(conn: sqlite3.Connection, entry: ModelEntry) -> dict[str, Any]:
    """Insert or replace every row of ``entry`` (inside the caller's transaction).

    Returns:
        The model's index row (stored as its ``summary``).
    """
    summary = index_row(entry)
    mid = enc(entry.model_id)
    conn.execute(_UPSERT, _model_values(entry, summary))
    for table in ("versions", "history", "aliases", "tags", "relationships"):
        conn.execute(f"DELETE FROM {table} WHERE model_id = ?", (mid,))  # noqa: S608
    version_rows = []
    for seq, rec in enumerate(entry.versions):
        meta = dict(rec.metadata)
        structure = meta.pop("structure", None)
        version_rows.append((mid, seq, enc(rec.version), rec.sha256, rec.registered_at,
                             enc(rec.file_path), rec.file_size_bytes, rec.change, jdump(meta),
                             None if structure is None else jdump(structure),
                             jdump(rec.findings), enc(rec.signature), int(rec.pruned)))
    conn.executemany("INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", version_rows)
    conn.executemany(
        "INSERT INTO history VALUES (?,?,?,?,?,?,?)",
        [(mid, seq, ev.at, enc(ev.event), enc(ev.actor),
          None if ev.reason is None else enc(ev.reason), jdump(ev.details))
         for seq, ev in enumerate(entry.history)])
    conn.executemany("INSERT INTO aliases VALUES (?,?,?)",
                     [(mid, enc(a), enc(v)) for a, v in entry.aliases.items()])
    conn.executemany("INSERT INTO tags VALUES (?,?,?)",
                     [(mid, pos, enc(t)) for pos, t in enumerate(entry.tags)])
    conn.executemany("INSERT INTO relationships VALUES (?,?,?,?)",
                     [(mid, pos, enc(r.type), enc(r.target))
                      for pos, r in enumerate(entry.relationships)
                      if r.type != "same_family"])
    return summary


def delete_entry(conn: sqlite3.Connection, model_id: str) -> None:
    """Delete a model and (by cascade) all its rows."""
    conn.execute("DELETE FROM models WHERE id = ?", (enc(model_id),))


def _version(row: sqlite3.Row | tuple[Any, ...]) -> VersionRecord:
    (version, sha, at, path, size, change, meta, structure, findings, signature, pruned) = row
    metadata = jload(meta) or {}
    if structure is not None:
        metadata["structure"] = jload(structure)
    return VersionRecord(version=dec(version), sha256=sha, registered_at=at,
                         file_path=dec(path), file_size_bytes=int(size), change=change,
                         metadata=metadata, findings=jload(findings) or [],
                         signature=dec(signature), pruned=bool(pruned))


def family_members(conn: sqlite3.Connection, family: str) -> list[str]:
    """Ids of the live, not removed models of a family, sorted."""
    rows = conn.execute("SELECT id FROM models WHERE family = ? AND deleted = 0 AND "
                        "state <> 'removed' ORDER BY id", (enc(family),)).fetchall()
    return [dec(r[0]) for r in rows]


def read_entry(conn: sqlite3.Connection, model_id: str) -> ModelEntry | None:
    """The model ``model_id`` read from its rows, or ``None`` when there is none."""
    mid = enc(model_id)
    row = conn.execute(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE id = ?",  # noqa: S608
                       (mid,)).fetchone()
    if row is None:
        return None
    (_id, name, path, source_index, size, registered_at, updated_at, version, state,
     description, sha, st_size, st_mtime, st_inode, st_device, st_recorded, deleted, family,
     findings, metadata, _summary) = row
    stat = (FileStat(st_size, st_mtime, st_inode, st_device, st_recorded or 0)
            if st_size is not None else None)
    versions = [_version(r) for r in conn.execute(
        "SELECT version, sha256, registered_at, path, size, change, metadata, structure, "
        "findings, signature, pruned FROM versions WHERE model_id = ? ORDER BY seq", (mid,))]
    history = [HistoryEvent(at=at, event=dec(event), actor=dec(actor),
                            reason=None if reason is None else dec(reason),
                            details=jload(details) or {})
               for at, event, actor, reason, details in conn.execute(
                   "SELECT at, event, actor, reason, details FROM history WHERE model_id = ? "
                   "ORDER BY seq", (mid,))]
    aliases = {dec(a): dec(v) for a, v in conn.execute(
        "SELECT alias, version FROM aliases WHERE model_id = ? ORDER BY alias", (mid,))}
    tags = [dec(t) for (t,) in conn.execute(
        "SELECT tag FROM tags WHERE model_id = ? ORDER BY position", (mid,))]
    relationships = [Relationship(dec(t), dec(x)) for t, x in conn.execute(
        "SELECT type, target FROM relationships WHERE model_id = ? ORDER BY position", (mid,))]
    family_text = dec(family)
    if family_text and not deleted and state != "removed":
        links = list(group_links(family_members(conn, family_text), model_id))
        if links:
            relationships += [Relationship("same_family", t) for t in links]
            relationships.sort(key=lambda r: (r.type, r.target))
    return ModelEntry(
        model_id=model_id, model_name=dec(name), file_path=dec(path),
        file_size_bytes=int(size), registered_at=registered_at, updated_at=updated_at,
        version=dec(version), state=state, tags=tags, aliases=aliases,
        description=dec(description), metadata=jload(metadata) or {}, versions=versions,
        relationships=relationships, history=history, sha256=sha, file_stat=stat,
        source_index=int(source_index), deleted=bool(deleted), findings=jload(findings) or [])


__all__ = ["MODEL_COLUMNS", "dec", "delete_entry", "enc", "family_members", "family_of",
           "jdump", "jload", "read_entry", "write_entry"]

"""One model's rows <-> :class:`~registry.model.entries.ModelEntry`, and the text encoding.

A model is one ``models`` row (the model-level fields, the file stat, the family key and a
``summary``: the model's index row as JSON, what scans and ``list`` need without touching
other tables) plus its rows in ``versions`` (the structure snapshot in its own column),
``history``, ``aliases``, ``tags`` and ``relationships``.

``same_family`` edges are not stored: the ``family`` column (the structural signature of the
current version) is the group key, and :func:`read_entry` derives the edges from the other
members of the group with the same rule as :mod:`registry.model.relations` (a mesh up to
:data:`~registry.model.relations.MESH_LIMIT` members, else a star around the smallest id).

Text: SQLite stores TEXT as UTF-8, which cannot hold the lone surrogates that stand for the
bytes of a non-UTF-8 file name. :func:`enc` therefore stores such a string as a BLOB of its
``surrogatepass`` bytes and :func:`dec` turns it back; every other string stays TEXT.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections import OrderedDict
from typing import Any

from registry.model.entries import FileStat, HistoryEvent, ModelEntry, Relationship, VersionRecord
from registry.model.relations import MESH_LIMIT, group_links
from registry.model.rowcodec import index_row

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


PACK_MIN = 200
"""JSON at least this long is stored zlib-compressed by :func:`jpack`."""


_PACKED: OrderedDict[str, bytes] = OrderedDict()
"""Recently read or written long JSON texts -> their stored (compressed) bytes: a write
re-encodes every version of a model, and an unchanged version then costs a lookup instead
of a compression (a model with 500 versions saves 500 of them per write)."""

PACKED_CACHE = 2048
"""How many texts :data:`_PACKED` remembers."""


_PACKED_LOCK = threading.Lock()


def _remember(text: str, packed: bytes) -> None:
    with _PACKED_LOCK:  # the service's worker and derived-files threads both read
        _PACKED[text] = packed
        if len(_PACKED) > PACKED_CACHE:
            _PACKED.popitem(last=False)


def jpack(value: Any) -> Text:
    """Compact JSON of ``value`` as stored, zlib-compressed (level 1) when it is long.

    Used for the large columns (a version's metadata and structure snapshot, a model's
    metadata and index row): they are most of the database and compress 2-4x. A compressed
    value is a BLOB starting with zlib's header byte ``x``, which no JSON text starts with,
    so :func:`jload` tells the three forms (TEXT, surrogate BLOB, compressed BLOB) apart.
    """
    text = _ENCODE(value)
    if len(text) < PACK_MIN:
        return enc(text)
    packed = _PACKED.get(text)
    if packed is None:
        packed = zlib.compress(text.encode("utf-8", "surrogatepass"), 1)
        _remember(text, packed)
    return packed


def jload(value: Text | None) -> Any:
    """Inverse of :func:`jdump` and :func:`jpack` (``None`` reads as ``None``)."""
    if value is None:
        return None
    if isinstance(value, bytes) and value[:1] == b"x":
        text = zlib.decompress(value).decode("utf-8", "surrogatepass")
        _remember(text, value)
        return json.loads(text)
    return json.loads(dec(value))


MODEL_COLUMNS = ("id", "name", "path", "source_index", "size", "registered_at", "updated_at",
                 "version", "state", "description", "sha256", "st_size", "st_mtime_ns",
                 "st_inode", "st_device", "st_recorded_ns", "deleted", "family", "declares",
                 "findings", "metadata", "summary")

_COLUMN_LIST = ", ".join(MODEL_COLUMNS)
_MARKS = ", ".join("?" for _ in MODEL_COLUMNS)
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in MODEL_COLUMNS[1:])
_INSERT_MODEL = f"INSERT INTO models ({_COLUMN_LIST}) VALUES ({_MARKS})"  # noqa: S608
_UPSERT = (f"INSERT INTO models ({_COLUMN_LIST}) VALUES ({_MARKS}) "  # noqa: S608 - constants
           f"ON CONFLICT (id) DO UPDATE SET {_UPDATES}")


def _model_values(entry: ModelEntry, summary: dict[str, Any]) -> tuple[Any, ...]:
    st = entry.file_stat
    stat: tuple[int | None, ...] = ((st.size, st.mtime_ns, st.inode, st.device, st.recorded_ns)
                                    if st is not None else (None,) * 5)
    return (enc(entry.model_id), enc(entry.model_name), enc(entry.file_path),
            entry.source_index, entry.file_size_bytes, entry.registered_at, entry.updated_at,
            enc(entry.version), entry.state, enc(entry.description), entry.sha256, *stat,
            int(entry.deleted), enc(str(summary.get("signature") or "")),
            int(bool(summary.get("depends_on") or summary.get("derived_from"))),
            jdump(entry.findings), jpack(entry.metadata), jpack(summary))


Rows = dict[str, list[tuple[Any, ...]]]
"""A model's rows as stored: ``{table: [row tuple, ...]}`` (``models``: its one row)."""

_INSERT = {"versions": "INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
           "history": "INSERT INTO history VALUES (?,?,?,?,?,?,?)",
           "aliases": "INSERT INTO aliases VALUES (?,?,?)",
           "tags": "INSERT INTO tags VALUES (?,?,?)",
           "relationships": "INSERT INTO relationships VALUES (?,?,?,?)"}
_SEQUENCED = ("versions", "history")


def entry_rows(entry: ModelEntry) -> Rows:
    """The child-table rows of ``entry`` as they are stored (same order as the tables)."""
    mid = enc(entry.model_id)
    versions = []
    for seq, rec in enumerate(entry.versions):
        meta = dict(rec.metadata)
        structure = meta.pop("structure", None)
        versions.append((mid, seq, enc(rec.version), rec.sha256, rec.registered_at,
                         enc(rec.file_path), rec.file_size_bytes, rec.change, jpack(meta),
                         None if structure is None else jpack(structure),
                         jdump(rec.findings), enc(rec.signature), int(rec.pruned)))
    return {
        "versions": versions,
        "history": [(mid, seq, ev.at, enc(ev.event), enc(ev.actor),
                     None if ev.reason is None else enc(ev.reason), jdump(ev.details))
                    for seq, ev in enumerate(entry.history)],
        "aliases": [(mid, enc(a), enc(v)) for a, v in sorted(entry.aliases.items())],
        "tags": [(mid, pos, enc(t)) for pos, t in enumerate(entry.tags)],
        "relationships": [(mid, pos, enc(r.type), enc(r.target)) for pos, r in
                          enumerate(x for x in entry.relationships if x.type != "same_family")],
    }


def _write_table(conn: sqlite3.Connection, table: str, mid: Text,
                 new: list[tuple[Any, ...]], old: list[tuple[Any, ...]] | None) -> None:
    if old == new:
        return
    if old is None or table not in _SEQUENCED:
        conn.execute(f"DELETE FROM {table} WHERE model_id = ?", (mid,))  # noqa: S608
        conn.executemany(_INSERT[table], new)
        return
    # Versions and history are append-mostly: rewrite only the rows that differ.
    changed = [row for seq, row in enumerate(new) if seq >= len(old) or old[seq] != row]
    if len(old) > len(new):
        conn.execute(f"DELETE FROM {table} WHERE model_id = ? AND seq >= ?",  # noqa: S608
                     (mid, len(new)))
    stale = [(mid, row[1]) for row in changed if row[1] < len(old)]
    conn.executemany(f"DELETE FROM {table} WHERE model_id = ? AND seq = ?", stale)  # noqa: S608
    conn.executemany(_INSERT[table], changed)


FTS_TABLE = "model_text"
"""The FTS5 table (trigram tokens) over each model's id, name, description and tags."""


def fts_available(conn: sqlite3.Connection) -> bool:
    """Whether the FTS5 table exists in the database of ``conn``."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                        (FTS_TABLE,)).fetchone() is not None


def ensure_fts(conn: sqlite3.Connection) -> bool:
    """Create and fill the FTS5 table if this SQLite has FTS5 and the table is missing.

    Returns:
        Whether the table is there now (False where the ``sqlite3`` module lacks FTS5:
        search then scans the index rows).
    """
    if fts_available(conn):
        return True
    try:
        conn.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
                     "body, tokenize = 'trigram')")
    except sqlite3.OperationalError:
        return False  # no FTS5 (or no trigram tokenizer) in this build
    for (rowid, mid, summary) in conn.execute("SELECT rowid, id, summary FROM models"
                                              ).fetchall():
        row = jload(summary)
        conn.execute(f"INSERT INTO {FTS_TABLE} (rowid, body) VALUES (?, ?)",  # noqa: S608
                     (rowid, _text_body(dec(mid), row)))
    return True


def _text_body(model_id: str, row: dict[str, Any]) -> Text:
    parts = [model_id, str(row.get("model_name") or ""), str(row.get("description") or ""),
             *[str(t) for t in row.get("tags") or []]]
    return enc("\n".join(parts))


def text_candidates(conn: sqlite3.Connection, words: list[str]) -> set[str]:
    """Ids whose id, name, description or a tag contains every word (case-insensitive
    substring, through the trigram index; each word at least 3 characters)."""
    query = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
    return {dec(r[0]) for r in conn.execute(
        f"SELECT m.id FROM {FTS_TABLE} AS f JOIN models AS m ON m.rowid = f.rowid "  # noqa: S608
        f"WHERE {FTS_TABLE} MATCH ?", (query,))}


def write_entry(conn: sqlite3.Connection, entry: ModelEntry,
                previous: Rows | None = None, *,
                fts: bool = False, fresh: bool = False) -> tuple[dict[str, Any], Rows] | None:
    """Write the rows of ``entry`` that differ from ``previous`` (in the caller's transaction).

    Args:
        conn: the connection.
        entry: the model.
        previous: its rows as stored (from :func:`read_entry` or an earlier write);
            ``None`` for a model not read from the database (all its rows are replaced).
        fts: keep the FTS5 table in step.
        fresh: the caller knows the model has no rows yet (plain inserts, nothing to
            delete first: a first scan's common case).

    Returns:
        ``(index row, rows as now stored)``, or ``None`` when nothing differed.
    """
    summary = index_row(entry)
    rows = entry_rows(entry)
    rows["models"] = [_model_values(entry, summary)]
    if previous == rows:
        return None
    mid = enc(entry.model_id)
    if fresh:
        rowid = conn.execute(_INSERT_MODEL, rows["models"][0]).lastrowid
        if fts:
            conn.execute(f"INSERT INTO {FTS_TABLE} (rowid, body) VALUES (?, ?)",  # noqa: S608
                         (rowid, _text_body(entry.model_id, summary)))
        for table, sql in _INSERT.items():
            if rows[table]:
                conn.executemany(sql, rows[table])
        return summary, rows
    if previous is None or previous["models"] != rows["models"]:
        conn.execute(_UPSERT, rows["models"][0])
        if fts:  # the text row shares the model row's rowid (kept by the upsert)
            rowid = conn.execute("SELECT rowid FROM models WHERE id = ?", (mid,)).fetchone()[0]
            conn.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = ?", (rowid,))  # noqa: S608
            conn.execute(f"INSERT INTO {FTS_TABLE} (rowid, body) VALUES (?, ?)",  # noqa: S608
                         (rowid, _text_body(entry.model_id, summary)))
    for table in _INSERT:
        _write_table(conn, table, mid, rows[table], None if previous is None else previous[table])
    return summary, rows


def delete_entry(conn: sqlite3.Connection, model_id: str, *, fts: bool = False) -> None:
    """Delete a model and (by cascade) all its rows."""
    if fts:
        conn.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = "  # noqa: S608
                     "(SELECT rowid FROM models WHERE id = ?)", (enc(model_id),))
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


_FAMILY_QUERY = ("SELECT id FROM models WHERE family = ? AND deleted = 0 AND "
                 "state <> 'removed' ORDER BY id")


def family_members(conn: sqlite3.Connection, family: str) -> list[str]:
    """Ids of the live, not removed models of a family, sorted."""
    rows = conn.execute(_FAMILY_QUERY, (enc(family),)).fetchall()
    return [dec(r[0]) for r in rows]


def family_links(conn: sqlite3.Connection, family: str, model_id: str) -> list[str]:
    """The ``same_family`` targets of ``model_id`` (the rule of
    :func:`~registry.model.relations.group_links`), reading at most ``MESH_LIMIT + 1`` ids
    unless ``model_id`` is the hub of a large family (the partial index on
    ``(family, id)`` makes this a short range read, whatever the family's size)."""
    first = [dec(r[0]) for r in conn.execute(_FAMILY_QUERY + " LIMIT ?",
                                             (enc(family), MESH_LIMIT + 1))]
    if len(first) > MESH_LIMIT and first[0] == model_id:
        first = family_members(conn, family)  # the hub links to every member
    return list(group_links(first, model_id))


def ids_where(conn: sqlite3.Connection, column: str, value: str) -> list[str]:
    """Ids of the models whose ``path`` or ``sha256`` column equals ``value``."""
    if column not in ("path", "sha256"):
        msg = f"not an indexed lookup column: {column}"
        raise ValueError(msg)
    return [dec(r[0]) for r in conn.execute(
        f"SELECT id FROM models WHERE {column} = ?", (enc(value),))]  # noqa: S608


def count_live(conn: sqlite3.Connection) -> int:
    """How many models in the database are not deleted."""
    return int(conn.execute("SELECT count(*) FROM models WHERE deleted = 0").fetchone()[0])


def any_declares(conn: sqlite3.Connection) -> bool:
    """Whether a live model's summary holds ``depends_on`` or ``derived_from``."""
    return conn.execute("SELECT 1 FROM models WHERE declares = 1 AND deleted = 0 LIMIT 1"
                        ).fetchone() is not None


def list_entries(conn: sqlite3.Connection) -> list[ModelEntry]:
    """Every model as a summary entry (model-level columns, tags, aliases; no versions,
    history or relationships), sorted by id."""
    tags: dict[Text, list[str]] = {}
    for mid, tag in conn.execute("SELECT model_id, tag FROM tags ORDER BY model_id, position"):
        tags.setdefault(mid, []).append(dec(tag))
    aliases: dict[Text, dict[str, str]] = {}
    for mid, alias, version in conn.execute("SELECT model_id, alias, version FROM aliases"):
        aliases.setdefault(mid, {})[dec(alias)] = dec(version)
    return [ModelEntry(model_id=dec(mid), model_name=dec(name), file_path=dec(path),
                       file_size_bytes=int(size), registered_at=registered_at,
                       updated_at=updated_at, version=dec(version), state=state,
                       tags=tags.get(mid, []), aliases=aliases.get(mid, {}),
                       description=dec(description), metadata=jload(metadata) or {},
                       sha256=sha, deleted=bool(deleted), source_index=int(source_index),
                       # the latest refused content's findings: list shows "(file invalid)"
                       findings=jload(findings) or [] if findings != "[]" else [])
            for (mid, name, path, size, registered_at, updated_at, version, state, description,
                 sha, deleted, metadata, source_index, findings) in conn.execute(
                "SELECT id, name, path, size, registered_at, updated_at, version, state, "
                "description, sha256, deleted, metadata, source_index, findings FROM models "
                "ORDER BY id")]


def referencing(conn: sqlite3.Connection, target: str) -> list[str]:
    """Ids of models with a stored relationship to ``target`` and its ``same_family`` links
    (derived edges are symmetric: a member links to the models that link to it)."""
    found = {dec(r[0]) for r in conn.execute(
        "SELECT DISTINCT model_id FROM relationships WHERE target = ?", (enc(target),))}
    row = conn.execute("SELECT family, deleted, state FROM models WHERE id = ?",
                       (enc(target),)).fetchone()
    if row is not None and dec(row[0]) and not row[1] and row[2] != "removed":
        found.update(group_links(family_members(conn, dec(row[0])), target))
    found.discard(target)
    return sorted(found)


def read_entry(conn: sqlite3.Connection, model_id: str, *,
               family: bool = True) -> tuple[ModelEntry, Rows] | None:
    """The model ``model_id`` and its child rows as stored, or ``None`` when there is none.

    ``family=False`` leaves out the derived ``same_family`` relationships (the derived
    files, which do not list them, and writers, which never store them).
    """
    mid = enc(model_id)
    row = conn.execute(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE id = ?",  # noqa: S608
                       (mid,)).fetchone()
    if row is None:
        return None
    (_id, name, path, source_index, size, registered_at, updated_at, version, state,
     description, sha, st_size, st_mtime, st_inode, st_device, st_recorded, deleted, family_key,
     _declares, findings, metadata, _summary) = row
    stat = (FileStat(st_size, st_mtime, st_inode, st_device, st_recorded or 0)
            if st_size is not None else None)
    rows: Rows = {
        "models": [tuple(row)],
        "versions": conn.execute("SELECT * FROM versions WHERE model_id = ? ORDER BY seq",
                                 (mid,)).fetchall(),
        "history": conn.execute("SELECT * FROM history WHERE model_id = ? ORDER BY seq",
                                (mid,)).fetchall(),
        "aliases": conn.execute("SELECT * FROM aliases WHERE model_id = ? ORDER BY alias",
                                (mid,)).fetchall(),
        "tags": conn.execute("SELECT * FROM tags WHERE model_id = ? ORDER BY position",
                             (mid,)).fetchall(),
        "relationships": conn.execute(
            "SELECT * FROM relationships WHERE model_id = ? ORDER BY position",
            (mid,)).fetchall(),
    }
    versions = [_version(r[2:]) for r in rows["versions"]]
    history = [HistoryEvent(at=at, event=dec(event), actor=dec(actor),
                            reason=None if reason is None else dec(reason),
                            details=jload(details) or {})
               for _m, _s, at, event, actor, reason, details in rows["history"]]
    aliases = {dec(a): dec(v) for _m, a, v in rows["aliases"]}
    tags = [dec(t) for _m, _p, t in rows["tags"]]
    relationships = [Relationship(dec(t), dec(x)) for _m, _p, t, x in rows["relationships"]]
    family_text = dec(family_key)
    if family and family_text and not deleted and state != "removed":
        links = family_links(conn, family_text, model_id)
        if links:
            relationships += [Relationship("same_family", t) for t in links]
            relationships.sort(key=lambda r: (r.type, r.target))
    entry = ModelEntry(
        model_id=model_id, model_name=dec(name), file_path=dec(path),
        file_size_bytes=int(size), registered_at=registered_at, updated_at=updated_at,
        version=dec(version), state=state, tags=tags, aliases=aliases,
        description=dec(description), metadata=jload(metadata) or {}, versions=versions,
        relationships=relationships, history=history, sha256=sha, file_stat=stat,
        source_index=int(source_index), deleted=bool(deleted), findings=jload(findings) or [])
    return entry, rows


__all__ = [
    "FTS_TABLE",
    "MODEL_COLUMNS",
    "Rows",
    "any_declares",
    "count_live",
    "dec",
    "delete_entry",
    "enc",
    "ensure_fts",
    "entry_rows",
    "family_links",
    "family_members",
    "fts_available",
    "ids_where",
    "jdump",
    "jload",
    "jpack",
    "list_entries",
    "read_entry",
    "referencing",
    "text_candidates",
    "write_entry",
]

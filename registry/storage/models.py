"""The store's ``doc.models``: entries read from the database on first access.

:class:`SqlModels` is a :class:`~registry.model.modelmap.ModelMap` over one connection. Nothing
is read up front: ``model_id in models`` and ``models[model_id]`` read that one model's rows,
:meth:`~SqlModels.rows` reads the ``summary`` column of every model once (the index rows of
scans, relationships and search), iteration reads the ids.

Changes: a decoded entry may be changed in place, so the map remembers each entry's rows as
read; :meth:`~SqlModels.flush` (and :meth:`~SqlModels.freeze` for one entry, which also
drops the object) encodes the decoded entries again, writes only the rows that differ
and deletes the models removed from the map. That only happens on a writable map, i.e.
inside the store's ``BEGIN IMMEDIATE`` transaction, which commits or rolls back the lot.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from registry.errors import StoreError
from registry.model.entries import ModelEntry
from registry.model.modelmap import LazyLoadError, ModelMap
from registry.model.rowcodec import IndexRow, index_row
from registry.storage import codec, db

_PATH = codec.MODEL_COLUMNS.index("path")
_FAMILY = codec.MODEL_COLUMNS.index("family")


class SqlModels(ModelMap):
    """``model_id -> ModelEntry`` read lazily from a registry database (module docstring).

    Args:
        conn: the connection (a read snapshot, or the writer's open transaction).
        path: the database file (for error messages).
        writable: whether :meth:`flush` may write (inside the store's transaction).
        timeout: the busy timeout (named in errors).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, writable: bool,
                 timeout: float) -> None:
        super().__init__()
        self._conn = conn
        self._path = path
        self._writable = writable
        self._timeout = timeout
        self._ids: dict[str, None] | None = None
        self._summaries: dict[str, IndexRow] | None = None
        self._stored: dict[str, codec.Rows] = {}
        self._closed = False
        self._fts: bool | None = None
        self._touched_ids: set[str] = set()
        self._touched_paths: set[str] = set()
        self._touched_families: set[str] = set()

    # -- database access -------------------------------------------------------------------

    def detach(self) -> None:
        """Stop using the connection (the store closes it when its unit of work is over).

        Decoded entries, and the ids and index rows when they were read, stay available;
        reading anything else then raises :class:`~registry.model.modelmap.LazyLoadError`.
        """
        if self._closed:
            return
        self._closed = True
        self._writable = False

    def close(self) -> None:
        """Detach and close the connection (a snapshot that is no longer needed)."""
        self.detach()
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            msg = "this registry document's transaction is over: load the registry again"
            raise LazyLoadError(msg, path=str(self._path))

    def _fail(self, exc: sqlite3.Error, step: str) -> StoreError:
        err = db.translate(exc, self._path, step, self._timeout)
        if self._writable:
            return err
        return LazyLoadError(str(err.args[0]), path=err.path, reason=err.reason)

    def _db_ids(self) -> dict[str, None]:
        if self._ids is None:
            self._check_open()
            try:
                rows = self._conn.execute("SELECT id FROM models ORDER BY id").fetchall()
            except sqlite3.Error as exc:
                raise self._fail(exc, "reading model ids") from exc
            self._ids = {codec.dec(r[0]): None for r in rows}
        return self._ids

    def _in_db(self, model_id: str) -> bool:
        if self._ids is not None:
            return model_id in self._ids
        self._check_open()
        try:
            found = self._conn.execute("SELECT 1 FROM models WHERE id = ?",
                                       (codec.enc(model_id),)).fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc, "reading a model") from exc
        return found is not None

    def _summaries_loaded(self) -> dict[str, IndexRow]:
        if self._summaries is None:
            self._check_open()
            try:
                rows = self._conn.execute(
                    "SELECT id, summary FROM models ORDER BY id").fetchall()
            except sqlite3.Error as exc:
                raise self._fail(exc, "reading the model index") from exc
            self._summaries = {codec.dec(mid): codec.jload(s) for mid, s in rows}
            self._ids = dict.fromkeys(self._summaries)
        return self._summaries

    # -- mapping ---------------------------------------------------------------------------

    def __contains__(self, model_id: object) -> bool:
        if not isinstance(model_id, str) or model_id in self._removed:
            return False
        return model_id in self._live or self._in_db(model_id)

    def _read(self, model_id: str, *, family: bool = True) -> tuple[ModelEntry, codec.Rows]:
        """``model_id`` and its child rows from the database (``KeyError`` when absent or
        removed in this document); ``family=False``: without the derived ``same_family``
        links."""
        if model_id in self._removed:
            raise KeyError(model_id)
        self._check_open()
        try:
            found = codec.read_entry(self._conn, model_id, family=family)
        except sqlite3.Error as exc:
            raise self._fail(exc, "reading a model") from exc
        except (ValueError, TypeError) as exc:
            raise StoreError("a model's rows do not decode", path=str(self._path),
                             reason=f"{model_id!r}: {exc}") from exc
        if found is None:
            raise KeyError(model_id)
        return found

    def __getitem__(self, model_id: str) -> ModelEntry:
        entry = self._live.get(model_id)
        if entry is not None:
            return entry
        entry, rows = self._read(model_id)
        self._live[model_id] = entry
        if self._writable:
            self._stored[model_id] = rows
        return entry

    def __setitem__(self, model_id: str, entry: ModelEntry) -> None:
        self._live[model_id] = entry
        self._removed.discard(model_id)

    def __delitem__(self, model_id: str) -> None:
        if model_id not in self:
            raise KeyError(model_id)
        self._live.pop(model_id, None)
        self._changed.discard(model_id)
        self._removed.add(model_id)

    def __iter__(self) -> Iterator[str]:
        ids = self._db_ids()
        out = [m for m in ids if m not in self._removed]
        out += [m for m in self._live if m not in ids]
        return iter(out)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def row(self, model_id: str) -> IndexRow:
        """The index row of ``model_id`` (from the entry when it is decoded).

        Raises:
            KeyError: no such model.
        """
        entry = self._live.get(model_id)
        if entry is not None:
            return index_row(entry)
        if model_id in self._removed:
            raise KeyError(model_id)
        if self._summaries is not None:
            return self._summaries[model_id]
        self._check_open()
        try:
            found = self._conn.execute("SELECT summary FROM models WHERE id = ?",
                                       (codec.enc(model_id),)).fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc, "reading a model") from exc
        if found is None:
            raise KeyError(model_id)
        value: IndexRow = codec.jload(found[0])
        return value

    def raw(self, model_id: str, *, family: bool = True) -> dict[str, Any]:
        """The JSON form of ``model_id``; an entry not decoded is read and not kept.

        ``family=False`` leaves the derived ``same_family`` links out.
        """
        if model_id in self._live:
            return super().raw(model_id, family=family)
        return self._read(model_id, family=family)[0].to_dict()

    def rows(self) -> Iterator[tuple[str, IndexRow]]:
        """``(model_id, row)`` for every model: one query for the stored rows."""
        summaries = self._summaries_loaded()
        for model_id in list(self):
            entry = self._live.get(model_id)
            yield model_id, index_row(entry) if entry is not None else summaries[model_id]

    def listing(self) -> list[ModelEntry]:
        """Every live model as a summary entry (no versions or history), in one pass over
        the ``models`` table plus tags and aliases; decoded entries are used as they are."""
        self._check_open()
        try:
            found = codec.list_entries(self._conn)
        except sqlite3.Error as exc:
            raise self._fail(exc, "listing the models") from exc
        out = [self._live.get(e.model_id, e) for e in found if e.model_id not in self._removed]
        return [e for e in out if not e.deleted]

    indexed = True
    derives_families = True

    def _lookup(self, column: str, value: str) -> list[str]:
        self._check_open()
        try:
            found = codec.ids_where(self._conn, column, value)
        except sqlite3.Error as exc:
            raise self._fail(exc, "looking models up") from exc
        return [m for m in found if m not in self._removed and m not in self._live]

    def _live_where(self, field: str, value: str) -> list[str]:
        return [m for m, e in self._live.items() if getattr(e, field) == value]

    def ids_at_path(self, path: str) -> list[str]:
        """Ids of the models recorded at ``path`` (the ``models_path`` index)."""
        return self._lookup("path", path) + self._live_where("file_path", path)

    def ids_with_sha(self, sha: str) -> list[str]:
        """Ids of the models whose current content hash is ``sha`` (``models_sha``)."""
        return self._lookup("sha256", sha) + self._live_where("sha256", sha)

    def _keys_of(self, rows: codec.Rows | None) -> tuple[str, str] | None:
        if rows is None:
            return None
        model_row = rows["models"][0]
        return codec.dec(model_row[_PATH]), codec.dec(model_row[_FAMILY])

    def touched(self) -> tuple[set[str], set[str], set[str]] | None:
        """Ids decoded or written in this transaction, with their old and new paths and
        family keys."""
        ids = set(self._touched_ids) | set(self._live) | set(self._removed)
        paths, families = set(self._touched_paths), set(self._touched_families)
        for model_id, entry in self._live.items():
            row = index_row(entry)
            paths.add(str(row["file_path"]))
            families.add(str(row["signature"] or ""))
            old = self._keys_of(self._stored.get(model_id))
            if old is not None:
                paths.add(old[0])
                families.add(old[1])
        return ids, paths, families

    def live_count(self) -> int:
        """How many models are not deleted: one count in the database, adjusted for the
        entries decoded or removed in this document."""
        if self._summaries is not None:
            return super().live_count()
        self._check_open()
        mine = set(self._live) | self._removed
        try:
            stored = codec.count_live(self._conn)
            stored -= sum(1 for m in mine if self._in_db(m) and not self._db_deleted(m))
        except sqlite3.Error as exc:
            raise self._fail(exc, "counting models") from exc
        return stored + sum(1 for e in self._live.values() if not e.deleted)

    def _db_deleted(self, model_id: str) -> bool:
        row = self._conn.execute("SELECT deleted FROM models WHERE id = ?",
                                 (codec.enc(model_id),)).fetchone()
        return bool(row[0]) if row is not None else True

    def family_ids(self, signature: str) -> list[str]:
        """Ids in the family ``signature`` in the database, plus every decoded entry."""
        self._check_open()
        try:
            found = codec.family_members(self._conn, signature)
        except sqlite3.Error as exc:
            raise self._fail(exc, "reading a family") from exc
        return found + list(self._live)

    def any_declares(self) -> bool:
        """Whether some live model declares references (one scan of the summary column)."""
        if any(not e.deleted and (index_row(e).get("depends_on") or
                                  index_row(e).get("derived_from"))
               for e in self._live.values()):
            return True
        self._check_open()
        try:
            return codec.any_declares(self._conn)
        except sqlite3.Error as exc:
            raise self._fail(exc, "reading references") from exc

    def _has_fts(self) -> bool:
        if self._fts is None:
            try:
                self._fts = codec.fts_available(self._conn)
            except sqlite3.Error:
                self._fts = False
        return self._fts

    def text_candidates(self, words: list[str]) -> set[str] | None:
        """Ids that may match every free-text word (the FTS5 index), or ``None`` when the
        index cannot answer (no FTS5, a word shorter than 3 characters, pending changes)."""
        if (not words or any(len(w) < 3 for w in words) or self._removed
                or self._changed or self._closed or not self._has_fts()):
            return None
        try:
            found = codec.text_candidates(self._conn, words)
        except sqlite3.Error:
            return None  # e.g. a word FTS5 cannot parse: the full scan answers
        return found | set(self._live)

    def referencing(self, target: str) -> list[str]:
        """Models with a stored relationship to ``target``, plus its family links."""
        self._check_open()
        try:
            return codec.referencing(self._conn, target)
        except sqlite3.Error as exc:
            raise self._fail(exc, "reading relationships") from exc

    # -- writing ---------------------------------------------------------------------------

    def _sync(self, model_id: str, entry: ModelEntry) -> bool:
        if not self._writable:
            return False  # a snapshot's entries are never written (the lock-free pass)
        previous = self._stored.get(model_id)
        try:
            written = codec.write_entry(
                self._conn, entry, previous, fts=self._has_fts(),
                fresh=previous is None and not self._in_db(model_id))
        except sqlite3.Error as exc:
            raise self._fail(exc, "writing a model") from exc
        if written is None:
            return False
        summary, rows = written
        for keys in (self._keys_of(self._stored.get(model_id)), self._keys_of(rows)):
            if keys is not None:
                self._touched_paths.add(keys[0])
                self._touched_families.add(keys[1])
        self._touched_ids.add(model_id)
        self._stored[model_id] = rows
        self._changed.add(model_id)
        if self._summaries is not None:
            self._summaries[model_id] = summary
        if self._ids is not None and model_id not in self._ids:
            self._ids[model_id] = None
        return True

    def drop_decoded(self, model_id: str) -> None:
        """Forget a decoded entry and its unsaved changes (a later access reads it again)."""
        self._live.pop(model_id, None)
        self._stored.pop(model_id, None)

    def freeze(self, model_id: str) -> bool:
        """Write a decoded entry's rows now (if it changed) and drop the object.

        Returns:
            True when its rows changed.
        """
        entry = self._live.pop(model_id, None)
        changed = False if entry is None else self._sync(model_id, entry)
        self._stored.pop(model_id, None)  # a later access reads the rows again
        return changed

    def flush(self) -> None:
        """Delete removed models and write the rows of every changed decoded entry."""
        for model_id in list(self._removed):
            if self._in_db(model_id) and model_id not in self._changed:
                if not self._writable:
                    msg = "this registry snapshot is read-only: change it in store.transaction()"
                    raise RuntimeError(msg)
                try:
                    codec.delete_entry(self._conn, model_id, fts=self._has_fts())
                except sqlite3.Error as exc:
                    raise self._fail(exc, "deleting a model") from exc
                if self._ids is not None:
                    self._ids.pop(model_id, None)
                if self._summaries is not None:
                    self._summaries.pop(model_id, None)
                self._stored.pop(model_id, None)
        for model_id, entry in list(self._live.items()):
            self._sync(model_id, entry)

    def take_changes(self) -> tuple[set[str], set[str]]:
        """Flush, then the models written and the models deleted since the last call."""
        self.flush()
        changed, removed = self._changed, self._removed
        self._changed, self._removed = set(), set()
        return changed, removed


__all__ = ["SqlModels"]

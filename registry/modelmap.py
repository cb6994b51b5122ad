"""The lazy ``models`` mapping of a registry document, and the per-model index rows.

A registry of 10,000 models is mostly read by code that needs a few fields of every model
(the scanner's lookups by path, hash and stat; relationships; search; list) and the full
entry of only a few. :class:`ModelMap` therefore holds each model as its encoded JSON line
(bytes, exactly as it sits in the registry file) and decodes an entry into a
:class:`~registry.entries.ModelEntry` on first access. A decoded entry may be changed by the
caller, so it is re-encoded when the document is written (:meth:`ModelMap.flush`); comparing
the new line with the old one tells which models really changed. :meth:`ModelMap.freeze`
encodes one decoded entry early and drops the object, which bounds memory during a scan.
Once a map has encoded more than :data:`registry.spill.SPILL_AFTER` bytes of new lines (a
large first scan), further lines go to an unnamed temp file and the map keeps only where
they are (:mod:`registry.spill`); an unchanged entry is recognised by its line's digest, so
re-encoding it reads nothing back.

Index rows (:mod:`registry.rowcodec`, with the line encoding):
:func:`index_row` is a small dict of what those all-model callers need
(``file_path``, ``sha256``, ``file_stat``, ``state``, ``deleted``, ``version``...). Rows are
stored in the registry file (a derived cache, covered by its own checksum) so that they are
available without decoding any entry; :meth:`ModelMap.row` gives the row of a decoded entry
from the entry itself, so rows are never stale.

Lines of models that are not loaded: a document read "index only" (the scanner's lock-free
pass) has rows but no model lines; the first access to an entry calls the loader, which
reads the rest of the same file (the open descriptor, so the same inode as the index) and
checks its checksum. A failure there raises :class:`LazyLoadError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from registry.entries import ModelEntry
from registry.errors import StoreError
from registry.rowcodec import (
    IndexRow,
    digest_of,
    dumps,
    index_row,
    key_prefix,
)
from registry.spill import SPILL_AFTER, Line, LineSpill, line_bytes, open_spill

LineSet = tuple[dict[str, Line], dict[str, bytes]]
"""``(lines, digests)``: encoded model lines by id and the SHA-256 digest of each line."""

_FROM_LINE: IndexRow = {}
"""Marker in ``ModelMap._rows``: decode this row from its index line when asked."""


class LazyLoadError(StoreError):
    """The model lines of an index-only document could not be read or did not verify."""



class ModelMap(MutableMapping[str, ModelEntry]):
    """``model_id -> ModelEntry`` that decodes entries on first access (module docstring).

    Args:
        entries: initial entries (decoded objects, e.g. a test's hand-built document).
    """

    def __init__(self, entries: Mapping[str, ModelEntry] | None = None) -> None:
        self._rows: dict[str, IndexRow | None] = {}
        self._row_lines: dict[str, bytes] = {}
        self._row_digests: dict[str, bytes] = {}
        self._lines: dict[str, Line] | None = {}
        self._digests: dict[str, bytes] = {}
        self._live: dict[str, ModelEntry] = {}
        self._loader: Callable[[], LineSet] | None = None
        self._held = 0  # bytes of lines this map encoded and keeps in memory
        self._spill: LineSpill | None = None
        self._changed: set[str] = set()
        self._removed: set[str] = set()
        for model_id, entry in (entries or {}).items():
            self[model_id] = entry

    @classmethod
    def from_encoded(cls, rows: dict[str, IndexRow], row_lines: dict[str, bytes],
                     row_digests: dict[str, bytes], lines: LineSet | None,
                     loader: Callable[[], LineSet] | None = None) -> ModelMap:
        """A map over already-encoded models (the store's fast load path).

        Args:
            rows: index rows by id (the key order is the map's order).
            row_lines: the encoded index lines by id.
            row_digests: their SHA-256 digests.
            lines: ``(model lines, their digests)``, or ``None`` when not loaded yet.
            loader: reads ``lines`` on first need (required when ``lines`` is ``None``).

        Returns:
            The map; the dicts passed in are used as they are (pass copies to share).
        """
        out = cls()
        out._rows = dict(rows)
        out._row_lines = row_lines
        out._row_digests = row_digests
        if lines is None:
            out._lines = None
            out._loader = loader
        else:
            out._lines, out._digests = lines
        return out

    def copy_encoded(self) -> ModelMap:
        """A new map sharing this one's encoded lines (call right after :meth:`flush`).

        Raises:
            RuntimeError: entries are decoded or lines are not loaded.
        """
        if self._lines is None or any(mid not in self._lines for mid in self._live):
            msg = "copy_encoded needs a flushed, fully loaded map"
            raise RuntimeError(msg)
        rows = {mid: row for mid, row in self._rows.items() if row is not None}
        return ModelMap.from_encoded(rows, dict(self._row_lines), dict(self._row_digests),
                                     (dict(self._lines), dict(self._digests)))

    # -- mapping protocol ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._rows))

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._rows

    def __getitem__(self, model_id: str) -> ModelEntry:
        entry = self._live.get(model_id)
        if entry is not None:
            return entry
        if model_id not in self._rows:
            raise KeyError(model_id)
        line = line_bytes(self._all_lines()[model_id])
        start = len(key_prefix(model_id))
        entry = ModelEntry.from_dict(json.loads(line[start:]))
        self._live[model_id] = entry
        return entry

    def __setitem__(self, model_id: str, entry: ModelEntry) -> None:
        if model_id not in self._rows:
            self._rows[model_id] = None
        self._live[model_id] = entry
        self._removed.discard(model_id)

    def __delitem__(self, model_id: str) -> None:
        if model_id not in self._rows:
            raise KeyError(model_id)
        del self._rows[model_id]
        self._live.pop(model_id, None)
        self._row_lines.pop(model_id, None)
        self._row_digests.pop(model_id, None)
        self._digests.pop(model_id, None)
        if self._lines is not None:
            self._lines.pop(model_id, None)
        self._removed.add(model_id)

    # -- rows ------------------------------------------------------------------------------

    def row(self, model_id: str) -> IndexRow:
        """The index row of ``model_id`` (computed from the entry when it is decoded).

        Raises:
            KeyError: no such model.
        """
        entry = self._live.get(model_id)
        if entry is not None:
            return index_row(entry)
        row = self._rows[model_id]
        if row is _FROM_LINE:  # kept only as its line (a large scan): decoded on each call
            line = self._row_lines[model_id]
            decoded: IndexRow = json.loads(line[len(key_prefix(model_id)):])
            return decoded
        if row is None:  # pragma: no cover - a model without a row is always live
            raise KeyError(model_id)
        return row

    def rows(self) -> Iterator[tuple[str, IndexRow]]:
        """``(model_id, row)`` for every model, in the map's order."""
        for model_id in list(self._rows):
            yield model_id, self.row(model_id)

    def raw(self, model_id: str) -> dict[str, Any]:
        """The JSON form of ``model_id`` (``ModelEntry.to_dict()``), decoded from its line.

        Raises:
            KeyError: no such model.
        """
        entry = self._live.get(model_id)
        if entry is not None:
            return entry.to_dict()
        if model_id not in self._rows:
            raise KeyError(model_id)
        line = line_bytes(self._all_lines()[model_id])
        value: dict[str, Any] = json.loads(line[len(key_prefix(model_id)):])
        return value

    def is_decoded(self, model_id: str) -> bool:
        """Whether ``model_id`` is held as a decoded (possibly changed) entry."""
        return model_id in self._live

    # -- encoding --------------------------------------------------------------------------

    def _all_lines(self) -> dict[str, Line]:
        if self._lines is None:
            if self._loader is None:  # pragma: no cover - from_encoded requires one
                msg = "model lines are not loaded"
                raise LazyLoadError(msg)
            self._lines, self._digests = self._loader()
            self._loader = None
        return self._lines

    def _keep(self, line: bytes) -> Line:
        """``line`` as this map keeps it: in memory, or spilled past :data:`SPILL_AFTER`."""
        if self._spill is None:
            if self._held + len(line) <= SPILL_AFTER:
                self._held += len(line)
                return line
            self._spill = open_spill()
            self._held = -1 << 62  # never try again when no spill file could be made
            if self._spill is None:
                return line
        try:
            return self._spill.put(line)
        except OSError:
            self._spill = None
            return line

    def _sync(self, model_id: str, entry: ModelEntry) -> bool:
        lines = self._all_lines()
        line = key_prefix(model_id) + dumps(entry.to_dict())
        digest = digest_of(line)  # compared instead of the line: a spilled one is not read
        if model_id in lines and self._digests.get(model_id) == digest:
            return False
        lines[model_id] = self._keep(line)
        self._digests[model_id] = digest
        row = index_row(entry)
        row_line = key_prefix(model_id) + dumps(row)
        self._row_lines[model_id] = row_line
        self._row_digests[model_id] = digest_of(row_line)
        # Once lines spill (a large first scan), rows too are kept only as their lines: a
        # row dict with its strings costs more memory than the line it decodes from.
        self._rows[model_id] = row if self._spill is None else _FROM_LINE
        self._changed.add(model_id)
        return True

    def drop_decoded(self, model_id: str) -> None:
        """Forget a decoded entry without encoding it (its changes, if any, are discarded).

        Only for a document that will not be written (the scanner's lock-free pass).

        Args:
            model_id: the model (nothing happens when it is not decoded).
        """
        self._live.pop(model_id, None)

    def freeze(self, model_id: str) -> bool:
        """Encode a decoded entry now and drop the object (a later access decodes again).

        Args:
            model_id: the model (nothing happens when it is not decoded).

        Returns:
            True when its line changed.
        """
        entry = self._live.pop(model_id, None)
        return False if entry is None else self._sync(model_id, entry)

    def flush(self) -> None:
        """Encode every decoded entry into its line (the objects stay decoded and usable)."""
        for model_id, entry in list(self._live.items()):
            self._sync(model_id, entry)

    def take_changes(self) -> tuple[set[str], set[str]]:
        """Models whose lines changed and models removed since the last call (flush first).

        Returns:
            ``(changed ids, removed ids)``; both sets are reset.
        """
        changed, removed = self._changed, self._removed
        self._changed, self._removed = set(), set()
        return changed, removed

    def encoded(self) -> tuple[list[bytes], list[bytes], list[Line], list[bytes]]:
        """Index lines, their digests, model lines (spilled ones not read) and their digests,
        sorted by id.

        Call :meth:`flush` first; decoded entries are flushed here too.
        """
        self.flush()
        lines = self._all_lines()
        order = sorted(self._rows)
        return ([self._row_lines[m] for m in order], [self._row_digests[m] for m in order],
                [lines[m] for m in order], [self._digests[m] for m in order])


__all__ = ["LazyLoadError", "LineSet", "ModelMap"]

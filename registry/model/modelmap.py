"""The ``models`` mapping of a registry document, and the interface the use cases rely on.

:class:`ModelMap` is ``model_id -> ModelEntry`` plus a few calls that let the use cases
work on a large registry without holding every entry: :meth:`~ModelMap.row` /
:meth:`~ModelMap.rows` give each model's index row (:func:`registry.model.rowcodec.index_row`, the
small dict of fields scans, relationships, search and ``list`` need), :meth:`~ModelMap.freeze`
hands one changed entry back to the store early, and :meth:`~ModelMap.take_changes` tells the
store what changed.

This in-memory map holds decoded entries (a document built by hand, as tests and the JSON
import do). The store's map (:class:`registry.storage.models.SqlModels`) subclasses it and
reads entries from the database on first access.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from registry.errors import StoreError
from registry.model.entries import ModelEntry
from registry.model.rowcodec import IndexRow, index_row


class LazyLoadError(StoreError):
    """An entry of a lazily read document could not be read."""


class ModelMap(MutableMapping[str, ModelEntry]):
    """``model_id -> ModelEntry`` with index rows and change tracking (module docstring).

    Args:
        entries: initial entries.
    """

    def __init__(self, entries: Mapping[str, ModelEntry] | None = None) -> None:
        self._live: dict[str, ModelEntry] = {}
        self._changed: set[str] = set()
        self._removed: set[str] = set()
        for model_id, entry in (entries or {}).items():
            self[model_id] = entry

    def __getitem__(self, model_id: str) -> ModelEntry:
        return self._live[model_id]

    def __setitem__(self, model_id: str, entry: ModelEntry) -> None:
        self._live[model_id] = entry
        self._changed.add(model_id)
        self._removed.discard(model_id)

    def __delitem__(self, model_id: str) -> None:
        del self._live[model_id]
        self._changed.discard(model_id)
        self._removed.add(model_id)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._live))

    def __len__(self) -> int:
        return len(self._live)

    def row(self, model_id: str) -> IndexRow:
        """The index row of ``model_id``.

        Raises:
            KeyError: no such model.
        """
        return index_row(self[model_id])

    def rows(self) -> Iterator[tuple[str, IndexRow]]:
        """``(model_id, row)`` for every model, in the map's order."""
        for model_id in list(self):
            yield model_id, self.row(model_id)

    def raw(self, model_id: str, *, family: bool = True) -> dict[str, Any]:
        """The JSON form of ``model_id`` (``ModelEntry.to_dict()``); ``family=False``
        leaves its ``same_family`` relationships out.

        Raises:
            KeyError: no such model.
        """
        out = self[model_id].to_dict()
        if not family:
            out["relationships"] = [r for r in out.get("relationships", [])
                                    if r.get("type") != "same_family"]
        return out

    def listing(self) -> list[ModelEntry]:
        """Every live (not deleted) model, sorted by id, for ``list``: the entries may be
        summaries (model-level fields, tags and aliases, but no versions or history)."""
        return [self[mid] for mid in sorted(self) if not self[mid].deleted]

    derives_families = False
    """Whether the store derives ``same_family`` relationships when it reads an entry (a
    family is a group key there, not stored edges): the refresh then leaves them alone."""

    indexed = False
    """Whether :meth:`ids_at_path` and :meth:`ids_with_sha` are cheap (a database index);
    otherwise callers build their own index from :meth:`rows` once."""

    def ids_at_path(self, path: str) -> list[str]:
        """Ids of the models recorded at ``path`` (any order)."""
        return [mid for mid, row in self.rows() if row["file_path"] == path]

    def ids_with_sha(self, sha: str) -> list[str]:
        """Ids of the models whose current content hash is ``sha``."""
        return [mid for mid, row in self.rows() if row["sha256"] == sha]

    def live_count(self) -> int:
        """How many models are not deleted (from the index rows)."""
        return sum(1 for _mid, row in self.rows() if not row["deleted"])

    def touched(self) -> tuple[set[str], set[str], set[str]] | None:
        """``(ids, file paths, family keys)`` this document's changes touched (old and new
        values), or ``None`` when not tracked (callers then consider every model)."""
        return None

    def family_ids(self, signature: str) -> list[str]:
        """Ids that may have the family key ``signature`` (callers check each row)."""
        return [mid for mid, row in self.rows() if row["signature"] == signature]

    def any_declares(self) -> bool:
        """Whether some live model declares ``depends_on``/``derived_from`` references."""
        return any(not row["deleted"] and (row.get("depends_on") or row.get("derived_from"))
                   for _mid, row in self.rows())

    def text_candidates(self, words: list[str]) -> set[str] | None:
        """Ids that may match every free-text word, from an index; ``None``: no index (the
        caller checks every model)."""
        del words
        return None

    def referencing(self, target: str) -> list[str]:
        """Ids of the models that may hold a relationship to ``target`` (a superset; the
        caller checks each one's relationships)."""
        return [mid for mid in self if mid != target]

    def is_decoded(self, model_id: str) -> bool:
        """Whether ``model_id`` is held as a decoded (possibly changed) entry."""
        return model_id in self._live

    def drop_decoded(self, model_id: str) -> None:
        """Forget a decoded entry's unsaved changes (a document that will not be written).

        The in-memory map has nowhere else to read the entry from, so it keeps it.
        """

    def freeze(self, model_id: str) -> bool:
        """Hand a changed entry to the store now (bounds memory); True when it changed.

        The in-memory map has no store: it reports whether the entry was ever changed.
        """
        return model_id in self._changed

    def flush(self) -> None:
        """Hand every decoded entry to the store (nothing to do in memory)."""

    def take_changes(self) -> tuple[set[str], set[str]]:
        """Models changed and models removed since the last call (both sets are reset).

        Returns:
            ``(changed ids, removed ids)``.
        """
        self.flush()
        changed, removed = self._changed, self._removed
        self._changed, self._removed = set(), set()
        return changed, removed


__all__ = ["LazyLoadError", "ModelMap"]

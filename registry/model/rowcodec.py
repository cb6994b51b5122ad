"""Index rows of registry models, and the compact JSON encoder.

An index row (:func:`index_row`) is the small dict of fields that all-model callers need
(the scanner, relationships, search, list); the database stores it as each model's
``summary`` column so it can be read without reading the model's other rows.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from registry.model.entries import FileStat, ModelEntry

IndexRow = dict[str, Any]
"""One model's index row (see :func:`index_row`)."""

COMPUTED_RELATIONSHIP_TYPES: frozenset[str] = frozenset({
    "depends_on", "derived_from", "depends_on_unresolved", "derived_from_unresolved",
    "same_family", "same_file",
})
"""Relationship types recomputed by :mod:`registry.model.relations` (every other type is kept)."""


# One encoder for the process: json.dumps() with non-default options builds a new encoder on
# every call, which costs more than encoding a small value.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_ENCODE_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def _utf8(value: Any) -> bytes:
    text = _ENCODE(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A path that is not UTF-8 arrives as str with surrogate escapes ("bad_\udcff.md").
        # Such a string has no UTF-8 form; JSON's \u escapes carry it, and the decoder gives
        # the very same string back, so the path round-trips.
        return _ENCODE_ASCII(value).encode("ascii")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON through the C encoder (no indent, no ASCII escaping).

    Values holding lone surrogates (file names that are not UTF-8) are written with ASCII
    escapes instead, which read back as the same strings.
    """
    return _utf8(value)


def relationships_digest(pairs: list[list[str]]) -> str:
    """A short digest of a relationships list (``[[type, target], ...]`` in order)."""
    return hashlib.sha256(dumps(pairs)).hexdigest()[:16]


def current_metadata(entry: ModelEntry) -> dict[str, Any]:
    """The metadata of ``entry``'s current version (the model-level copy as a fallback)."""
    record = entry.current
    if record is not None and record.metadata:
        return record.metadata
    return entry.metadata


def index_row(entry: ModelEntry) -> IndexRow:
    """The index row of ``entry``.

    Keys: ``file_path``, ``source_index``, ``sha256``, ``file_stat`` (``[size, mtime_ns,
    inode, device, recorded_ns]`` or ``null``), ``state``, ``deleted``, ``findings`` (how
    many), ``version``, ``model_count``, ``model_name``, ``description``, ``tags``,
    ``aliases``, ``signature``, ``relationships`` (digest of the list without the
    ``same_family`` links, which follow from ``signature``), ``kept`` (the
    relationships of types :mod:`registry.model.relations` does not compute), and ``depends_on`` /
    ``derived_from`` of the current version when declared.
    """
    meta = current_metadata(entry)
    signature = meta.get("signature")
    if not (isinstance(signature, str) and signature):
        record = entry.current
        signature = record.signature if record is not None else ""
    stat = entry.file_stat
    pairs = [[r.type, r.target] for r in entry.relationships if r.type != "same_family"]
    row: IndexRow = {
        "file_path": entry.file_path,
        "source_index": entry.source_index,
        "sha256": entry.sha256,
        "file_stat": ([stat.size, stat.mtime_ns, stat.inode, stat.device, stat.recorded_ns]
                      if stat is not None else None),
        "state": entry.state,
        "deleted": entry.deleted,
        "findings": len(entry.findings),
        "version": entry.version,
        "model_count": int(entry.metadata.get("model_count", 1) or 1),
        "model_name": entry.model_name,
        "description": entry.description,
        "tags": list(entry.tags),
        "aliases": dict(entry.aliases),
        "signature": signature,
        "relationships": relationships_digest(pairs),
        "kept": [p for p in pairs if p[0] not in COMPUTED_RELATIONSHIP_TYPES],
    }
    for key in ("depends_on", "derived_from"):
        if meta.get(key):
            row[key] = meta[key]
    return row


def row_stat(row: IndexRow) -> FileStat | None:
    """The recorded :class:`FileStat` of a row (``None`` when never recorded)."""
    raw = row.get("file_stat")
    if not raw:
        return None
    return FileStat(int(raw[0]), int(raw[1]), int(raw[2]), int(raw[3]), int(raw[4]))


__all__ = [
    "COMPUTED_RELATIONSHIP_TYPES",
    "IndexRow",
    "current_metadata",
    "dumps",
    "index_row",
    "relationships_digest",
    "row_stat",
]

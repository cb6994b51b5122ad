"""The JSON the query commands print with ``--json``, as pure functions (document in, data out).

``gnn-registry list/search/show/history/diff/deps --json`` and the MCP server's tools build
their results here, so both give the same JSON for the same request. Nothing here prints or
reads the store; a missing model, version or alias raises
:class:`~registry.errors.NotFoundError` with the message the CLI prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registry.model.query import diff, get_entry, resolve, search
from registry.model.records import ModelEntry, RegistryDoc
from registry.model.relations import current_metadata, related


def summary(entry: ModelEntry) -> dict[str, Any]:
    """The JSON row of a model in ``list``/``search`` (state and aliases always present)."""
    meta = current_metadata(entry)
    return {
        "model_id": entry.model_id,
        "model_name": entry.model_name,
        "version": entry.version,
        "state": entry.state,
        "file_invalid": bool(entry.findings),
        "aliases": dict(sorted(entry.aliases.items())),
        "tags": list(entry.tags),
        "description": entry.description,
        "file_path": entry.file_path,
        "variables": meta.get("variables"),
        "connections": meta.get("connections"),
        "updated_at": entry.updated_at,
    }


def list_entries(doc: RegistryDoc, *, state: str | None = None,
                 include_removed: bool = False) -> list[ModelEntry]:
    """The models ``list`` shows: live ones by id; ``removed`` ones only when asked or named."""
    entries = doc.models.listing()  # summary rows only: no versions or history are read
    if state:
        return [e for e in entries if e.state == state]
    if not include_removed:
        return [e for e in entries if e.state != "removed"]
    return entries


def list_json(doc: RegistryDoc, *, state: str | None = None,
              include_removed: bool = False) -> list[dict[str, Any]]:
    """``list --json`` (``--state STATE``, ``--all``)."""
    return [summary(e) for e in list_entries(doc, state=state, include_removed=include_removed)]


def search_json(doc: RegistryDoc, query: str | Sequence[str], *, any_match: bool = False,
                include_removed: bool = True) -> list[dict[str, Any]]:
    """``search QUERY --json`` (``--any``, ``--no-removed``).

    Raises:
        NotFoundError: the query names an unknown state.
    """
    found = search(doc, query, any_match=any_match, include_removed=include_removed)
    return [summary(e) for e in found]


def show_json(doc: RegistryDoc, ref: str) -> dict[str, Any]:
    """``show ID[@VERSION] --json``: the whole model, or one version of it.

    Raises:
        NotFoundError: no such model, version or alias.
    """
    entry, rec = resolve(doc, ref)
    if "@" not in ref or ref in doc.models:
        return entry.to_dict()
    marks = [a for a, v in sorted(entry.aliases.items()) if v == rec.version]
    return {"model_id": entry.model_id, "model_name": entry.model_name,
            "state": entry.state, "current": rec.version == entry.version,
            "aliases": marks, **rec.to_dict()}


def history_json(doc: RegistryDoc, model_id: str) -> dict[str, Any]:
    """``history ID --json`` (a deleted model's history too).

    Raises:
        NotFoundError: no such model.
    """
    entry = get_entry(doc, model_id, include_deleted=True)
    return {"model_id": entry.model_id, "deleted": entry.deleted,
            "history": [h.to_dict() for h in entry.history]}


def diff_json(doc: RegistryDoc, model_id: str, v1: str, v2: str) -> dict[str, Any]:
    """``diff ID V1 V2 --json``.

    Raises:
        NotFoundError: no such model, version or alias, or a pruned version.
    """
    return diff(doc, model_id, v1, v2)


def deps_json(doc: RegistryDoc, model_id: str) -> dict[str, Any]:
    """``deps ID --json``: relationships in both directions.

    Raises:
        NotFoundError: no such model.
    """
    return related(doc, model_id)


__all__ = ["deps_json", "diff_json", "history_json", "list_entries", "list_json",
           "search_json", "show_json", "summary"]

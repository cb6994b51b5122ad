"""Read-side use cases: look a model up, resolve ``ID@VERSION`` references, diff versions.

:func:`search` (see :mod:`registry.model.search` for the query language) is re-exported here.

Reference forms accepted by :func:`resolve`: ``ID`` (the current version), ``ID@1.2.0`` (a
version number), ``ID@alias`` (a named pointer) and ``ID@latest`` (always the current
version). Deleted models are invisible to every function here except
:func:`get_entry` with ``include_deleted=True`` (the CLI's ``history`` uses it so an audit
trail survives deletion).

:func:`diff` compares two versions' ``metadata["structure"]`` (see
:func:`registry.gnn.structure`) and reports variables added/removed/changed with their old
and new dimensions and types, edges added/removed, parameters added/removed/changed, other
structural changes (model parameters, time, ontology), changes of the remaining metadata
fields, and the bump kind :func:`registry.gnn.bump_kind` implies for that change. A version
whose metadata was pruned cannot be diffed (``NotFoundError``).
"""

from __future__ import annotations

import re
from typing import Any

from registry.errors import NotFoundError
from registry.gnn import bump_kind, diff_structures
from registry.model.records import ModelEntry, RegistryDoc, VersionRecord
from registry.model.search import search

SEMVER = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?")
"""What a version number looks like in a reference."""

_STRUCTURE_DERIVED = frozenset({
    "structure", "sha256", "variables", "connections", "dimensions", "types", "ontology",
    "model_parameters", "time",
})


def get_entry(doc: RegistryDoc, model_id: str, *, include_deleted: bool = False) -> ModelEntry:
    """The model ``model_id``.

    Raises:
        NotFoundError: no such model (or it is deleted and ``include_deleted`` is false).
    """
    entry = doc.models.get(model_id)
    if entry is None or (entry.deleted and not include_deleted):
        msg = f"no model {model_id!r} in the registry"
        raise NotFoundError(msg)
    return entry


def resolve(doc: RegistryDoc, ref: str) -> tuple[ModelEntry, VersionRecord]:
    """Resolve ``ID``, ``ID@VERSION``, ``ID@ALIAS`` or ``ID@latest``.

    Args:
        doc: the registry document.
        ref: the reference.

    Returns:
        The model and the version record the reference names (a pruned record is returned
        as is; check ``record.pruned``).

    Raises:
        NotFoundError: the model, version or alias does not exist.
    """
    if ref in doc.models and not doc.models[ref].deleted:
        model_id, selector = ref, "latest"
    else:
        model_id, _, selector = ref.rpartition("@")
        if not model_id:
            model_id, selector = ref, "latest"
    entry = get_entry(doc, model_id)
    version = version_for(entry, selector or "latest")
    record = entry.version_record(version)
    if record is None:
        msg = f"model {model_id!r} has no record of version {version}"
        raise NotFoundError(msg)
    return entry, record


def version_for(entry: ModelEntry, selector: str) -> str:
    """The version number ``selector`` (a version, an alias or ``latest``) names.

    Raises:
        NotFoundError: no such version or alias.
    """
    if selector == "latest":
        return entry.version
    if SEMVER.fullmatch(selector):
        if entry.version_record(selector) is None:
            known = ", ".join(v.version for v in entry.versions) or "none"
            msg = f"model {entry.model_id!r} has no version {selector} (versions: {known})"
            raise NotFoundError(msg)
        return selector
    if selector in entry.aliases:
        return entry.aliases[selector]
    aliases = ", ".join(["latest", *sorted(entry.aliases)])
    msg = (f"model {entry.model_id!r} has no version or alias {selector!r} "
           f"(aliases: {aliases})")
    raise NotFoundError(msg)


def _structure(entry: ModelEntry, record: VersionRecord) -> dict[str, Any]:
    if record.pruned:
        msg = (f"version {record.version} of model {entry.model_id!r} was pruned; its "
               "metadata is gone, so it cannot be compared")
        raise NotFoundError(msg)
    value = record.metadata.get("structure")
    return value if isinstance(value, dict) else {}


def _mapping(structure: dict[str, Any], key: str) -> dict[str, Any]:
    value = structure.get(key)
    return value if isinstance(value, dict) else {}


def _var(info: Any) -> dict[str, Any]:
    if isinstance(info, dict):
        return {"dims": info.get("dims"), "type": info.get("type")}
    return {"dims": None, "type": None}


def _variables(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    before, after = _mapping(old, "variables"), _mapping(new, "variables")
    return {
        "added": [{"name": n, **_var(after[n])} for n in sorted(after.keys() - before.keys())],
        "removed": [{"name": n, **_var(before[n])}
                    for n in sorted(before.keys() - after.keys())],
        "changed": [{"name": n, "old": _var(before[n]), "new": _var(after[n])}
                    for n in sorted(before.keys() & after.keys())
                    if _var(before[n]) != _var(after[n])],
    }


def _edges(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    def as_set(structure: dict[str, Any]) -> set[tuple[str, str, bool]]:
        out: set[tuple[str, str, bool]] = set()
        for edge in structure.get("edges") or []:
            if isinstance(edge, list | tuple) and len(edge) >= 2:
                out.add((str(edge[0]), str(edge[1]), bool(edge[2]) if len(edge) > 2 else True))
        return out

    def render(edges: set[tuple[str, str, bool]]) -> list[dict[str, Any]]:
        return [{"source": s, "target": t, "directed": d} for s, t, d in sorted(edges)]

    before, after = as_set(old), as_set(new)
    return {"added": render(after - before), "removed": render(before - after)}


def _keyed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
    }


def _changes(before: dict[str, Any], after: dict[str, Any],
             skip: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    return {k: {"old": before.get(k), "new": after.get(k)}
            for k in sorted((before.keys() | after.keys()) - skip)
            if before.get(k) != after.get(k)}


def diff(doc: RegistryDoc, model_id: str, v1: str, v2: str) -> dict[str, Any]:
    """Structural and metadata differences from version ``v1`` to version ``v2``.

    Args:
        doc: the registry document.
        model_id: the model.
        v1: the old side: a version number, an alias or ``latest``.
        v2: the new side, in the same forms.

    Returns:
        ``{"model_id", "from", "to", "from_sha256", "to_sha256", "identical", "variables":
        {"added", "removed", "changed"}, "edges": {"added", "removed"}, "parameters":
        {"added", "removed", "changed"}, "other": {field: {"old", "new"}}, "metadata":
        {field: {"old", "new"}}, "bump"}``.

    Raises:
        NotFoundError: the model or a version does not exist, or a version was pruned.
    """
    entry = get_entry(doc, model_id)
    old_rec = entry.version_record(version_for(entry, v1))
    new_rec = entry.version_record(version_for(entry, v2))
    if old_rec is None or new_rec is None:  # pragma: no cover - version_for checked
        msg = f"model {model_id!r} has no record of the requested versions"
        raise NotFoundError(msg)
    old, new = _structure(entry, old_rec), _structure(entry, new_rec)
    other: dict[str, Any] = {}
    for key in sorted((old.keys() | new.keys()) - {"variables", "edges", "parameters"}):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict | None) and isinstance(after, dict | None):
            other[key] = _changes(before or {}, after or {})
        else:
            other[key] = {"old": before, "new": after}
    return {
        "model_id": model_id,
        "from": old_rec.version,
        "to": new_rec.version,
        "from_sha256": old_rec.sha256,
        "to_sha256": new_rec.sha256,
        "identical": old_rec.sha256 == new_rec.sha256,
        "variables": _variables(old, new),
        "edges": _edges(old, new),
        "parameters": _keyed(_mapping(old, "parameters"), _mapping(new, "parameters")),
        "other": other,
        "metadata": _changes(old_rec.metadata, new_rec.metadata, _STRUCTURE_DERIVED),
        "bump": ("none" if old_rec.sha256 == new_rec.sha256
                 else str(bump_kind(diff_structures(old, new)))),
    }


__all__ = ["SEMVER", "diff", "get_entry", "resolve", "search", "version_for"]

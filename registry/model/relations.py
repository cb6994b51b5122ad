"""Typed relationships between models, recomputed from the registry on every registration.

:func:`refresh_relationships` rebuilds every live model's ``relationships`` list from the
current versions' metadata; :func:`related` answers "what does this model point at, and what
points at it".

Types and how they are computed:

``depends_on`` / ``derived_from``
    Declared in the front matter of the current version (``metadata["depends_on"]``,
    ``metadata["derived_from"]``, a list of strings or one string). Each reference is resolved
    to a model id, trying in order: an exact model id, a model name (case-insensitive), a file
    stem (case-insensitive); deleted models never match, and when several models match the
    one that is not ``removed`` wins. A reference that matches no model or stays ambiguous is
    kept with the type ``depends_on_unresolved`` / ``derived_from_unresolved`` and the text as
    written as its target, so nothing the author declared is lost; it resolves by itself on a
    later refresh once the target is registered. A model never points at itself.
``same_family``
    Models whose current version has the same structural ``signature`` (same variables and
    edges, other sizes or values: the scaling-study files). Removed and deleted models are
    left out.
``same_file``
    Models split from one multi-model file (same ``file_path``), removed/deleted left out.
``renamed_from``
    Added by the scanner when a file moves (target: the old path). Never recomputed here and
    never dropped; relationships of any other type this module does not compute are kept too.

Groups (a family, the models of one file) of up to :data:`MESH_LIMIT` members are linked
all-to-all. A larger group would need O(n²) edges, so it is linked as a star around its
smallest id instead (the hub points at every member, every member at the hub); the group is
still found from any member in at most two hops. Relationships are sorted by (type, target),
so an unchanged registry refreshes to identical JSON and the store writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

from registry.errors import NotFoundError
from registry.model.records import ModelEntry, RegistryDoc, Relationship
from registry.model.rowcodec import (
    COMPUTED_RELATIONSHIP_TYPES,
    IndexRow,
    current_metadata,
    relationships_digest,
)

DECLARED_TYPES: tuple[str, ...] = ("depends_on", "derived_from")
"""Relationship types read from front matter."""

COMPUTED_TYPES: frozenset[str] = COMPUTED_RELATIONSHIP_TYPES
"""Types :func:`refresh_relationships` owns; every other type (``renamed_from``) is kept."""

UNRESOLVED_SUFFIX = "_unresolved"
"""Suffix of a declared type whose target text names no model (yet)."""

SCOPED_LIMIT = 256
"""Up to this many touched models the refresh is scoped; a large scan refreshes everything
(one pass over the index rows beats a lookup per group)."""

MESH_LIMIT = 32
"""Largest group linked all-to-all; bigger groups become a star around the smallest id."""


def signature_of(entry: ModelEntry) -> str:
    """The structural signature of ``entry``'s current version, or ``""`` if unknown."""
    value = current_metadata(entry).get("signature")
    if isinstance(value, str) and value:
        return value
    record = entry.current
    return record.signature if record is not None else ""


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        items = [value]
    return [str(i).strip() for i in items if str(i).strip()]


class _Resolver:
    """Maps a declared reference (id, name or file stem) to a model id (from index rows)."""

    def __init__(self, rows: Iterable[tuple[str, IndexRow]]) -> None:
        self.ids: set[str] = set()
        self.by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.by_stem: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for mid, row in rows:
            if row["deleted"]:
                continue
            self.ids.add(mid)
            self.by_name[str(row["model_name"]).casefold()].append((mid, row["state"]))
            path = str(row["file_path"])
            stem = PurePath(path).stem if path else ""
            if stem:
                self.by_stem[stem.casefold()].append((mid, row["state"]))

    @staticmethod
    def _pick(candidates: list[tuple[str, str]]) -> str | None:
        if len(candidates) == 1:
            return candidates[0][0]
        live = [mid for mid, state in candidates if state != "removed"]
        if len(live) == 1:
            return live[0]
        return None

    def resolve(self, ref: str) -> str | None:
        if ref in self.ids:
            return ref
        key = ref.casefold()
        for table in (self.by_name, self.by_stem):
            found = self._pick(table.get(key, []))
            if found is not None:
                return found
            if table.get(key):
                return None  # ambiguous: do not guess further
        return None


def _declared(model_id: str, row: IndexRow, resolver: _Resolver) -> set[Relationship]:
    out: set[Relationship] = set()
    for kind in DECLARED_TYPES:
        for ref in _as_list(row.get(kind)):
            target = resolver.resolve(ref)
            if target == model_id:
                continue
            if target is None:
                out.add(Relationship(kind + UNRESOLVED_SUFFIX, ref))
            else:
                out.add(Relationship(kind, target))
    return out


def group_links(members: list[str], model_id: str) -> Iterable[str]:
    """The members ``model_id`` links to within its group (sorted ``members``)."""
    if len(members) < 2:
        return ()
    if len(members) <= MESH_LIMIT or model_id == members[0]:
        return (m for m in members if m != model_id)
    return (members[0],)  # a large group is a star around its smallest id


def _wanted(mid: str, row: IndexRow, family: list[str], files: list[str],
            resolver: _Resolver) -> list[Relationship]:
    wanted = {Relationship(str(t), str(x)) for t, x in row["kept"]}
    if not row["deleted"]:
        wanted |= _declared(mid, row, resolver)
        if row["state"] != "removed":
            if row["signature"]:
                wanted.update(Relationship("same_family", t) for t in group_links(family, mid))
            if row["file_path"]:
                wanted.update(Relationship("same_file", t) for t in group_links(files, mid))
    return sorted(wanted, key=lambda r: (r.type, r.target))


def _apply(doc: RegistryDoc, mid: str, row: IndexRow, ordered: list[Relationship]) -> None:
    derived = doc.models.derives_families
    if derived and relationships_digest(
            [[r.type, r.target] for r in ordered if r.type != "same_family"]
    ) == row["relationships"]:
        return
    held = doc.models.is_decoded(mid)
    entry = doc.models[mid]
    if derived:  # the store's own same_family links stay as read
        ordered = sorted([*ordered, *(r for r in entry.relationships
                                      if r.type == "same_family")],
                         key=lambda r: (r.type, r.target))
    if ordered != entry.relationships:
        entry.relationships = ordered
    if not held:
        doc.models.freeze(mid)


def _grouped(row: IndexRow) -> bool:
    return not row["deleted"] and row["state"] != "removed"


def _refresh_scoped(doc: RegistryDoc, touched: tuple[set[str], set[str], set[str]]) -> None:
    """The refresh for a store that can look groups up: only the models in a file or a
    family that a change in this transaction entered or left are recomputed (no model
    declares references, so nothing else can change)."""
    models = doc.models
    ids, paths, families = touched
    family_cache: dict[str, list[str]] = {}
    file_cache: dict[str, list[str]] = {}

    def family(sig: str) -> list[str]:
        if sig not in family_cache:
            rows = ((m, models.row(m)) for m in set(models.family_ids(sig)) if m in models)
            family_cache[sig] = sorted(m for m, r in rows if r["signature"] == sig
                                       and _grouped(r))
        return family_cache[sig]

    def files(path: str) -> list[str]:
        if path not in file_cache:
            rows = ((m, models.row(m)) for m in set(models.ids_at_path(path)) if m in models)
            file_cache[path] = sorted(m for m, r in rows if r["file_path"] == path
                                      and _grouped(r))
        return file_cache[path]

    derived = models.derives_families
    scope = {m for m in ids if m in models}
    for sig in families:
        if sig and not derived:
            scope.update(family(sig))
    for path in paths:
        if path:
            scope.update(files(path))
    resolver = _Resolver(())
    for mid in sorted(scope):
        row = models.row(mid)
        ordered = _wanted(mid, row,
                          family(row["signature"]) if row["signature"] and not derived else [],
                          files(row["file_path"]) if row["file_path"] else [], resolver)
        _apply(doc, mid, row, ordered)


def refresh_relationships(doc: RegistryDoc) -> None:
    """Recompute declared and structural relationships of every live model in place.

    Deleted models lose every computed relationship; ``renamed_from`` (and any type this
    module does not compute) is kept as it is. The result is sorted by (type, target).
    Works on the index rows: only models whose relationships change are decoded (and,
    when nobody held them decoded, encoded again at once). Each model's edges are computed
    when it is visited, from the group it belongs to, so memory stays proportional to the
    largest group rather than to the number of edges in the registry.

    A store that knows what the open transaction touched and can look groups up
    (:meth:`~registry.model.modelmap.ModelMap.touched`) gets a scoped refresh instead: only the
    members of the files and families a touched model is in or left are recomputed, unless
    some model declares references (their resolution may depend on any model).
    """
    touched = doc.models.touched()
    if (touched is not None and len(touched[0]) <= SCOPED_LIMIT
            and not doc.models.any_declares()):
        _refresh_scoped(doc, touched)
        return
    families: dict[str, list[str]] = defaultdict(list)
    files: dict[str, list[str]] = defaultdict(list)
    declared = False
    for mid, row in doc.models.rows():
        if row["deleted"]:
            continue
        declared = declared or any(row.get(kind) for kind in DECLARED_TYPES)
        if row["state"] == "removed":
            continue
        if row["signature"] and not doc.models.derives_families:
            families[row["signature"]].append(mid)
        if row["file_path"]:
            files[row["file_path"]].append(mid)
    for group in (*families.values(), *files.values()):
        group.sort()
    # The reference tables are built only when some model declares a reference.
    resolver = _Resolver(doc.models.rows() if declared else ())
    for mid, row in doc.models.rows():
        ordered = _wanted(mid, row, families.get(row["signature"], []),
                          files.get(row["file_path"], []), resolver)
        _apply(doc, mid, row, ordered)


def _describe(doc: RegistryDoc, target: str) -> dict[str, Any]:
    other = doc.models.get(target)
    if other is None or other.deleted:
        return {"resolved": False}
    return {"resolved": True, "model_name": other.model_name, "state": other.state}


def related(doc: RegistryDoc, model_id: str) -> dict[str, Any]:
    """Relationships of ``model_id`` in both directions.

    Returns:
        ``{"model_id", "outgoing": [{"type", "target", "resolved", "model_name"?,
        "state"?}], "incoming": [{"type", "source", "model_name", "state"}]}``; incoming
        edges come from live models only. Both lists are sorted by (type, other end).

    Raises:
        NotFoundError: no live model ``model_id``.
    """
    entry = doc.models.get(model_id)
    if entry is None or entry.deleted:
        msg = f"no model {model_id!r} in the registry"
        raise NotFoundError(msg)
    outgoing = [{"type": r.type, "target": r.target, **_describe(doc, r.target)}
                for r in sorted(entry.relationships, key=lambda r: (r.type, r.target))]
    incoming: list[dict[str, Any]] = []
    for other_id in doc.models.referencing(model_id):  # only models that may point here
        other = doc.models[other_id]
        if other.deleted or other_id == model_id:
            continue
        incoming.extend({"type": rel.type, "source": other_id, "model_name": other.model_name,
                         "state": other.state}
                        for rel in other.relationships if rel.target == model_id)
    incoming.sort(key=lambda r: (r["type"], r["source"]))
    return {"model_id": model_id, "outgoing": outgoing, "incoming": incoming}


__all__ = [
    "COMPUTED_TYPES",
    "DECLARED_TYPES",
    "MESH_LIMIT",
    "SCOPED_LIMIT",
    "UNRESOLVED_SUFFIX",
    "current_metadata",
    "group_links",
    "refresh_relationships",
    "related",
    "signature_of",
]

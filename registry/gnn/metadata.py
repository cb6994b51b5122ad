"""Metadata, structural signature and structural diff of a GNN model.

- :func:`extract` gives the JSON-ready metadata the registry stores on each version.
- :func:`signature` fingerprints a model's *graph* (variable names and edges, no sizes or
  values): models of one family, such as the scaling-study files N4..N64, share it.
- :func:`structure` is the JSON form kept per version for structural diffs;
  :func:`diff_structures` compares two of them and :func:`bump_kind` turns the difference
  into a semantic-version bump (design.md section 5).

Counting rules: ``variables`` is the number of distinct declared names; ``connections`` is
the number of edge *statements* (lines) in ``## Connections``, so a grouped statement
``(a, b)>c`` counts once, as in the reference's counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from registry.gnn.model import GnnFile, GnnModel

DESCRIPTION_LIMIT = 500
"""Longest description kept, in characters."""

BumpKind = Literal["major", "minor", "patch"]
"""The part of a semantic version a change bumps."""

Edge = tuple[str, str, bool]
"""An edge as ``(source, target, directed)``; undirected edges have sorted endpoints."""


def _as_str(value: str | list[str] | None) -> str | None:
    """A front-matter value as one string (lists joined with ``, ``)."""
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(value) or None
    return value.strip() or None


def _as_list(value: str | list[str] | None) -> list[str]:
    """A front-matter value as a list of strings (a string is split on commas)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else value.split(",")
    return [item.strip() for item in items if item.strip()]


def _first_paragraph(text: str | None) -> str | None:
    """The first paragraph of Markdown text: non-comment lines up to the first blank line."""
    if not text:
        return None
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if lines:
                break
            continue
        if line.startswith("#"):
            continue
        lines.append(line)
    return " ".join(lines) or None


def _trim(text: str | None) -> str | None:
    """``text`` cut to :data:`DESCRIPTION_LIMIT` characters."""
    if text is None:
        return None
    return text[:DESCRIPTION_LIMIT].rstrip()


def _edges(model: GnnModel) -> list[Edge]:
    """The model's distinct edges in canonical, sorted form."""
    out: set[Edge] = set()
    for edge in model.connections:
        src, tgt = edge.source, edge.target
        if not edge.directed and tgt < src:
            src, tgt = tgt, src
        out.add((src, tgt, edge.directed))
    return sorted(out)


def _statement_count(model: GnnModel) -> int:
    """Edge statements: connections on distinct lines (a grouped edge counts once)."""
    return len({edge.line for edge in model.connections})


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
"""One encoder for the process (``json.dumps`` with options builds a new one per call)."""


def _digest(data: Any) -> str:
    """Hex SHA-256 of the canonical JSON form of ``data``."""
    text = _CANONICAL(data)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def signature(model: GnnModel) -> str:
    """The structural fingerprint of a model, without sizes, types or values.

    Args:
        model: the model.

    Returns:
        Hex SHA-256 of the sorted variable names and the sorted edges
        ``(source, target, directed)`` (undirected edges with sorted endpoints).
    """
    names = sorted({var.name for var in model.variables})
    edges = [list(edge) for edge in _edges(model)]
    return _digest({"variables": names, "edges": edges})


def _signature_of(struct: dict[str, Any]) -> str:
    """:func:`signature` computed from the model's :func:`structure` (same names, same edges)."""
    return _digest({"variables": sorted(struct["variables"]), "edges": struct["edges"]})


_ASCII_WHITESPACE = bytes(code for code in range(128) if chr(code).isspace())


def _value_digest(raw: str) -> str:
    """Hex SHA-256 of a parameter's value text with all whitespace removed."""
    if raw.isascii():
        # The same bytes as "".join(raw.split()), without one string object per word.
        compact = raw.encode("ascii").translate(None, _ASCII_WHITESPACE)
    else:
        compact = "".join(raw.split()).encode("utf-8")
    return hashlib.sha256(compact).hexdigest()


def structure(model: GnnModel) -> dict[str, Any]:
    """The JSON form of a model used for structural diffs between versions.

    Args:
        model: the model.

    Returns:
        ``{"variables": {name: {"dims": [...], "type": t}}, "edges": [[src, tgt, directed],
        ...], "parameters": {name: sha256}, "model_parameters": {k: v}, "time": {k: v},
        "ontology": {name: term}}``; for repeated names the first declaration and the last
        assignment, annotation or key win.
    """
    variables: dict[str, dict[str, Any]] = {}
    for var in model.variables:
        variables.setdefault(var.name, {"dims": list(var.dims), "type": var.type})
    return {
        "variables": variables,
        "edges": [list(edge) for edge in _edges(model)],
        "parameters": {p.name: _value_digest(p.raw) for p in model.parameters},
        "model_parameters": {e.key: e.value for e in model.model_parameters},
        "time": {item.key: item.value for item in model.time},
        "ontology": {a.name: a.term for a in model.annotations},
    }


def extract(gnn: GnnFile, model: GnnModel, *, sha256: str) -> dict[str, Any]:
    """The JSON-ready metadata of one model of a file.

    Args:
        gnn: the parsed file (front matter, model count).
        model: the model (one of ``gnn.models``).
        sha256: hex SHA-256 of the file's bytes.

    Returns:
        A mapping with ``model_name``, ``gnn_section``, ``language_version``, ``variables``,
        ``connections``, ``dimensions``, ``types``, ``ontology``, ``model_parameters``,
        ``declared_version``, ``tags``, ``author``, ``license``, ``description``,
        ``depends_on``, ``derived_from``, ``sections``, ``time``, ``signature``, ``sha256``,
        ``structure``, ``model_index`` and ``model_count``.
    """
    front = gnn.front_matter
    struct = structure(model)
    description = _as_str(front.get("description")) or _first_paragraph(model.annotation)
    return {
        "model_name": model.name,
        "gnn_section": model.gnn_section,
        "language_version": model.language_version,
        "variables": len(struct["variables"]),
        "connections": _statement_count(model),
        "dimensions": {name: info["dims"] for name, info in struct["variables"].items()},
        "types": {name: info["type"] for name, info in struct["variables"].items()},
        "ontology": struct["ontology"],
        "model_parameters": struct["model_parameters"],
        "declared_version": _as_str(front.get("version")),
        "tags": _as_list(front.get("tags")),
        "author": _as_str(front.get("author")),
        "license": _as_str(front.get("license")),
        "description": _trim(description),
        "depends_on": _as_list(front.get("depends_on")),
        "derived_from": _as_list(front.get("derived_from")),
        "sections": [sec.name for sec in model.sections],
        "time": struct["time"],
        "signature": _signature_of(struct),
        "sha256": sha256,
        "structure": struct,
        "model_index": model.index,
        "model_count": len(gnn.models),
    }


@dataclass(frozen=True, slots=True)
class StructuralDiff:
    """What changed between two :func:`structure` documents.

    Attributes:
        added_variables / removed_variables: names only in the new / old structure.
        changed_variables: names in both whose dimensions or type differ.
        added_edges / removed_edges: ``(source, target, directed)`` edges.
        changed_parameters: parameter names added, removed or given another value.
        other_changes: which of ``model_parameters``, ``time``, ``ontology`` differ.
    """

    added_variables: tuple[str, ...] = ()
    removed_variables: tuple[str, ...] = ()
    changed_variables: tuple[str, ...] = ()
    added_edges: tuple[Edge, ...] = ()
    removed_edges: tuple[Edge, ...] = ()
    changed_parameters: tuple[str, ...] = ()
    other_changes: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the two structures are the same."""
        return not any((self.added_variables, self.removed_variables, self.changed_variables,
                        self.added_edges, self.removed_edges, self.changed_parameters,
                        self.other_changes))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (edges as ``[source, target, directed]`` lists)."""
        return {
            "added_variables": list(self.added_variables),
            "removed_variables": list(self.removed_variables),
            "changed_variables": list(self.changed_variables),
            "added_edges": [list(e) for e in self.added_edges],
            "removed_edges": [list(e) for e in self.removed_edges],
            "changed_parameters": list(self.changed_parameters),
            "other_changes": list(self.other_changes),
        }


def _edge_set(items: Iterable[Any]) -> set[Edge]:
    """Edges from a structure document (lists from JSON or tuples)."""
    return {(str(e[0]), str(e[1]), bool(e[2])) for e in items}


def _mapping(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``doc[key]`` as a mapping (missing in older documents: empty)."""
    value = doc.get(key)
    return value if isinstance(value, Mapping) else {}


def diff_structures(old: Mapping[str, Any], new: Mapping[str, Any]) -> StructuralDiff:
    """Compare two :func:`structure` documents (as stored, e.g. read back from JSON).

    Args:
        old: the previous version's structure.
        new: the new version's structure.

    Returns:
        The differences, each list sorted.
    """
    old_vars, new_vars = _mapping(old, "variables"), _mapping(new, "variables")
    changed = sorted(
        name for name in set(old_vars) & set(new_vars)
        if list(old_vars[name].get("dims", [])) != list(new_vars[name].get("dims", []))
        or old_vars[name].get("type") != new_vars[name].get("type")
    )
    old_edges, new_edges = _edge_set(old.get("edges", ())), _edge_set(new.get("edges", ()))
    old_params, new_params = _mapping(old, "parameters"), _mapping(new, "parameters")
    params = sorted(name for name in set(old_params) | set(new_params)
                    if old_params.get(name) != new_params.get(name))
    others = tuple(key for key in ("model_parameters", "time", "ontology")
                   if dict(_mapping(old, key)) != dict(_mapping(new, key)))
    return StructuralDiff(
        added_variables=tuple(sorted(set(new_vars) - set(old_vars))),
        removed_variables=tuple(sorted(set(old_vars) - set(new_vars))),
        changed_variables=tuple(changed),
        added_edges=tuple(sorted(new_edges - old_edges)),
        removed_edges=tuple(sorted(old_edges - new_edges)),
        changed_parameters=tuple(params),
        other_changes=others,
    )


def bump_kind(diff: StructuralDiff) -> BumpKind:
    """The version part a change bumps (design.md section 5).

    Args:
        diff: the structural difference between the previous and the new version.

    Returns:
        ``"major"`` when variables are removed or changed (dimensions or type) or edges are
        removed; ``"minor"`` when variables or edges are only added; ``"patch"`` otherwise
        (values, time, ontology, prose, or nothing structural at all).
    """
    if diff.removed_variables or diff.changed_variables or diff.removed_edges:
        return "major"
    if diff.added_variables or diff.added_edges:
        return "minor"
    return "patch"


__all__ = [
    "DESCRIPTION_LIMIT",
    "BumpKind",
    "Edge",
    "StructuralDiff",
    "bump_kind",
    "diff_structures",
    "extract",
    "signature",
    "structure",
]

"""The GNN core: parse, validate and describe GNN (Generalized Notation Notation) files.

A small facade over the modules that do the work:

- :func:`parse_bytes` / :func:`parse_text` (:mod:`registry.gnn.parser`) build a
  :class:`GnnFile` of :class:`GnnModel` values, with the parser's syntax findings;
- :func:`validate` (:mod:`registry.gnn.validate`) adds the semantic findings and
  :func:`has_errors` says whether they block; :func:`check_bytes` does both in one call;
- :func:`extract`, :func:`signature`, :func:`structure`, :func:`diff_structures` and
  :func:`bump_kind` (:mod:`registry.gnn.metadata`) describe a model for the registry.

Importing this package loads only the standard library and these modules.
"""

from __future__ import annotations

from registry.gnn.metadata import (
    StructuralDiff,
    bump_kind,
    diff_structures,
    extract,
    signature,
    structure,
)
from registry.gnn.model import Finding, GnnFile, GnnModel
from registry.gnn.parser import parse_bytes, parse_text
from registry.gnn.validate import CheckResult, check_bytes, has_errors, validate

__all__ = [
    "CheckResult",
    "Finding",
    "GnnFile",
    "GnnModel",
    "StructuralDiff",
    "bump_kind",
    "check_bytes",
    "diff_structures",
    "extract",
    "has_errors",
    "parse_bytes",
    "parse_text",
    "signature",
    "structure",
    "validate",
]

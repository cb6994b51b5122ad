"""Section rules: required (GNN-E001) and expected (GNN-W101) sections, duplicates (GNN-W102).

Required sections are the reference's five strict ones; a heading with an empty body still
counts as present (as in the reference). Expected sections are the four more that renderers
need and ``GNNValidator`` demands. A missing section has no line, so its finding's line is
``None``.
"""

from __future__ import annotations

from collections.abc import Iterator

from registry.gnn.codes import (
    DUPLICATE_SECTION,
    MISSING_EXPECTED_SECTION,
    MISSING_SECTION,
    Code,
)
from registry.gnn.model import Finding
from registry.gnn.rules_common import ModelContext

REQUIRED_SECTIONS: tuple[str, ...] = (
    "GNNSection",
    "GNNVersionAndFlags",
    "ModelName",
    "StateSpaceBlock",
    "Connections",
)
"""Sections whose absence is an error (GNN-E001)."""

EXPECTED_SECTIONS: tuple[str, ...] = (
    "ModelAnnotation",
    "InitialParameterization",
    "Time",
    "Footer",
)
"""Sections whose absence is a warning (GNN-W101)."""


def _missing(ctx: ModelContext, names: tuple[str, ...], code: Code,
             kind: str) -> Iterator[Finding]:
    present = {sec.name for sec in ctx.model.sections}
    for name in names:
        if name not in present:
            yield code.at(None, f"{ctx.where()}{kind} section '## {name}' is missing")


def check_required_sections(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-E001 for each required section the model lacks.

    Args:
        ctx: the model's context.

    Returns:
        One finding per missing required section, with no line.
    """
    return _missing(ctx, REQUIRED_SECTIONS, MISSING_SECTION, "required")


def check_expected_sections(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W101 for each expected (not required) section the model lacks.

    Args:
        ctx: the model's context.

    Returns:
        One finding per missing expected section, with no line.
    """
    return _missing(ctx, EXPECTED_SECTIONS, MISSING_EXPECTED_SECTION, "expected")


def check_duplicate_sections(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W102 at every repeated section heading after the first.

    Args:
        ctx: the model's context.

    Returns:
        One finding per repeated heading, naming the line of the first one.
    """
    first: dict[str, int] = {}
    for sec in ctx.model.sections:
        if sec.name in first:
            yield DUPLICATE_SECTION.at(
                sec.line,
                f"section '## {sec.name}' appears again (first at line {first[sec.name]})")
        else:
            first[sec.name] = sec.line


__all__ = [
    "EXPECTED_SECTIONS",
    "REQUIRED_SECTIONS",
    "check_duplicate_sections",
    "check_expected_sections",
    "check_required_sections",
]

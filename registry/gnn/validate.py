"""Validate a parsed GNN file: every finding, parser's and semantic, sorted by line.

:func:`validate` collects the file's own findings (not text, no sections, bad front matter),
each model's parser findings (GNN-E100..E106, E005, W110, W111) and the semantic findings of
the rules in :data:`RULES`, then sorts them by line (findings without a line, such as a
missing section, come first). Severity decides what blocks: callers use :func:`has_errors`.
:func:`check_bytes` is the one-call form (parse + validate) the registry and the CLI use.

The rules and their decisions are documented in ``docs/validation.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from registry.gnn.codes import NOT_GNN, NOT_TEXT
from registry.gnn.model import Finding, GnnFile
from registry.gnn.parser import parse_bytes
from registry.gnn.rules_common import ModelContext, Rule
from registry.gnn.rules_names import (
    check_annotations,
    check_connection_endpoints,
    check_duplicate_declarations,
    check_model_parameter_keys,
    check_symbolic_dimensions,
    check_types,
    check_unused_variables,
)
from registry.gnn.rules_sections import (
    check_duplicate_sections,
    check_expected_sections,
    check_required_sections,
)
from registry.gnn.rules_values import (
    check_parameter_names,
    check_parameter_shapes,
    check_unreadable_literals,
)

RULES: tuple[Rule, ...] = (
    check_required_sections,
    check_expected_sections,
    check_duplicate_sections,
    check_duplicate_declarations,
    check_types,
    check_symbolic_dimensions,
    check_unused_variables,
    check_connection_endpoints,
    check_parameter_shapes,
    check_parameter_names,
    check_unreadable_literals,
    check_annotations,
    check_model_parameter_keys,
)
"""Every semantic rule, run in this order on each model."""

_NOT_A_GNN_FILE = frozenset({NOT_TEXT.code, NOT_GNN.code})


def _line_key(finding: Finding) -> tuple[int, int]:
    """Sort key: findings without a line first, then by line (stable within a line)."""
    return (0, 0) if finding.line is None else (1, finding.line)


def validate(gnn: GnnFile, *, strict: bool = False) -> tuple[Finding, ...]:  # noqa: ARG001
    """Every finding for a parsed GNN file, sorted by line (``None`` first).

    When the file is not text or not GNN at all (GNN-E100 / GNN-E101), only the parser's
    findings are returned: listing every missing section of a non-GNN file adds nothing.

    Args:
        gnn: the parsed file.
        strict: kept for the API; it does not change the findings (callers decide what
            blocks, see :func:`has_errors`).

    Returns:
        The file's findings and each model's parser and semantic findings.
    """
    findings: list[Finding] = list(gnn.findings)
    skip_rules = any(f.code in _NOT_A_GNN_FILE for f in gnn.findings)
    count = len(gnn.models)
    for model in gnn.models:
        findings.extend(model.findings)
        if skip_rules:
            continue
        ctx = ModelContext.build(model, count)
        for rule in RULES:
            findings.extend(rule(ctx))
    findings.sort(key=_line_key)
    return tuple(findings)


def has_errors(findings: Iterable[Finding], *, strict: bool = False) -> bool:
    """Whether any finding blocks: an error, or (when ``strict``) any finding at all.

    Args:
        findings: findings from :func:`validate`.
        strict: count warnings as errors.

    Returns:
        True when at least one finding blocks.
    """
    return any(strict or f.severity == "error" for f in findings)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of :func:`check_bytes`.

    Attributes:
        gnn: the parsed file.
        findings: every finding, sorted by line.
        ok: true when no finding blocks (errors, or any finding when strict).
    """

    gnn: GnnFile
    findings: tuple[Finding, ...]
    ok: bool


def check_bytes(data: bytes, *, strict: bool = False) -> CheckResult:
    """Parse and validate the bytes of a GNN file.

    Args:
        data: the file's bytes.
        strict: warnings block too.

    Returns:
        The parsed file, its findings and whether it passes.
    """
    gnn = parse_bytes(data)
    findings = validate(gnn, strict=strict)
    return CheckResult(gnn=gnn, findings=findings, ok=not has_errors(findings, strict=strict))


__all__ = ["RULES", "CheckResult", "check_bytes", "has_errors", "validate"]

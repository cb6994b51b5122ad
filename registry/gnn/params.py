"""Reader for the InitialParameterization section: ``NAME = VALUE`` statements.

A statement starts on a line ``NAME = VALUE`` (blanks around ``=`` allowed). While the value
opens more ``{``/``[``/``(`` than it closes, the statement continues over the following
lines (so ``A = [`` on one line, rows below it and ``]`` on the last is one statement);
blank lines and comment lines inside a continuation are skipped and inline ``#`` comments are
cut. A statement still open at the end of the section is ``GNN-E103`` (at its first line); a
non-blank, non-comment line that starts no statement is ``GNN-E105``. A Markdown code-fence
line (``` ``` ``` or ``~~~``, see :mod:`registry.gnn.fences`) between statements is skipped like a
comment.

Values are read with :func:`registry.gnn.literal.read_literal`; a value that is not a numeric
literal (a word, a list of words, a JSON-like object) is kept as text with ``value=None``; the
validator decides whether that deserves a warning.
"""

from __future__ import annotations

import re

from registry.errors import GnnParseError
from registry.gnn import codes
from registry.gnn.fences import is_fence_line
from registry.gnn.lines import NAME
from registry.gnn.literal import read_literal, read_matrix, shape_of
from registry.gnn.model import Finding, NestedValue, Parameter, Section, new_parameter

_STATEMENT = re.compile(rf"^\s*({NAME})\s*=(.*)$", re.DOTALL)
MATRIX_LIMIT = 16_384
"""Longest value text (characters) read with :func:`registry.gnn.literal.read_matrix`."""


def _balance(text: str) -> int:
    """Open minus closed ``{``/``[``/``(`` brackets in ``text``."""
    return (text.count("{") + text.count("(") + text.count("[")
            - text.count("}") - text.count(")") - text.count("]"))


def read_value(raw: str) -> tuple[NestedValue | None, tuple[int, ...] | None, bool]:
    """Read a parameter value and its shape.

    Args:
        raw: the value text (comments removed).

    Returns:
        ``(value, shape, ragged)``: ``value`` is ``None`` when the text is not a numeric
        literal; ``shape`` is ``None`` when there is no value or it is ragged.
    """
    # The commonest layouts, value and shape in one step. A large literal is read row by row
    # (read_literal's fast path): its per-row work is small next to the numbers, and the
    # row-sized temporary strings stay in the CPU cache.
    matrix = read_matrix(raw) if len(raw) <= MATRIX_LIMIT else None
    if matrix is not None:
        return matrix[0], matrix[1], False
    try:
        value = read_literal(raw)
    except GnnParseError:
        return None, None, False
    shape, ragged = shape_of(value)
    return value, shape, ragged


def _make(name: str, parts: list[str], line: int, end_line: int) -> Parameter:
    raw = "\n".join(parts).strip()
    value, shape, ragged = read_value(raw)
    return new_parameter(name, raw, value, shape, line, end_line, ragged)


def read_parameters(section: Section) -> tuple[list[Parameter], list[Finding]]:
    """Read the statements of an InitialParameterization section.

    Args:
        section: a ``## InitialParameterization`` section.

    Returns:
        The parameters in order (repeated names kept) and the ``GNN-E103``/``GNN-E105``
        findings. An unterminated statement is still returned (its ``value`` is ``None``).
    """
    params: list[Parameter] = []
    findings: list[Finding] = []
    name = ""
    parts: list[str] = []
    start = end = 0
    depth = 0
    line = section.line
    # Comment cutting and _balance inlined: this loop runs once per line of every literal.
    for raw_line in section.body:
        line += 1
        cut = raw_line.find("#")
        if cut < 0:
            text = raw_line.rstrip()
            if not text:  # blank
                continue
        else:
            text = raw_line[:cut]
            if not text or text.isspace():  # a comment line
                continue
            text = text.rstrip()
        if depth > 0:
            parts.append(text)
            end = line
            depth += (text.count("{") + text.count("(") + text.count("[")
                      - text.count("}") - text.count(")") - text.count("]"))
            if depth <= 0:
                params.append(_make(name, parts, start, end))
                depth = 0
            continue
        match = _STATEMENT.match(text)
        if match is None:
            if is_fence_line(text):
                continue
            findings.append(codes.BAD_PARAMETER_LINE.at(line, (
                f"InitialParameterization line {raw_line.strip()[:80]!r} is not a NAME=VALUE "
                "statement")))
            continue
        name, first = match.group(1), match.group(2).strip()
        parts = [first]
        start = end = line
        depth = _balance(first)
        if depth <= 0:
            params.append(_make(name, parts, start, end))
            depth = 0
    if depth > 0:
        findings.append(codes.UNTERMINATED_LITERAL.at(start, (
            f"the value of {name!r} opens {depth} more '{{'/'['/'(' than it closes before the "
            "section ends")))
        raw = "\n".join(parts).strip()
        params.append(Parameter(name, raw, None, None, start, end, False))
    return params, findings


__all__ = ["MATRIX_LIMIT", "read_parameters", "read_value"]

"""Readers for the line-oriented GNN sections (StateSpaceBlock, Connections, Time, ...).

Each reader takes one :class:`~registry.gnn.model.Section` and returns the values it holds and
the findings about its lines, with file-absolute line numbers. Blank lines and comment lines
(first non-blank character ``#``) are skipped everywhere; on a value line everything from the
first ``#`` on is an inline comment. InitialParameterization has its own module
(:mod:`registry.gnn.params`).

Names follow the permissive rule: a Unicode letter or ``_`` first, then letters, digits, ``_``,
``'`` or ``+`` (so ``γ``, ``Π_o``, ``s_t+1`` and ``s'`` are names; a name never contains ``-``).
"""

from __future__ import annotations

import re

from registry.gnn import codes
from registry.gnn.model import (
    Annotation,
    Connection,
    Dimension,
    Finding,
    ModelParameter,
    Section,
    TimeItem,
    Variable,
)

NAME = r"[^\W\d][\w'+]*"
"""Regular expression for a GNN variable name."""

NAME_RE = re.compile(NAME)
_NAME_MATCH = NAME_RE.fullmatch
_DECLARATION = re.compile(rf"^({NAME})\[(.*)\]$")
_POSITIVE = re.compile(r"^[0-9]+$")
_LABEL = re.compile(r"^[A-Za-z0-9_]+$")
_KEY_VALUE = re.compile(rf"^({NAME})\s*=\s*(.*)$")
_MP_KEY = re.compile(r"^([^\W\d][\w.\-]*)\s*[:=]\s*(.*)$")
OPERATORS: tuple[str, ...] = ("<->", "->", ">", "-", "|")
"""Connection operators, in the order they are searched for."""
DIRECTED: frozenset[str] = frozenset({">", "->", "|"})
"""Operators that make a directed edge."""
TIME_WORDS: frozenset[str] = frozenset({"static", "dynamic", "discrete", "continuous"})
"""Bare Time words with a meaning (compared case-insensitively)."""
TIME_KEYS: frozenset[str] = frozenset(
    {"time", "discretetime", "continuoustime", "modeltimehorizon"})
"""Time ``key=`` settings with a meaning (compared case-insensitively)."""


def is_name(text: str) -> bool:
    """True when ``text`` is exactly one GNN name."""
    return _NAME_MATCH(text) is not None


def split_comment(line: str) -> tuple[str, str | None]:
    """Split ``line`` at its first ``#``.

    Args:
        line: one body line.

    Returns:
        ``(code, comment)``: the stripped text before the ``#`` and the comment text with its
        leading ``#`` characters and surrounding blanks removed (``None`` without a comment,
        or when the comment is empty).
    """
    cut = line.find("#")
    if cut < 0:
        return line.strip(), None
    comment = line[cut:].lstrip("#").strip()
    return line[:cut].strip(), comment or None


def _numbered(section: Section) -> list[tuple[int, str, str | None]]:
    """The value lines of a section: ``(line number, code, comment)`` without blank lines."""
    # split_comment, inlined: this runs once per body line of every read section.
    result: list[tuple[int, str, str | None]] = []
    line = section.body_start
    for raw in section.body:
        cut = raw.find("#")
        if cut < 0:
            code = raw.strip()
            if code:
                result.append((line, code, None))
        else:
            code = raw[:cut].strip()
            if code:
                result.append((line, code, raw[cut:].lstrip("#").strip() or None))
        line += 1
    return result


def _declaration_problem(code: str) -> str:
    """Explain why ``code`` is not a declaration ``NAME[dims, type=T]``."""
    head = code.split("[", 1)[0]
    if "[" not in code:
        return "it has no '[dims]' part"
    if head != head.rstrip():
        return "no space is allowed before '['"
    if not code.endswith("]"):
        return "it does not end with ']'"
    if head and head[0].isdigit():
        return f"the name {head!r} starts with a digit"
    return f"{head!r} is not a valid name (letters, digits, _, ' and + only)"


def read_state_space(section: Section) -> tuple[list[Variable], list[Finding]]:
    """Read the declarations of a StateSpaceBlock.

    Args:
        section: a ``## StateSpaceBlock`` section.

    Returns:
        The variables in order (duplicates kept) and the ``GNN-E102``/``GNN-E104`` findings.
        A declaration with a bad dimension is kept without that dimension.
    """
    variables: list[Variable] = []
    findings: list[Finding] = []
    for line, code, comment in _numbered(section):
        match = _DECLARATION.match(code)
        if match is None:
            findings.append(codes.BAD_DECLARATION.at(line, (
                f"StateSpaceBlock line {code[:80]!r} is not a declaration NAME[dims, type=T]: "
                f"{_declaration_problem(code)}")))
            continue
        name, inner = match.group(1), match.group(2)
        dims: list[Dimension] = []
        var_type: str | None = None
        default: str | None = None
        for part in inner.split(","):
            entry = part.strip()
            if "=" in entry:
                key, _eq, value = entry.partition("=")
                key = key.strip()
                if key == "type":
                    var_type = value.strip()
                elif key == "default":
                    default = value.strip()
                continue
            if entry.isdigit() and entry.isascii():
                number = int(entry) if len(entry) <= 18 else 0
                if number > 0:
                    dims.append(number)
                    continue
            if _NAME_MATCH(entry) is not None:
                dims.append(entry)
            else:
                why = ("is empty" if not entry else "is too large" if _POSITIVE.match(entry)
                       else "is not a positive integer or a name")
                findings.append(codes.BAD_DIMENSION.at(
                    line, f"dimension {entry!r} of variable {name!r} {why}"))
        variables.append(Variable(name, tuple(dims), var_type, line, default, comment))
    return variables, findings


def _endpoints(side: str) -> list[str] | None:
    """Names of one side of an edge: ``a``, ``(a, b)`` or ``a, b``; ``None`` when invalid."""
    text = side.strip()
    if _NAME_MATCH(text) is not None:
        return [text]
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    names = [part.strip() for part in text.split(",")]
    if not names or not all(is_name(name) for name in names):
        return None
    return names


def read_connections(section: Section) -> tuple[list[Connection], list[Finding]]:
    """Read the edges of a Connections section, expanding groups into single edges.

    Args:
        section: a ``## Connections`` section.

    Returns:
        The edges in order (a grouped line gives the cross product of its sides, sources
        first) and one ``GNN-E005`` finding per line that is not an edge.
    """
    edges: list[Connection] = []
    findings: list[Finding] = []
    for line, code, _comment in _numbered(section):
        operator = None
        for candidate in OPERATORS:
            if candidate in code:
                operator = candidate
                break
        if operator is None:
            findings.append(codes.BAD_CONNECTION.at(line, (
                f"Connections line {code[:80]!r} has no operator (>, ->, -, <->, |)")))
            continue
        left, right = code.split(operator, 1)
        label: str | None = None
        if ":" in right:
            right, label = right.split(":", 1)
            label = label.strip()
            if not _LABEL.match(label):
                findings.append(codes.BAD_CONNECTION.at(line, (
                    f"Connections line {code[:80]!r}: label {label!r} must be letters, "
                    "digits or _")))
                continue
        sources, targets = _endpoints(left), _endpoints(right)
        if sources is None or targets is None:
            side = left if sources is None else right
            findings.append(codes.BAD_CONNECTION.at(line, (
                f"Connections line {code[:80]!r}: {side.strip()[:40]!r} before/after "
                f"{operator!r} is not a name or a group (a, b) of names")))
            continue
        directed = operator in DIRECTED
        if len(sources) == 1 and len(targets) == 1:
            edges.append(Connection(sources[0], targets[0], directed, line, operator, label))
            continue
        edges.extend(
            Connection(source, target, directed, line, operator, label)
            for source in sources
            for target in targets
        )
    return edges, findings


def read_time(section: Section) -> tuple[list[TimeItem], list[Finding]]:
    """Read a Time section as ``key=value`` items and bare words.

    Args:
        section: a ``## Time`` section.

    Returns:
        The items in order and ``GNN-W111`` findings for lines that are neither ``key=value``
        nor one word, or whose key or word is not a known Time setting (those are still kept).
    """
    items: list[TimeItem] = []
    findings: list[Finding] = []
    for line, code, _comment in _numbered(section):
        kv = _KEY_VALUE.match(code)
        if kv is not None and kv.group(2):
            key, value = kv.group(1), kv.group(2).strip()
            items.append(TimeItem(key, value, line))
            if key.lower() not in TIME_KEYS:
                findings.append(codes.BAD_TIME_LINE.at(
                    line, f"Time setting {key!r} is not one of Time, DiscreteTime, "
                    "ContinuousTime, ModelTimeHorizon"))
        elif is_name(code):
            items.append(TimeItem(code, None, line))
            if code.lower() not in TIME_WORDS:
                findings.append(codes.BAD_TIME_LINE.at(
                    line, f"Time word {code!r} is not one of Static, Dynamic, Discrete, "
                    "Continuous"))
        else:
            findings.append(codes.BAD_TIME_LINE.at(
                line, f"Time line {code[:80]!r} is neither key=value nor a single word"))
    return items, findings


def read_annotations(section: Section) -> list[Annotation]:
    """Read ``name=Term`` lines of an ActInfOntologyAnnotation section.

    Args:
        section: a ``## ActInfOntologyAnnotation`` section.

    Returns:
        The annotations in order; lines of another form are left out (no finding).
    """
    result: list[Annotation] = []
    for line, code, _comment in _numbered(section):
        kv = _KEY_VALUE.match(code)
        if kv is not None and kv.group(2).strip():
            result.append(Annotation(kv.group(1), kv.group(2).strip(), line))
    return result


def read_model_parameters(section: Section) -> tuple[list[ModelParameter], list[Finding]]:
    """Read ``key: value`` (or ``key=value``) lines of a ModelParameters section.

    Args:
        section: a ``## ModelParameters`` section.

    Returns:
        The parameters in order (repeated keys kept; values are text, commas included) and
        ``GNN-W110`` findings for other lines.
    """
    result: list[ModelParameter] = []
    findings: list[Finding] = []
    for line, code, _comment in _numbered(section):
        match = _MP_KEY.match(code)
        if match is None or not match.group(2).strip():
            findings.append(codes.BAD_MODEL_PARAMETER_LINE.at(
                line, f"ModelParameters line {code[:80]!r} is not 'key: value'"))
            continue
        result.append(ModelParameter(match.group(1), match.group(2).strip(), line))
    return result, findings


__all__ = [
    "DIRECTED",
    "NAME",
    "NAME_RE",
    "OPERATORS",
    "TIME_KEYS",
    "TIME_WORDS",
    "is_name",
    "read_annotations",
    "read_connections",
    "read_model_parameters",
    "read_state_space",
    "read_time",
    "split_comment",
]

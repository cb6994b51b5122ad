"""Readers for the line-oriented GNN sections (StateSpaceBlock, Connections, Time, ...).

Each reader takes one :class:`~registry.gnn.model.Section` and returns the values it holds and
the findings about its lines, with file-absolute line numbers. Blank lines and comment lines
(first non-blank character ``#``) are skipped everywhere; on a value line everything from the
first ``#`` on is an inline comment. Markdown code-fence lines (```` ``` ````, ``~~~``; see
:mod:`registry.gnn.fences`) are skipped too: a section body wrapped in a fence reads as its
content. InitialParameterization has its own module (:mod:`registry.gnn.params`).

Declarations are ``NAME[dims, type=T]`` or the pipeline's export form ``NAME[dims],T``. A
dimension is a positive integer, a name, or an expression kept as written (:func:`dimension_text`).

Names follow the permissive rule: a Unicode letter or ``_`` first, then letters, digits, ``_``,
``'`` or ``+`` (so ``γ``, ``Π_o``, ``s_t+1`` and ``s'`` are names; a name never contains ``-``).
"""

from __future__ import annotations

import re

from registry.gnn import codes
from registry.gnn.fences import is_fence_line
from registry.gnn.model import (
    Annotation,
    Connection,
    Dimension,
    Finding,
    ModelParameter,
    Section,
    TimeItem,
    Variable,
    new_annotation,
    new_connection,
    new_model_parameter,
    new_time_item,
    new_variable,
)

NAME = r"[^\W\d][\w'+]*"
"""Regular expression for a GNN variable name."""

NAME_RE = re.compile(NAME)
_NAME_MATCH = NAME_RE.fullmatch
_DECLARATION = re.compile(rf"^({NAME})\[(.*)\]$")
# The pipeline's export form A[9,9],float (a type word after the bracket, "type=" optional).
_COMMA_TYPED = re.compile(rf"^({NAME})\[(.*)\]\s*,\s*(?:type\s*=\s*)?(\w+)$")
_LENGTH_OF = re.compile(rf"len\(\s*({NAME})\s*\)")
_EXPRESSION = re.compile(r"[\w'+\-*/() ]+")
_HAS_NAME = re.compile(r"[^\W\d]")
# The commonest declarations, read by one match: A[3,π,type=float] (no blanks, dimensions
# that are names or ASCII integers of 1 to 18 digits without a leading zero).
_DIM = rf"(?:[1-9][0-9]{{0,17}}|{NAME})"
_PLAIN_DECLARATION = re.compile(rf"({NAME})\[({_DIM}(?:,{_DIM})*)(?:,type=(\w+))?\]")
# The commonest Connections line, read by one match of the raw line: "a>b", one operator
# between two names (blanks around allowed).
_PLAIN_EDGE_LINE = re.compile(rf"\s*({NAME})\s*(<->|->|>|-|\|)\s*({NAME})\s*")
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


def _code_lines(section: Section) -> list[tuple[int, str]]:
    """The value lines of a section without their comments: ``(line number, code)``."""
    result: list[tuple[int, str]] = []
    line = section.line
    for raw in section.body:
        line += 1
        cut = raw.find("#")
        code = (raw if cut < 0 else raw[:cut]).strip()
        if code and not code.startswith(("```", "~~~")):
            result.append((line, code))
    return result


def _declaration_problem(code: str) -> str:
    """Explain why ``code`` is not a declaration ``NAME[dims, type=T]``."""
    head = code.split("[", 1)[0]
    if "[" not in code:
        return "it has no '[dims]' part"
    if head != head.rstrip():
        return "no space is allowed before '['"
    if "]," in code:
        return "after '],' only one type word may follow (NAME[dims],float)"
    if not code.endswith("]"):
        return "it does not end with ']'"
    if head and head[0].isdigit():
        return f"the name {head!r} starts with a digit"
    return f"{head!r} is not a valid name (letters, digits, _, ' and + only)"


def dimension_text(entry: str) -> str | None:
    """A symbolic dimension as kept: a name, ``len(NAME)`` (the length of a variable, which the
    validator evaluates like ``NAME``), or another expression of names, integers, ``+ - * /``,
    parentheses and blanks with at least one name (``2*n``; never evaluated).

    Args:
        entry: one stripped, non-integer entry of a declaration.

    Returns:
        The text to keep, or ``None`` when the entry is no dimension at all.
    """
    if _NAME_MATCH(entry) is not None:
        return entry
    length = _LENGTH_OF.fullmatch(entry)
    if length is not None:
        return f"len({length.group(1)})"
    if _EXPRESSION.fullmatch(entry) is not None and _HAS_NAME.search(entry) is not None:
        return " ".join(entry.split())
    return None


def _declaration(name: str, inner: str, line: int, comment: str | None,
                 findings: list[Finding], *, var_type: str | None = None) -> Variable:
    """The declaration ``name[inner]``, read entry by entry (``GNN-E104`` into ``findings``);
    ``var_type`` is a type written after the bracket (``A[3],float``)."""
    dims: list[Dimension] = []
    default: str | None = None
    for part in inner.split(","):
        entry = part.strip()
        if "=" in entry:
            key, _eq, value = entry.partition("=")
            key = key.strip()
            if key == "type":
                value = value.strip()
                if var_type is not None and value != var_type:
                    findings.append(codes.BAD_DECLARATION.at(line, (
                        f"declaration of {name!r} gives two types: type={value} inside the "
                        f"brackets and {var_type} after them")))
                var_type = value
            elif key == "default":
                default = value.strip()
            continue
        if entry.isdigit() and entry.isascii():
            number = int(entry) if len(entry) <= 18 else 0
            if number > 0:
                dims.append(number)
                continue
        symbolic = dimension_text(entry) if entry else None
        if symbolic is not None:
            dims.append(symbolic)
        else:
            why = ("is empty" if not entry else "is too large" if _POSITIVE.match(entry)
                   else "is not a positive integer, a name or an expression with a name")
            findings.append(codes.BAD_DIMENSION.at(
                line, f"dimension {entry!r} of variable {name!r} {why}"))
    return new_variable(name, tuple(dims), var_type, line, default, comment)


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
    declaration = _DECLARATION.match
    plain_declaration = _PLAIN_DECLARATION.fullmatch
    line = section.line
    for raw in section.body:
        # _code_lines with the comment kept, inlined (one declaration per line).
        line += 1
        cut = raw.find("#")
        if cut < 0:
            code = raw.strip()
            comment = None
        else:
            code = raw[:cut].strip()
            comment = raw[cut:].lstrip("#").strip() or None
        if not code:
            continue
        plain = plain_declaration(code)
        if plain is not None:
            name, inner, var_type = plain.groups()
            # A dimension starting with an ASCII digit is a number (a name never does).
            variables.append(new_variable(
                name, tuple([int(dim) if dim[0] <= "9" else dim for dim in inner.split(",")]),
                var_type, line, None, comment))
            continue
        match = declaration(code)
        if match is None:
            typed = _COMMA_TYPED.match(code)
            if typed is not None:
                variables.append(_declaration(typed.group(1), typed.group(2), line, comment,
                                              findings, var_type=typed.group(3)))
                continue
            if is_fence_line(code):
                continue
            findings.append(codes.BAD_DECLARATION.at(line, (
                f"StateSpaceBlock line {code[:80]!r} is not a declaration NAME[dims, type=T]: "
                f"{_declaration_problem(code)}")))
            continue
        variables.append(_declaration(match.group(1), match.group(2), line, comment, findings))
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


def _edge_line(code: str, line: int, edges: list[Connection], findings: list[Finding]) -> None:
    """Read one Connections line (comment removed) into ``edges`` or ``findings``."""
    name_match = _NAME_MATCH
    # The first of OPERATORS in the line ("<->" and "->" contain ">").
    if ">" in code:
        operator: str | None = "<->" if "<->" in code else "->" if "->" in code else ">"
    else:
        operator = "-" if "-" in code else "|" if "|" in code else None
    if operator is None:
        findings.append(codes.BAD_CONNECTION.at(line, (
            f"Connections line {code[:80]!r} has no operator (>, ->, -, <->, |)")))
        return
    left, right = code.split(operator, 1)
    label: str | None = None
    if ":" in right:
        right, label = right.split(":", 1)
        label = label.strip()
        if not _LABEL.match(label):
            findings.append(codes.BAD_CONNECTION.at(line, (
                f"Connections line {code[:80]!r}: label {label!r} must be letters, "
                "digits or _")))
            return
    directed = operator in DIRECTED
    source, target = left.strip(), right.strip()
    if name_match(source) is not None and name_match(target) is not None:
        edges.append(new_connection(source, target, directed, line, operator, label))
        return
    sources, targets = _endpoints(left), _endpoints(right)
    if sources is None or targets is None:
        side = left if sources is None else right
        findings.append(codes.BAD_CONNECTION.at(line, (
            f"Connections line {code[:80]!r}: {side.strip()[:40]!r} before/after "
            f"{operator!r} is not a name or a group (a, b) of names")))
        return
    if len(sources) == 1 and len(targets) == 1:
        edges.append(new_connection(sources[0], targets[0], directed, line, operator, label))
        return
    edges.extend(
        new_connection(source, target, directed, line, operator, label)
        for source in sources
        for target in targets
    )


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
    plain_line = _PLAIN_EDGE_LINE.fullmatch
    line = section.line
    for raw in section.body:
        line += 1
        plain = plain_line(raw)  # "a>b": one operator between two names
        if plain is not None:
            source, operator, target = plain.groups()
            edges.append(new_connection(
                source, target, operator in DIRECTED, line, operator, None))
            continue
        cut = raw.find("#")
        code = (raw if cut < 0 else raw[:cut]).strip()
        if code and not code.startswith(("```", "~~~")):
            _edge_line(code, line, edges, findings)
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
    for line, code in _code_lines(section):
        kv = _KEY_VALUE.match(code)
        if kv is not None and kv.group(2):
            key, value = kv.group(1), kv.group(2).strip()
            items.append(new_time_item(key, value, line))
            if key.lower() not in TIME_KEYS:
                findings.append(codes.BAD_TIME_LINE.at(
                    line, f"Time setting {key!r} is not one of Time, DiscreteTime, "
                    "ContinuousTime, ModelTimeHorizon"))
        elif is_name(code):
            items.append(new_time_item(code, None, line))
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
    for line, code in _code_lines(section):
        kv = _KEY_VALUE.match(code)
        if kv is not None and kv.group(2).strip():
            result.append(new_annotation(kv.group(1), kv.group(2).strip(), line))
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
    for line, code in _code_lines(section):
        match = _MP_KEY.match(code)
        if match is None or not match.group(2).strip():
            findings.append(codes.BAD_MODEL_PARAMETER_LINE.at(
                line, f"ModelParameters line {code[:80]!r} is not 'key: value'"))
            continue
        result.append(new_model_parameter(match.group(1), match.group(2).strip(), line))
    return result, findings


__all__ = [
    "DIRECTED",
    "NAME",
    "NAME_RE",
    "OPERATORS",
    "TIME_KEYS",
    "TIME_WORDS",
    "dimension_text",
    "is_name",
    "read_annotations",
    "read_connections",
    "read_model_parameters",
    "read_state_space",
    "read_time",
    "split_comment",
]

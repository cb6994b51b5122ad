"""Immutable values that describe a parsed GNN file.

The parser (:mod:`registry.gnn.parser`) builds these from text; the validator
(:mod:`registry.gnn.validate`), the metadata extractor (:mod:`registry.gnn.metadata`) and the
renderer (:mod:`registry.gnn.render`) only read them. Every value is a frozen dataclass made of
tuples, strings and numbers, so models are safe to share between threads and compare by value.

Line numbers are 1-based and always refer to the *file* (not to a block of a multi-model file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

Severity = Literal["error", "warning"]
"""How serious a finding is: errors block registration, warnings are kept on the version."""

Dimension = int | str
"""One declared dimension: a positive integer, or a symbol (``π``, ``num_obs``)."""

Number = float
"""Every number in a parameter literal is read as a float."""

NestedValue = float | tuple["NestedValue", ...]
"""A parameter literal read into nested tuples of floats (``{(1.0, 0.0)}`` -> ``((1.0, 0.0),)``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a GNN file.

    Attributes:
        code: a stable code such as ``GNN-E002`` (see :data:`registry.gnn.codes.CODES`).
        severity: ``"error"`` or ``"warning"``.
        message: one sentence a modeller understands, naming the variable or section.
        line: the 1-based line in the file, or ``None`` where no line exists
            (a missing section).
    """

    code: str
    severity: Severity
    message: str
    line: int | None = None

    def format(self, path: str) -> str:
        """Render as ``path:line: CODE severity: message`` (line 0 when there is none)."""
        return f"{path}:{self.line or 0}: {self.code} {self.severity}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (used in the registry and in ``--json`` output)."""
        return {"code": self.code, "severity": self.severity, "line": self.line,
                "message": self.message}


@dataclass(frozen=True, slots=True)
class Section:
    """A ``## Name`` section: its heading line and its raw body lines (comments included)."""

    name: str
    line: int
    body: tuple[str, ...]

    @property
    def body_start(self) -> int:
        """Line number of the first body line (the line after the heading)."""
        return self.line + 1

    def text(self) -> str:
        """The body with surrounding blank lines removed, comment lines kept."""
        return "\n".join(self.body).strip()


@dataclass(frozen=True, slots=True)
class Variable:
    """One StateSpaceBlock declaration such as ``A[3,3,type=float]  # likelihood``."""

    name: str
    dims: tuple[Dimension, ...]
    type: str | None
    line: int
    default: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    """One edge, after grouped (``(a, b)>c``) and spaced forms have been expanded.

    ``operator`` is the operator as written (``>``, ``->``, ``-``, ``<->``, ``|``);
    ``directed`` is true for ``>``, ``->`` and ``|``.
    """

    source: str
    target: str
    directed: bool
    line: int
    operator: str = ">"
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    """One InitialParameterization assignment ``name = value`` (possibly multi-line).

    Attributes:
        name: the assigned name.
        raw: the value text as written, inline comments removed, lines joined with ``\\n``.
        value: the literal read into nested floats, or ``None`` when the value is not a
            numeric ``{...}``/``(...)`` literal (bare words, lists, JSON-like values).
        shape: the nested lengths of ``value`` after unwrapping one-element groups, or
            ``None`` when ``value`` is ``None`` or ragged.
        ragged: true when sibling groups have different lengths.
        line: first line of the statement; ``end_line`` its last line.
    """

    name: str
    raw: str
    value: NestedValue | None
    shape: tuple[int, ...] | None
    line: int
    end_line: int
    ragged: bool = False


@dataclass(frozen=True, slots=True)
class TimeItem:
    """One Time entry: ``Dynamic`` (value ``None``) or ``ModelTimeHorizon=10``."""

    key: str
    value: str | None
    line: int


@dataclass(frozen=True, slots=True)
class Annotation:
    """One ActInfOntologyAnnotation line ``name=Term`` (inline comment removed)."""

    name: str
    term: str
    line: int


@dataclass(frozen=True, slots=True)
class ModelParameter:
    """One ModelParameters line ``key: value`` (value kept as text)."""

    key: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class GnnModel:
    """One model of a GNN file, as written.

    ``findings`` holds what the *parser* noticed (malformed lines, unterminated literals);
    the validator adds semantic findings on top.
    """

    preamble: tuple[str, ...]
    sections: tuple[Section, ...]
    variables: tuple[Variable, ...] = ()
    connections: tuple[Connection, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    time: tuple[TimeItem, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    model_parameters: tuple[ModelParameter, ...] = ()
    findings: tuple[Finding, ...] = ()
    first_line: int = 1
    last_line: int = 1
    index: int = 0

    def section(self, name: str) -> Section | None:
        """The first section called ``name`` (exact, case-sensitive), or ``None``."""
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def _first_text_line(self, name: str) -> str | None:
        sec = self.section(name)
        if sec is None:
            return None
        for raw in sec.body:
            text = raw.strip()
            if text and not text.startswith("#"):
                return text
        return None

    @property
    def name(self) -> str | None:
        """The ``## ModelName`` text (first non-comment body line), or ``None``."""
        return self._first_text_line("ModelName")

    @property
    def gnn_section(self) -> str | None:
        """The ``## GNNSection`` identifier, or ``None``."""
        return self._first_text_line("GNNSection")

    @property
    def language_version(self) -> str | None:
        """The GNN language version from ``## GNNVersionAndFlags`` (``GNN v1`` -> ``1``)."""
        text = self._first_text_line("GNNVersionAndFlags")
        if text is None:
            return None
        word = text.split()[1] if len(text.split()) > 1 else text
        return word.lstrip("vV").rstrip(",") or None

    @property
    def annotation(self) -> str | None:
        """The ``## ModelAnnotation`` text, or ``None``."""
        sec = self.section("ModelAnnotation")
        return sec.text() if sec is not None else None

    def variable(self, name: str) -> Variable | None:
        """The first declaration of ``name``, or ``None``."""
        for var in self.variables:
            if var.name == name:
                return var
        return None


@dataclass(frozen=True, slots=True)
class GnnFile:
    """A whole GNN file: optional YAML front matter, one or more models, file-level findings.

    ``front_matter`` maps keys to strings or lists of strings (a small YAML subset; see the
    parser). ``front_matter_line`` is the line of the opening ``---`` (``None`` without one).
    ``findings`` holds file-level problems (not text, empty, no GNN sections, bad front matter).
    """

    models: tuple[GnnModel, ...]
    front_matter: dict[str, str | list[str]] = field(default_factory=dict)
    front_matter_line: int | None = None
    findings: tuple[Finding, ...] = ()
    line_count: int = 0

    @property
    def is_multi_model(self) -> bool:
        """True when the file holds more than one model block."""
        return len(self.models) > 1


# Fast constructors for the parser. A frozen dataclass's generated __init__ sets each field
# with object.__setattr__; these set the slots through their descriptors instead, which is
# two to three times faster. Each gives exactly the object the class call gives (a test
# compares them); the parser builds tens of these per model.

_Setter = Callable[[object, object], None]
_new = object.__new__
_T = TypeVar("_T")


def _setters(cls: type, *names: str) -> tuple[_Setter, ...]:
    """The ``__set__`` of the slot descriptors ``names`` of a slotted class."""
    return tuple(getattr(cls, name).__set__ for name in names)


_VAR_NAME, _VAR_DIMS, _VAR_TYPE, _VAR_LINE, _VAR_DEFAULT, _VAR_COMMENT = _setters(
    Variable, "name", "dims", "type", "line", "default", "comment")
_CON_SOURCE, _CON_TARGET, _CON_DIRECTED, _CON_LINE, _CON_OPERATOR, _CON_LABEL = _setters(
    Connection, "source", "target", "directed", "line", "operator", "label")
_PAR_NAME, _PAR_RAW, _PAR_VALUE, _PAR_SHAPE, _PAR_LINE, _PAR_END, _PAR_RAGGED = _setters(
    Parameter, "name", "raw", "value", "shape", "line", "end_line", "ragged")


def new_variable(  # noqa: PLR0917 - positional, as the class call it replaces
        name: str, dims: tuple[Dimension, ...], type_: str | None, line: int,
        default: str | None, comment: str | None) -> Variable:
    """``Variable(name, dims, type_, line, default, comment)``, built faster."""
    obj = _new(Variable)
    _VAR_NAME(obj, name)
    _VAR_DIMS(obj, dims)
    _VAR_TYPE(obj, type_)
    _VAR_LINE(obj, line)
    _VAR_DEFAULT(obj, default)
    _VAR_COMMENT(obj, comment)
    return obj


def new_connection(  # noqa: PLR0917 - positional, as the class call it replaces
        source: str, target: str, directed: bool, line: int, operator: str,
        label: str | None) -> Connection:
    """``Connection(source, target, directed, line, operator, label)``, built faster."""
    obj = _new(Connection)
    _CON_SOURCE(obj, source)
    _CON_TARGET(obj, target)
    _CON_DIRECTED(obj, directed)
    _CON_LINE(obj, line)
    _CON_OPERATOR(obj, operator)
    _CON_LABEL(obj, label)
    return obj


def new_parameter(  # noqa: PLR0917 - positional, as the class call it replaces
        name: str, raw: str, value: NestedValue | None, shape: tuple[int, ...] | None,
        line: int, end_line: int, ragged: bool) -> Parameter:
    """``Parameter(name, raw, value, shape, line, end_line, ragged)``, built faster."""
    obj = _new(Parameter)
    _PAR_NAME(obj, name)
    _PAR_RAW(obj, raw)
    _PAR_VALUE(obj, value)
    _PAR_SHAPE(obj, shape)
    _PAR_LINE(obj, line)
    _PAR_END(obj, end_line)
    _PAR_RAGGED(obj, ragged)
    return obj


def _three_fields(cls: type[_T], first: str, second: str,
                  third: str) -> Callable[[object, object, object], _T]:
    """A fast constructor for a three-field slotted class (fields given in class order)."""
    set_first, set_second, set_third = _setters(cls, first, second, third)

    def build(a: object, b: object, c: object) -> _T:
        obj = _new(cls)
        set_first(obj, a)
        set_second(obj, b)
        set_third(obj, c)
        return obj

    return build


new_section: Callable[[str, int, tuple[str, ...]], Section] = _three_fields(
    Section, "name", "line", "body")
"""``Section(name, line, body)``, built faster."""
new_time_item: Callable[[str, str | None, int], TimeItem] = _three_fields(
    TimeItem, "key", "value", "line")
"""``TimeItem(key, value, line)``, built faster."""
new_annotation: Callable[[str, str, int], Annotation] = _three_fields(
    Annotation, "name", "term", "line")
"""``Annotation(name, term, line)``, built faster."""
new_model_parameter: Callable[[str, str, int], ModelParameter] = _three_fields(
    ModelParameter, "key", "value", "line")
"""``ModelParameter(key, value, line)``, built faster."""


__all__ = [
    "Annotation",
    "Connection",
    "Dimension",
    "Finding",
    "GnnFile",
    "GnnModel",
    "ModelParameter",
    "NestedValue",
    "Number",
    "Parameter",
    "Section",
    "Severity",
    "TimeItem",
    "Variable",
    "new_annotation",
    "new_connection",
    "new_model_parameter",
    "new_parameter",
    "new_section",
    "new_time_item",
    "new_variable",
]

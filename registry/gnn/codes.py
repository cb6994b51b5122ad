"""Every finding code the GNN core can emit, with its severity and what it means.

``GNN-E001``..``GNN-E005`` and ``GNN-W001``..``GNN-W003`` keep the meaning the reference
validator gives them (see the README's "Finding codes" table). Codes numbered from 100 are
this project's own, for mistakes the reference passes in silence.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.gnn.model import Finding, Severity


@dataclass(frozen=True, slots=True)
class Code:
    """A finding code: identifier, severity and a one-line title for documentation."""

    code: str
    severity: Severity
    title: str

    def at(self, line: int | None, message: str) -> Finding:
        """Build a :class:`Finding` of this code at ``line``."""
        return Finding(self.code, self.severity, message, line)


# Reference codes (same conditions as the reference's strict checks).
MISSING_SECTION = Code("GNN-E001", "error", "a required section is missing")
SHAPE_MISMATCH = Code("GNN-E002", "error", "literal shape differs from the declaration, or is ragged")
DUPLICATE_VARIABLE = Code("GNN-E004", "error", "a variable is declared twice")
BAD_CONNECTION = Code("GNN-E005", "error", "a Connections line is not a valid edge")
UNUSED_VARIABLE = Code("GNN-W001", "warning", "a declared variable is in no connection")
UNDECLARED_ENDPOINT = Code("GNN-W002", "warning", "a connection endpoint is not declared")
UNDECLARED_PARAMETER = Code("GNN-W003", "warning", "a parameter is assigned to an undeclared name")

# This project's own errors.
NOT_TEXT = Code("GNN-E100", "error", "the file is not UTF-8 text (binary, NUL bytes or bad encoding)")
NOT_GNN = Code("GNN-E101", "error", "the file is empty or has no GNN sections")
BAD_DECLARATION = Code("GNN-E102", "error", "a StateSpaceBlock line is not a valid declaration")
UNTERMINATED_LITERAL = Code("GNN-E103", "error", "a parameter literal's brackets never close")
BAD_DIMENSION = Code("GNN-E104", "error", "a dimension is not a positive integer, a name or an expression")
BAD_PARAMETER_LINE = Code("GNN-E105", "error", "an InitialParameterization line has no name=value form")
BAD_FRONT_MATTER = Code("GNN-E106", "error", "the YAML front matter is not closed or not key: value")
UNREADABLE_FILE = Code("GNN-E107", "error", "the file cannot be read (missing, not a regular file, or permission denied)")
TOO_MANY_VARIABLES = Code("GNN-E108", "error", "the file declares more variables than max_variables allows")

# This project's own warnings.
MISSING_EXPECTED_SECTION = Code("GNN-W101", "warning", "an expected (not required) section is missing")
DUPLICATE_SECTION = Code("GNN-W102", "warning", "a section appears more than once")
DUPLICATE_MODEL_PARAMETER = Code("GNN-W103", "warning", "a ModelParameters key is given twice")
UNKNOWN_TYPE = Code("GNN-W104", "warning", "a declaration's type= is not a known type")
UNRESOLVED_DIMENSION = Code("GNN-W105", "warning", "a symbolic dimension cannot be evaluated")
UNDECLARED_ANNOTATION = Code("GNN-W106", "warning", "an ontology annotation names an undeclared variable")
UNKNOWN_ONTOLOGY_TERM = Code("GNN-W107", "warning", "an ontology term is not in the Active Inference vocabulary")
UNREADABLE_LITERAL = Code("GNN-W108", "warning", "a {...} literal could not be read as numbers; shape not checked")
DUPLICATE_PARAMETER = Code("GNN-W109", "warning", "a parameter is assigned twice")
BAD_MODEL_PARAMETER_LINE = Code("GNN-W110", "warning", "a ModelParameters line has no key: value form")
BAD_TIME_LINE = Code("GNN-W111", "warning", "a Time line is not a known setting")

CODES: tuple[Code, ...] = (
    MISSING_SECTION,
    SHAPE_MISMATCH,
    DUPLICATE_VARIABLE,
    BAD_CONNECTION,
    UNUSED_VARIABLE,
    UNDECLARED_ENDPOINT,
    UNDECLARED_PARAMETER,
    NOT_TEXT,
    NOT_GNN,
    BAD_DECLARATION,
    UNTERMINATED_LITERAL,
    BAD_DIMENSION,
    BAD_PARAMETER_LINE,
    BAD_FRONT_MATTER,
    UNREADABLE_FILE,
    TOO_MANY_VARIABLES,
    MISSING_EXPECTED_SECTION,
    DUPLICATE_SECTION,
    DUPLICATE_MODEL_PARAMETER,
    UNKNOWN_TYPE,
    UNRESOLVED_DIMENSION,
    UNDECLARED_ANNOTATION,
    UNKNOWN_ONTOLOGY_TERM,
    UNREADABLE_LITERAL,
    DUPLICATE_PARAMETER,
    BAD_MODEL_PARAMETER_LINE,
    BAD_TIME_LINE,
)
"""All codes, in documentation order. A test checks each has a test of its own."""

__all__ = [
    "BAD_CONNECTION",
    "BAD_DECLARATION",
    "BAD_DIMENSION",
    "BAD_FRONT_MATTER",
    "BAD_MODEL_PARAMETER_LINE",
    "BAD_PARAMETER_LINE",
    "BAD_TIME_LINE",
    "CODES",
    "DUPLICATE_MODEL_PARAMETER",
    "DUPLICATE_PARAMETER",
    "DUPLICATE_SECTION",
    "DUPLICATE_VARIABLE",
    "MISSING_EXPECTED_SECTION",
    "MISSING_SECTION",
    "NOT_GNN",
    "NOT_TEXT",
    "SHAPE_MISMATCH",
    "TOO_MANY_VARIABLES",
    "UNDECLARED_ANNOTATION",
    "UNDECLARED_ENDPOINT",
    "UNDECLARED_PARAMETER",
    "UNKNOWN_ONTOLOGY_TERM",
    "UNKNOWN_TYPE",
    "UNREADABLE_FILE",
    "UNREADABLE_LITERAL",
    "UNRESOLVED_DIMENSION",
    "UNTERMINATED_LITERAL",
    "UNUSED_VARIABLE",
    "Code",
]

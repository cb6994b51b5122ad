"""Name rules: declarations, edges, annotations and ModelParameters keys.

- GNN-E004: a name declared twice (at the second declaration; the first stays in force).
- GNN-W104: a ``type=`` outside :data:`KNOWN_TYPES` (case-insensitive). A missing ``type=``
  is not reported: the reference defaults it to ``float``.
- GNN-W105: a symbolic dimension that resolves to no size.
- GNN-W001: a declared variable in no connection. The model's time variable (named by
  ``Time=``, ``DiscreteTime=`` or ``ContinuousTime=``, or annotated ``=Time``) is exempt:
  a clock is not a node of the graph, and ``t`` is unconnected in nearly every file.
- GNN-W002: a connection endpoint that is not declared (once per name per line).
- GNN-W106: an ontology annotation of an undeclared name.
- GNN-W107: an ontology term outside the vocabulary (:mod:`registry.gnn.ontology`).
- GNN-W103: a ModelParameters key given twice (at the second; both values named).
"""

from __future__ import annotations

from collections.abc import Iterator

from registry.gnn.codes import (
    DUPLICATE_MODEL_PARAMETER,
    DUPLICATE_VARIABLE,
    UNDECLARED_ANNOTATION,
    UNDECLARED_ENDPOINT,
    UNKNOWN_ONTOLOGY_TERM,
    UNKNOWN_TYPE,
    UNRESOLVED_DIMENSION,
    UNUSED_VARIABLE,
)
from registry.gnn.lines import is_name
from registry.gnn.model import Finding, ModelParameter
from registry.gnn.ontology import is_known_term
from registry.gnn.rules_common import ModelContext
from registry.gnn.shapes import format_dims

KNOWN_TYPES: frozenset[str] = frozenset(
    name.casefold() for name in (
        "float", "int", "bool", "categorical", "discrete", "continuous", "binary",
        "integer", "real", "complex", "double", "string", "Categorical", "Dirichlet",
    )
)
"""Accepted ``type=`` values, case-folded (the union of the reference's lists)."""


def check_duplicate_declarations(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-E004 at each declaration of a name that was already declared.

    Args:
        ctx: the model's context.

    Returns:
        One finding per repeated declaration, naming the first declaration's line.
    """
    for var in ctx.model.variables:
        first = ctx.declared[var.name]
        if first is not var:
            yield DUPLICATE_VARIABLE.at(
                var.line,
                f"variable '{var.name}' is declared again as {var.name}{format_dims(var.dims)} "
                f"(first declared at line {first.line} as "
                f"{first.name}{format_dims(first.dims)})")


def check_types(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W104 for each declaration whose ``type=`` is not a known type.

    Args:
        ctx: the model's context.

    Returns:
        One finding per unknown type.
    """
    for var in ctx.model.variables:
        # A type written as known ("float") is known without being folded.
        if (var.type is not None and var.type not in KNOWN_TYPES
                and var.type.strip().casefold() not in KNOWN_TYPES):
            yield UNKNOWN_TYPE.at(
                var.line,
                f"variable '{var.name}' has unknown type '{var.type}' "
                "(known: float, int, bool, categorical, discrete, continuous, binary, "
                "integer, real, complex, double, string, Dirichlet)")


def check_symbolic_dimensions(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W105 for each symbolic dimension that resolves to no size.

    A symbol that names a declared variable whose own size is unresolved is not reported
    again: the warning stays on the variable at the root of the chain.

    Args:
        ctx: the model's context.

    Returns:
        One finding per unresolved symbol per declaration.
    """
    resolver = ctx.resolver
    for var in ctx.model.variables:
        seen: set[str] = set()
        for dim in var.dims:
            if isinstance(dim, int) or dim in seen or resolver.size_of(dim) is not None:
                continue
            seen.add(dim)
            length_of = dim[4:-1] if dim.startswith("len(") and dim.endswith(")") else None
            symbol = length_of if length_of is not None and is_name(length_of) else dim
            if symbol in ctx.declared and symbol != var.name:
                continue
            if not is_name(symbol):
                detail = ("it is an expression, and only integers, names and len(name) are "
                          "evaluated")
            elif symbol in resolver.parameters:
                detail = (f"the ModelParameters value of '{symbol}' "
                          f"({resolver.parameters[symbol].strip()!r}) is not a positive integer")
            elif symbol == var.name:
                detail = "it refers to the variable itself"
            else:
                detail = "no variable or ModelParameters key has that name"
            yield UNRESOLVED_DIMENSION.at(
                var.line,
                f"dimension '{dim}' of {var.name}{format_dims(var.dims)} cannot be evaluated: "
                f"{detail}; its shape is not checked")


def check_unused_variables(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W001 for each declared variable that appears in no connection.

    Args:
        ctx: the model's context.

    Returns:
        One finding per unconnected variable (the time variable is exempt).
    """
    used: set[str] = set()
    for edge in ctx.model.connections:
        used.add(edge.source)
        used.add(edge.target)
    for name, var in ctx.declared.items():
        if name not in used and name not in ctx.time_variables:
            yield UNUSED_VARIABLE.at(
                var.line, f"variable '{name}' is declared but used in no connection")


def check_connection_endpoints(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W002 for each connection endpoint that is not declared.

    Args:
        ctx: the model's context.

    Returns:
        One finding per undeclared name per connection line.
    """
    reported: set[tuple[str, int]] = set()
    declared = ctx.declared
    for edge in ctx.model.connections:
        if edge.source in declared and edge.target in declared:
            continue
        for name in (edge.source, edge.target):
            if name in ctx.declared or (name, edge.line) in reported:
                continue
            reported.add((name, edge.line))
            yield UNDECLARED_ENDPOINT.at(
                edge.line,
                f"connection uses '{name}', which is not declared in the StateSpaceBlock")


def check_annotations(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W106 for annotations of undeclared names, GNN-W107 for unknown terms.

    Args:
        ctx: the model's context.

    Returns:
        The findings, in line order.
    """
    for ann in ctx.model.annotations:
        if ann.name not in ctx.declared:
            yield UNDECLARED_ANNOTATION.at(
                ann.line,
                f"ontology annotation names '{ann.name}', which is not declared "
                "in the StateSpaceBlock")
        if not is_known_term(ann.term):
            yield UNKNOWN_ONTOLOGY_TERM.at(
                ann.line,
                f"ontology term '{ann.term}' (for '{ann.name}') is not in the "
                "Active Inference vocabulary")


def check_model_parameter_keys(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W103 at each repeated ModelParameters key.

    Args:
        ctx: the model's context.

    Returns:
        One finding per repetition, naming the earlier line and both values.
    """
    first: dict[str, ModelParameter] = {}
    for entry in ctx.model.model_parameters:
        earlier = first.get(entry.key)
        if earlier is None:
            first[entry.key] = entry
            continue
        yield DUPLICATE_MODEL_PARAMETER.at(
            entry.line,
            f"ModelParameters key '{entry.key}' is given again as {entry.value.strip()!r} "
            f"(first at line {earlier.line} as {earlier.value.strip()!r}); the last value wins")


__all__ = [
    "KNOWN_TYPES",
    "check_annotations",
    "check_connection_endpoints",
    "check_duplicate_declarations",
    "check_model_parameter_keys",
    "check_symbolic_dimensions",
    "check_types",
    "check_unused_variables",
]

"""InitialParameterization rules: shapes (GNN-E002) and assignments (GNN-W003, W108, W109).

- GNN-E002: a literal whose shape fits none of the forms accepted for its declaration
  (:func:`registry.gnn.shapes.accepted_shapes`), or a ragged literal (sibling groups of
  different lengths). There is no size cap: the shape was measured once by the parser, so
  checking a 2.6 MB literal costs the same as checking a 3-element one. Declarations with a
  symbolic dimension are checked when the symbol resolves to a size.
- GNN-W003: a parameter assigned to a name that is not declared.
- GNN-W108: a ``{...}`` or ``(...)`` value (or a ``[...]`` one of literal characters only)
  that could not be read as numbers (so its shape
  is not checked), unless the parser already reported it as unterminated (GNN-E103).
- GNN-W109: a name assigned a second time (at the second assignment; the last value wins).

Every finding is at the first line of the assignment statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from registry.gnn.codes import (
    DUPLICATE_PARAMETER,
    SHAPE_MISMATCH,
    UNDECLARED_PARAMETER,
    UNREADABLE_LITERAL,
    UNTERMINATED_LITERAL,
)
from registry.gnn.model import Dimension, Finding, Parameter, Variable
from registry.gnn.rules_common import ModelContext
from registry.gnn.shapes import (
    Shape,
    accepted_shapes,
    format_dims,
    format_shape,
    shape_matches,
    squeeze,
)

_NUMERIC_LOOKING = re.compile(r"[\s\d.+\-eE,(){}\[\]]*")


def _is_bracketed(raw: str) -> bool:
    """Whether a value is written as a brace or parenthesis literal, or as a ``[...]`` one made
    of literal characters only (a ``[...]`` list of words is a label list, not a mistake)."""
    text = raw.lstrip()
    if text.startswith(("{", "(")):
        return True
    return text.startswith("[") and _NUMERIC_LOOKING.fullmatch(text) is not None


def check_parameter_shapes(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-E002 for each literal that is ragged or does not fit its declaration.

    Args:
        ctx: the model's context.

    Returns:
        One finding per mismatching or ragged literal.
    """
    declared_vars = ctx.declared
    resolve = ctx.resolver.resolve
    for param in ctx.model.parameters:
        var = declared_vars.get(param.name)
        if param.ragged:
            declared_text = f" (declared {var.name}{format_dims(var.dims)})" if var else ""
            yield SHAPE_MISMATCH.at(
                param.line,
                f"value of '{param.name}' is ragged: groups at the same depth have different "
                f"numbers of elements{declared_text}")
            continue
        shape = param.shape
        if var is None or shape is None:
            continue
        declared = resolve(var.dims)
        if declared is None or shape_matches(declared, shape):
            continue
        symbolic = any(isinstance(dim, str) for dim in var.dims)
        meaning = f" = {format_dims(declared)}" if symbolic else ""
        forms = " or ".join(format_shape(form) for form in accepted_shapes(declared))
        yield SHAPE_MISMATCH.at(
            param.line,
            f"value of '{param.name}' has shape {format_shape(shape)} but '{var.name}' is "
            f"declared {var.name}{format_dims(var.dims)}{meaning} at line {var.line}: "
            f"{_disagreement(ctx, var, declared, shape)} (accepted: {forms}, give or take axes "
            "of length 1)")


def _size_source(ctx: ModelContext, dim: Dimension, size: int) -> str:
    """How a declared dimension got its size: ``3`` or ``'len(π)' = 3 (π[3] at line 7)``."""
    if isinstance(dim, int):
        return str(dim)
    symbol = dim[4:-1] if dim.startswith("len(") else dim
    var = ctx.declared.get(symbol)
    if var is not None:
        where = f"the first dimension of {var.name}{format_dims(var.dims)} at line {var.line}"
    else:
        where = f"ModelParameters {symbol}: {ctx.resolver.parameters.get(symbol, '?').strip()}"
    return f"'{dim}' = {size} ({where})"


def _disagreement(ctx: ModelContext, var: Variable, declared: Shape, shape: Shape) -> str:
    """Which dimension of the declaration the literal's shape disagrees with, and why."""
    if len(shape) == len(declared):
        axes = [
            f"dimension {axis + 1} is {_size_source(ctx, dim, size)} but the value has {got}"
            for axis, (dim, size, got) in enumerate(zip(var.dims, declared, shape, strict=True))
            if size != got
        ]
        return "; ".join(axes)
    core = squeeze(shape)
    kept = [(axis, dim, size)
            for axis, (dim, size) in enumerate(zip(var.dims, declared, strict=True)) if size != 1]
    if len(core) == len(kept):
        axes = [
            f"dimension {axis + 1} is {_size_source(ctx, dim, size)} but the value has {got}"
            for (axis, dim, size), got in zip(kept, core, strict=True) if size != got
        ]
        return "; ".join(axes)
    return (f"without axes of length 1 the value is {format_shape(core)} and the "
            f"declaration {format_shape(squeeze(declared))}")


def check_parameter_names(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W003 for assignments to undeclared names, GNN-W109 for repeated assignments.

    Args:
        ctx: the model's context.

    Returns:
        The findings, in statement order.
    """
    first: dict[str, Parameter] = {}
    for param in ctx.model.parameters:
        if param.name not in ctx.declared:
            yield UNDECLARED_PARAMETER.at(
                param.line,
                f"parameter '{param.name}' is assigned but not declared in the StateSpaceBlock")
        earlier = first.get(param.name)
        if earlier is None:
            first[param.name] = param
        else:
            yield DUPLICATE_PARAMETER.at(
                param.line,
                f"parameter '{param.name}' is assigned again (first at line {earlier.line}); "
                "the last value wins")


def check_unreadable_literals(ctx: ModelContext) -> Iterator[Finding]:
    """GNN-W108 for bracketed values that could not be read as numbers.

    Args:
        ctx: the model's context.

    Returns:
        One finding per unreadable literal not already reported as unterminated.
    """
    for param in ctx.model.parameters:
        if param.value is not None or param.ragged or not _is_bracketed(param.raw):
            continue
        if (UNTERMINATED_LITERAL.code, param.line) in ctx.parser_codes_by_line:
            continue
        if (UNREADABLE_LITERAL.code, param.line) in ctx.parser_codes_by_line:
            continue
        yield UNREADABLE_LITERAL.at(
            param.line,
            f"value of '{param.name}' is not a numeric literal (numbers, commas, "
            "'(' ')' and '{' '}' only); its shape is not checked")


__all__ = ["check_parameter_names", "check_parameter_shapes", "check_unreadable_literals"]

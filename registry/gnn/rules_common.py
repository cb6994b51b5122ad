"""What every validation rule needs to know about one model, computed once per model.

A rule is a plain function ``(ModelContext) -> Iterable[Finding]``; the list of rules lives
in :mod:`registry.gnn.validate`. The context is built once so that no rule re-scans the
declarations, re-resolves dimensions or re-reads the parser's findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from registry.gnn.model import Finding, GnnModel, Variable
from registry.gnn.shapes import DimensionResolver

TIME_KEYS: frozenset[str] = frozenset({"time", "discretetime", "continuoustime"})
"""Time keys (case-folded) whose value names the time variable (``Time=t``, ``DiscreteTime=t``)."""


@dataclass(frozen=True, slots=True)
class ModelContext:
    """One model plus the derived facts the rules share.

    Attributes:
        model: the parsed model.
        model_count: how many models the file holds (messages name the model when > 1).
        declared: each declared name mapped to its first declaration.
        resolver: resolves symbolic dimensions (see :mod:`registry.gnn.shapes`).
        parser_codes_by_line: the (code, line) pairs the parser already reported, so rules
            do not repeat them.
        time_variables: names the Time section or the ontology marks as the time variable.
    """

    model: GnnModel
    model_count: int
    declared: dict[str, Variable]
    resolver: DimensionResolver
    parser_codes_by_line: frozenset[tuple[str, int | None]]
    time_variables: frozenset[str]

    @classmethod
    def build(cls, model: GnnModel, model_count: int) -> ModelContext:
        """Derive the shared facts of ``model``.

        Args:
            model: the parsed model.
            model_count: the number of models in its file.

        Returns:
            The context the rules receive.
        """
        declared: dict[str, Variable] = {}
        for var in model.variables:
            declared.setdefault(var.name, var)
        time_vars = {item.value.strip() for item in model.time
                     if item.key.casefold() in TIME_KEYS and item.value and item.value.strip()}
        time_vars.update(ann.name for ann in model.annotations
                         if ann.term.strip().casefold() == "time")
        return cls(
            model=model,
            model_count=model_count,
            declared=declared,
            resolver=DimensionResolver.for_model(model.variables, model.model_parameters),
            parser_codes_by_line=frozenset((f.code, f.line) for f in model.findings),
            time_variables=frozenset(time_vars),
        )

    def where(self) -> str:
        """A prefix naming the model in a multi-model file (empty for a single model)."""
        if self.model_count <= 1:
            return ""
        return (f"model {self.model.index + 1} of {self.model_count} "
                f"(from line {self.model.first_line}): ")


Rule = Callable[[ModelContext], Iterable[Finding]]
"""A validation rule: one model's context in, that rule's findings out."""

__all__ = ["TIME_KEYS", "ModelContext", "Rule"]

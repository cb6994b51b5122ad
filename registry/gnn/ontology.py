"""The Active Inference ontology vocabulary used to check ``## ActInfOntologyAnnotation`` terms.

The vocabulary is this project's own list (``ontology_terms.json`` beside this module): about
ninety CamelCase names of Active Inference concepts (``HiddenState``, ``LikelihoodMatrix``,
``ExpectedFreeEnergy``...). Terms are compared case-insensitively. An unknown term is only a
warning (GNN-W107): modellers coin specific terms (``Agent1HiddenState``) all the time.
The file is read once, on first use, through :mod:`importlib.resources`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

_TERMS_FILE = "ontology_terms.json"


@cache
def ontology_terms() -> frozenset[str]:
    """The vocabulary as written (CamelCase), loaded once.

    Returns:
        Every term of the vocabulary.
    """
    text = resources.files(__package__).joinpath(_TERMS_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    return frozenset(str(term) for term in data)


@cache
def _folded_terms() -> frozenset[str]:
    # Case-folded once, so each lookup is one set membership test.
    return frozenset(term.casefold() for term in ontology_terms())


def is_known_term(term: str) -> bool:
    """Whether ``term`` is in the vocabulary, ignoring case and surrounding blanks.

    Args:
        term: an ontology term as written in a GNN file.

    Returns:
        True when the term (case-insensitively) is in the vocabulary.
    """
    # A term written as in the vocabulary is known without being folded.
    return term in ontology_terms() or term.strip().casefold() in _folded_terms()


__all__ = ["is_known_term", "ontology_terms"]

"""Search over the registry: free text plus field filters, AND by default, OR when asked.

Query language (one query string, or a list of already-split terms such as ``argv``):

- a bare word matches case-insensitively as a substring of the model id, name,
  description or any tag (the seed's behaviour); ``"two words"`` is one phrase;
- ``field:value`` filters on one field; ``field:"a phrase"`` quotes a value with spaces:

  ==========  ===============================================================
  ``tag:``    a tag (exact, case-insensitive)
  ``state:``  the lifecycle state (``active``, ``deprecated``, ``archived``, ``removed``)
  ``ontology:``  an ontology term bound in the current version (case-insensitive)
  ``var:``    a variable name declared in the current version (exact: GNN names are
              case-sensitive)
  ``section:``  the ``GNNSection`` value or the name of a section present (case-insensitive)
  ``alias:``  an alias the model carries (case-insensitive)
  ``id:``     the model id (exact)
  ``name:``   a substring of the model name (case-insensitive)
  ==========  ===============================================================

  A filter value containing ``*``, ``?`` or ``[`` is a shell-style glob (``id:pymdp_*``,
  ``tag:pomdp*``). A word whose prefix is not one of these fields (``Example:``) is free text.
- Terms combine with AND; ``any_match=True`` (CLI ``--any``) combines them with OR.
- Where the store has a text index (SQLite FTS5, trigram tokens), free-text words of three
  or more characters first narrow the candidates through it (AND queries only); every
  candidate is still checked by the rules above, so results are the same with or without
  the index.
- Matching runs on the index rows (id, name, description, tags, aliases, state); only
  ``var:``, ``ontology:`` and ``section:`` and the matches themselves decode entries.
- An empty query matches every model. Deleted (tombstoned) models are never returned;
  ``removed`` ones only when ``include_removed`` is true. Results are sorted by model id.

An unknown ``state:`` value raises :class:`~registry.errors.NotFoundError` (a typo must not
silently return nothing).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from registry.errors import NotFoundError
from registry.model.records import MODEL_STATES, ModelEntry, RegistryDoc
from registry.model.relations import current_metadata
from registry.model.rowcodec import IndexRow

FIELDS: tuple[str, ...] = ("alias", "id", "name", "ontology", "section", "state", "tag", "var")
"""Field names a query may filter on."""

_TOKEN = re.compile(r'(?:(?P<field>[A-Za-z]+):)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>\S+))')


@dataclass(frozen=True, slots=True)
class Term:
    """One query term: ``field`` is ``None`` for free text."""

    field: str | None
    value: str


def _term(field: str | None, value: str) -> Term:
    if field is not None and field.lower() in FIELDS:
        return Term(field.lower(), value)
    if field is not None:
        return Term(None, f"{field}:{value}")
    return Term(None, value)


def parse_query(query: str | Sequence[str]) -> list[Term]:
    """Split a query into terms.

    Args:
        query: a query string (quotes group words), or a sequence of terms that are already
            split (each item is one term, spaces included, as the shell passed it).

    Returns:
        The terms in order; empty terms are dropped.
    """
    if not isinstance(query, str):
        out: list[Term] = []
        for item in query:
            if '"' in item:  # quotes that reached us were meant as query syntax
                out.extend(parse_query(item))
            elif item.strip():
                out.append(_split_one(item))
        return out
    terms: list[Term] = []
    for match in _TOKEN.finditer(query):
        field = match.group("field")
        quoted = match.group("quoted")
        value = quoted if quoted is not None else (match.group("bare") or "")
        if value.strip() == "" and field is None:
            continue
        terms.append(_term(field, value.strip()))
    return terms


def _split_one(item: str) -> Term:
    text = item.strip()
    field, sep, value = text.partition(":")
    if sep and field.isalpha() and field.lower() in FIELDS:
        return Term(field.lower(), value.strip())
    return Term(None, text)


def _is_glob(value: str) -> bool:
    return any(ch in value for ch in "*?[")


def _matches(candidates: Iterable[str], value: str, *, fold: bool) -> bool:
    want = value.casefold() if fold else value
    glob = _is_glob(value)
    for raw in candidates:
        have = raw.casefold() if fold else raw
        if (fnmatch.fnmatchcase(have, want) if glob else have == want):
            return True
    return False


def _variables(meta: dict[str, Any]) -> list[str]:
    names: set[str] = set()
    for key in ("dimensions", "types"):
        value = meta.get(key)
        if isinstance(value, dict):
            names.update(str(k) for k in value)
    structure = meta.get("structure")
    if isinstance(structure, dict) and isinstance(structure.get("variables"), dict):
        names.update(str(k) for k in structure["variables"])
    return sorted(names)


def _ontology_terms(meta: dict[str, Any]) -> list[str]:
    value = meta.get("ontology")
    structure = meta.get("structure")
    if value is None and isinstance(structure, dict):
        value = structure.get("ontology")  # its one home since versions store no copy
    if isinstance(value, dict):
        return [str(v) for v in value.values()]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _sections(meta: dict[str, Any]) -> list[str]:
    out = [str(s) for s in meta.get("sections") or [] if isinstance(s, str)]
    gnn_section = meta.get("gnn_section")
    if isinstance(gnn_section, str) and gnn_section:
        out.append(gnn_section)
    return out


class _Candidate:
    """A model as search sees it: index-row fields, the entry decoded only when needed."""

    __slots__ = ("_doc", "_entry", "aliases", "description", "model_id", "model_name",
                 "state", "tags")

    def __init__(self, doc: RegistryDoc, model_id: str, row: IndexRow) -> None:
        self._doc = doc
        self._entry: ModelEntry | None = None
        self.model_id = model_id
        self.model_name = str(row["model_name"])
        self.description = str(row["description"])
        self.tags = [str(t) for t in row["tags"]]
        self.aliases = {str(k): str(v) for k, v in row["aliases"].items()}
        self.state = str(row["state"])

    @property
    def entry(self) -> ModelEntry:
        """The full entry (decoded on first use)."""
        if self._entry is None:
            self._entry = self._doc.models[self.model_id]
        return self._entry


def _meta(candidate: _Candidate) -> dict[str, Any]:
    return current_metadata(candidate.entry)


def _free_text(entry: _Candidate, value: str) -> bool:
    needle = value.casefold()
    haystack = [entry.model_id, entry.model_name, entry.description, *entry.tags]
    return any(needle in h.casefold() for h in haystack)


def _predicate(term: Term) -> Callable[[_Candidate], bool]:
    value = term.value
    if term.field is None:
        return lambda e: _free_text(e, value)
    if term.field == "state":
        if not _is_glob(value) and value.lower() not in MODEL_STATES:
            msg = f"unknown state {value!r} in query; states are {', '.join(MODEL_STATES)}"
            raise NotFoundError(msg)
        return lambda e: _matches([e.state], value, fold=True)
    getters: dict[str, tuple[Callable[[_Candidate], Iterable[str]], bool]] = {
        "tag": (lambda e: e.tags, True),
        "alias": (lambda e: e.aliases.keys(), True),
        "id": (lambda e: [e.model_id], False),
        "var": (lambda e: _variables(_meta(e)), False),
        "ontology": (lambda e: _ontology_terms(_meta(e)), True),
        "section": (lambda e: _sections(_meta(e)), True),
    }
    if term.field == "name":
        return lambda e: (_matches([e.model_name], value, fold=True) if _is_glob(value)
                          else value.casefold() in e.model_name.casefold())
    getter, fold = getters[term.field]
    return lambda e: _matches(getter(e), value, fold=fold)


def search(doc: RegistryDoc, query: str | Sequence[str], *, any_match: bool = False,
           include_removed: bool = True) -> list[ModelEntry]:
    """Models matching ``query`` (see the module docstring for the language).

    Args:
        doc: the registry document.
        query: the query string, or already-split terms.
        any_match: combine terms with OR instead of AND.
        include_removed: also return models whose file is gone.

    Returns:
        Matching live models sorted by id.

    Raises:
        NotFoundError: the query names an unknown state.
    """
    terms = parse_query(query)
    predicates = [_predicate(t) for t in terms]
    combine = any if any_match else all
    out: list[ModelEntry] = []
    words = [t.value for t in terms if t.field is None]
    candidates = None if any_match else doc.models.text_candidates(words)
    if candidates is not None:  # the text index narrowed it down; predicates still decide
        rows = [(mid, doc.models.row(mid)) for mid in sorted(candidates) if mid in doc.models]
    else:
        rows = sorted(doc.models.rows())
    for model_id, row in rows:
        if row["deleted"] or (row["state"] == "removed" and not include_removed):
            continue
        candidate = _Candidate(doc, model_id, row)
        if not predicates or combine(p(candidate) for p in predicates):
            out.append(candidate.entry)
    return out


__all__ = ["FIELDS", "Term", "parse_query", "search"]

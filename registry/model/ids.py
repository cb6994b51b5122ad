"""Model ids: readable, directory-safe, unique, and stable for the life of the registry.

An id comes from the file stem (``actinf_pomdp_agent.md`` -> ``actinf_pomdp_agent``), made
safe as a directory name whatever the file is called (:func:`safe_id`):

- the stem is NFC-normalised; Unicode letters and digits, ``_``, ``-`` and ``.`` are kept, and
  every run of other characters (spaces, slashes, control characters, ``#``...) becomes one
  ``_``;
- leading dots and dashes are stripped (no hidden folders, no ids that look like options);
- the result is never empty (``model``), never ``.``/``..``, and at most
  :data:`MAX_ID_BYTES` bytes of UTF-8: a longer id is cut at a character boundary and gets a
  short hash of the full stem as suffix, so two long names that share a prefix stay apart.

A file's YAML front matter may pin the id: ``id: coin_flip`` gives the file's model that id
(made safe the same way) when it is free, whatever the file is called or wherever it lives;
when another file already holds it, the counter rule below applies (``coin_flip_2``). The pin
is read when the model is first registered: an id never changes afterwards.

Two different files never share an id (:func:`allocate_id`): a later file whose id is taken
gets its parent folder's name in front (``multi_agent_models__multi_agent_coordination``), and
when that is taken too, a counter (``multi_agent_models__multi_agent_coordination_2``, ``_3``...).
"Taken" means any id in the registry, including removed and deleted (tombstoned) models, so
an id once given never moves to another file. The outcome depends only on the registry's
contents and the order files are registered in (scans go in sorted path order).

Multi-model files: model 1 gets the file's id, model *k* gets ``<id>--k`` (:func:`sub_model_id`);
if that is taken by another file, the same counter rule applies.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Container
from pathlib import PurePath

MAX_ID_BYTES = 100
"""Longest id in bytes of UTF-8 (file systems allow 255 per name; keep room for suffixes)."""

FALLBACK_ID = "model"
"""The id used when nothing usable is left of a stem."""

_HASH_LEN = 8
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")
"""An ASCII stem that :func:`safe_id` returns unchanged (its fast path)."""
_KEEP = frozenset("_-.")
_LEADING = "._-"
_MULTI_SEP = "--"
_PARENT_SEP = "__"


def _keep(char: str) -> bool:
    """Whether ``char`` may appear in an id as is (Unicode letters and digits, ``_-.``)."""
    if char in _KEEP:
        return True
    # str.isalnum() is true for letters and digits of every script (π, γ, é, 数) and false
    # for separators, punctuation, symbols and control characters.
    return char.isalnum()


def _cut(text: str, limit: int, salt: str) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes with a hash suffix when it is longer."""
    if len(text.encode("utf-8")) <= limit:
        return text
    digest = hashlib.sha256(salt.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    room = limit - len(digest) - 1
    out = []
    used = 0
    for char in text:
        size = len(char.encode("utf-8"))
        if used + size > room:
            break
        out.append(char)
        used += size
    head = "".join(out).rstrip("_-.")
    return f"{head}_{digest}" if head else digest


def safe_id(stem: str, *, limit: int = MAX_ID_BYTES) -> str:
    """Turn a file stem (or any text) into a directory-safe id.

    Args:
        stem: the file name without its extension (any string, even empty).
        limit: the maximum length in UTF-8 bytes.

    Returns:
        A non-empty id of at most ``limit`` bytes made of letters, digits, ``_``, ``-``
        and ``.``, not starting with ``.`` or ``-`` and never ``.`` or ``..``.
    """
    if len(stem) <= limit and _PLAIN.match(stem):
        return stem  # the common case: nothing to replace, strip or cut
    return _general_safe_id(stem, limit)


def _general_safe_id(stem: str, limit: int) -> str:
    """:func:`safe_id` without its fast path."""
    text = unicodedata.normalize("NFC", stem)
    parts: list[str] = []
    pending = False
    for char in text:
        if _keep(char):
            if pending:
                parts.append("_")
                pending = False
            parts.append(char)
        else:
            pending = True
    if pending:
        parts.append("_")
    out = "".join(parts).lstrip(_LEADING)
    # A stem of only punctuation ("???") leaves "_" or nothing: use the fallback.
    if not out.strip("_.") or out in {".", ".."}:
        out = FALLBACK_ID
    return _cut(out, limit, stem)


def _with_counter(base: str, taken: Container[str]) -> str:
    """``base`` if free, else ``base_2``, ``base_3``... (all cut to the size limit)."""
    if base not in taken:
        return base
    counter = 2
    while True:
        suffix = f"_{counter}"
        candidate = _cut(base, MAX_ID_BYTES - len(suffix), base) + suffix
        if candidate not in taken:
            return candidate
        counter += 1


def allocate_id(path: PurePath | str, taken: Container[str], *,
                pinned: str | None = None) -> str:
    """A new id for the file at ``path`` that is not in ``taken``.

    Args:
        path: the file (its stem gives the id, its parent folder the disambiguation).
        taken: every id already in the registry (removed and deleted models included).
        pinned: the front matter's ``id:``, when the file has one.

    Returns:
        With ``pinned``: ``safe_id(pinned)`` if free, else that with ``_2``, ``_3``...
        Without: ``safe_id(stem)`` if free; else ``<parent>__<stem>``; else that with
        ``_2``, ``_3``...
    """
    if pinned is not None and pinned.strip():
        return _with_counter(safe_id(pinned.strip()), taken)
    pure = PurePath(path)
    base = safe_id(pure.stem)
    if base not in taken:
        return base
    parent = pure.parent.name
    # The parent part is kept short so the stem stays readable in the combined id.
    qualified = safe_id(f"{safe_id(parent, limit=40)}{_PARENT_SEP}{base}") if parent else base
    return _with_counter(qualified, taken)


def sub_model_id(file_id: str, index: int, taken: Container[str]) -> str:
    """The id of model ``index`` (0-based) of a multi-model file whose id is ``file_id``.

    Args:
        file_id: the id of the file's first model.
        index: the model's 0-based position in the file.
        taken: ids already in use.

    Returns:
        ``file_id`` for the first model, ``<file_id>--<index+1>`` for the others (with a
        counter suffix if another file already holds that id).
    """
    if index == 0:
        return file_id
    suffix = f"{_MULTI_SEP}{index + 1}"
    base = _cut(file_id, MAX_ID_BYTES - len(suffix), file_id) + suffix
    return _with_counter(base, taken)


_ID_RE = re.compile(r"^[^./\\\x00-][^/\\\x00]*$")


def is_safe_id(model_id: str) -> bool:
    """Whether ``model_id`` is usable as a directory name under the output directory.

    Args:
        model_id: an id read from a registry (possibly written by an older version).

    Returns:
        True when the id is non-empty, has no path separator or NUL, does not start with
        ``.`` or ``-``, and fits in :data:`MAX_ID_BYTES` bytes.
    """
    return bool(_ID_RE.match(model_id)) and len(model_id.encode("utf-8")) <= MAX_ID_BYTES


__all__ = [
    "FALLBACK_ID",
    "MAX_ID_BYTES",
    "allocate_id",
    "is_safe_id",
    "safe_id",
    "sub_model_id",
]

"""Which names and texts are GNN models: patterns, editor temporaries, ignores, headings.

The rules :mod:`registry.scanning.discovery` walks by and the service's event filter applies
(:func:`is_ignored`); the decisions are documented in :mod:`registry.scanning.discovery`.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from registry.gnn.fences import fenced_line_set, has_fence_marker

GNN_SECTION_NAMES: frozenset[str] = frozenset({
    "GNNSection", "GNNVersionAndFlags", "ModelName", "ModelAnnotation", "StateSpaceBlock",
    "Connections", "InitialParameterization", "Equations", "Time",
    "ActInfOntologyAnnotation", "ModelParameters", "Footer", "Signature", "ImageFromPaper",
})
"""Section headings that mark a Markdown file as a GNN model (gnn-format.md section 2)."""

MIN_GNN_HEADINGS = 2
"""How many distinct GNN section headings a file needs to count as a GNN model."""

# Paths are handled as strings with os.path on purpose: a scan touches every file name, and
# Path objects cost several times more per operation. Path.resolve() is also wrong here: it
# follows symlinks, and the registry records paths as the user's tree spells them.


def absolute(path: Path | str) -> str:
    """``path`` made absolute against the current directory, symlinks kept as written."""
    return os.path.abspath(os.fspath(path))  # noqa: PTH100 - see the note above


def base_name(path: str) -> str:
    """The last component of a path string."""
    return os.path.basename(path)  # noqa: PTH119 - see the note above


_HEADING = re.compile(r"^[ \t]*## +([A-Za-z]+)[ \t]*\r?$", re.MULTILINE)
EDITOR_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp")
_DIGITS = re.compile(r"^[0-9]+$")
TEMP_NAME = re.compile(r"#(?:.*#)?\Z|[0-9]+\Z", re.DOTALL)
"""Emacs autosaves and all-digit probe names (the rest of :func:`is_editor_temporary`)."""


def _gnn_headings(text: str) -> tuple[int, int]:
    """Distinct GNN section headings of ``text``: ``(outside fenced code, anywhere)``, each
    counted up to :data:`MIN_GNN_HEADINGS`."""
    if not has_fence_marker(text):
        seen: set[str] = set()
        for match in _HEADING.finditer(text):
            if match.group(1) in GNN_SECTION_NAMES:
                seen.add(match.group(1))
                if len(seen) >= MIN_GNN_HEADINGS:
                    break
        return len(seen), len(seen)
    lines = text.split("\n")
    fenced = fenced_line_set(lines)
    outside: set[str] = set()
    anywhere: set[str] = set()
    for index, line in enumerate(lines):
        heading = _HEADING.match(line)
        if heading is None or heading.group(1) not in GNN_SECTION_NAMES:
            continue
        anywhere.add(heading.group(1))
        if index not in fenced:
            outside.add(heading.group(1))
            if len(outside) >= MIN_GNN_HEADINGS:
                break
    return len(outside), len(anywhere)


def looks_like_gnn(text: str) -> bool:
    """Whether ``text`` has at least two distinct GNN section headings (``## ModelName``...)
    outside fenced code blocks.

    Args:
        text: the file's text.

    Returns:
        True for GNN models (valid or not); False for README-style Markdown, including prose
        that shows GNN examples in fenced code blocks (:func:`shows_gnn_examples`).
    """
    return _gnn_headings(text)[0] >= MIN_GNN_HEADINGS


def shows_gnn_examples(text: str) -> bool:
    """Whether ``text`` is prose with GNN examples: not a model by :func:`looks_like_gnn`, but
    with at least two distinct GNN section headings once those inside fenced code count.

    Args:
        text: the file's text.

    Returns:
        True for a README, tutorial or essay that shows GNN snippets in code blocks.
    """
    outside, anywhere = _gnn_headings(text)
    return outside < MIN_GNN_HEADINGS <= anywhere


def is_editor_temporary(name: str) -> bool:
    """Whether a file name is an editor swap/backup/probe file or hidden.

    Args:
        name: a file name (no directory part).

    Returns:
        True for ``*.swp``, ``*.swx``, ``*.swo``, ``*~``, ``*.tmp``, ``.#*``, ``#*#``, all-digit
        names such as vim's ``4913``, and any hidden name (leading dot).
    """
    if not name or name.startswith("."):
        return True
    if name.endswith(EDITOR_SUFFIXES):
        return True
    if name.startswith("#") and name.endswith("#"):
        return True
    return bool(_DIGITS.match(name))


def _relative_parts(path: str, roots: Iterable[str]) -> tuple[str, ...] | None:
    """The components of ``path`` below the deepest root containing it, or ``None``."""
    best: str | None = None
    for root in roots:
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix) and (best is None or len(root) > len(best)):
            best = root
    if best is None:
        return None
    rel = path[len(best.rstrip(os.sep)) + 1:]
    return tuple(part for part in rel.split(os.sep) if part)  # noqa: PTH206 - strings


@functools.lru_cache(maxsize=64)
def pattern_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive regex for a set of glob patterns (compiled once per set)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(p.lower())})" for p in patterns)
                      or "(?!)")


def matches_any(name: str, patterns: Sequence[str], rel: str | None = None) -> bool:
    """Whether ``name`` (or the relative path ``rel``) matches one of ``patterns``.

    Matching ignores case (``*.md`` matches ``MODEL.MD``).
    """
    regex = pattern_regex(tuple(patterns))
    if regex.match(name.lower()):
        return True
    return rel is not None and regex.match(rel.lower()) is not None


def is_ignored(
    path: Path | str,
    *,
    roots: Iterable[Path | str] = (),
    ignore_patterns: Sequence[str] = (),
) -> bool:
    """Whether events or files at ``path`` must never be treated as GNN files.

    Args:
        path: a file or directory path.
        roots: the watched/scanned roots; when ``path`` is below one, every component below
            it is checked (so files inside hidden folders are ignored), otherwise only the
            name.
        ignore_patterns: ``config.ignore_patterns``.

    Returns:
        True for editor temporaries, hidden names (or names inside hidden folders) and names
        matching ``ignore_patterns``.
    """
    text = absolute(path)
    name = base_name(text)
    root_strs = [absolute(r) for r in roots]
    parts = _relative_parts(text, root_strs)
    if parts is None:
        parts = (name,)
    if is_editor_temporary(name):
        return True
    if any(part.startswith(".") for part in parts[:-1]):
        return True
    if ignore_patterns:
        rel = "/".join(parts)
        if matches_any(name, ignore_patterns, rel):
            return True
        for depth in range(1, len(parts)):
            if matches_any(parts[depth - 1], ignore_patterns, "/".join(parts[:depth])):
                return True
    return False


def plain_suffixes(patterns: Sequence[str]) -> tuple[str, ...] | None:
    """``(".md", ...)`` when every pattern is ``*.<ext>`` with a plain extension, else None.

    A name ending in such an extension is never an editor temporary (``*.swp``, ``*~``,
    ``#*#``, all digits), so the walk then needs only ``str.endswith``.
    """
    out: list[str] = []
    for pattern in patterns:
        ext = pattern.lower()[1:]
        if (not pattern.startswith("*.") or len(ext) < 2 or any(c in ext for c in "*?[]#~")
                or ext.endswith(EDITOR_SUFFIXES)):
            return None
        out.append(ext)
    return tuple(out) or None


__all__ = [
    "EDITOR_SUFFIXES",
    "GNN_SECTION_NAMES",
    "MIN_GNN_HEADINGS",
    "TEMP_NAME",
    "absolute",
    "base_name",
    "is_editor_temporary",
    "is_ignored",
    "looks_like_gnn",
    "matches_any",
    "pattern_regex",
    "plain_suffixes",
    "shows_gnn_examples",
]

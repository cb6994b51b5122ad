"""Markdown code fences in GNN files: fence lines are Markdown, not GNN.

A **fence line** is a line that, once stripped, starts with three or more backticks or three
or more tildes (```` ``` ````, ```` ```gnn ````, ``~~~``). A **fenced block** runs from an
opening fence line to the next fence line of the same character that is at least as long and
carries nothing else (CommonMark's closing rule; the indentation of either line does not
matter here).

Two rules use this (see ``docs/validation.md``):

- A ``## `` line inside a fenced block is not a section heading, and a ``---`` line inside one
  separates no models. A document that only *shows* GNN in code blocks is therefore not a
  model (:func:`registry.scanning.names.looks_like_gnn`).
- Inside a section, fence lines themselves are skipped like comment lines, so a
  ``Connections`` block wrapped in a fence reads as its edges (the reference reports the
  fence lines as GNN-E005).

An opening fence that is never closed is **not** a fenced block (its line is still a fence
line). A Markdown viewer would show the rest of the file as code; we do not, so that one stray
```` ``` ```` in a model cannot hide all the model's headings and turn it into "prose".
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
MARKERS = ("```", "~~~")
"""The two fence openings; a text without either has no fence line."""


def has_fence_marker(text: str) -> bool:
    """Whether ``text`` may contain a fence line (a C-speed test before any line is read)."""
    return "```" in text or "~~~" in text


def is_fence_line(line: str) -> bool:
    """Whether ``line`` is a Markdown fence line (opening or closing).

    Args:
        line: one line, with or without surrounding blanks.

    Returns:
        True when the stripped line starts with three backticks or three tildes.
    """
    return line.lstrip().startswith(MARKERS)


def fenced_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """The closed fenced blocks of a text.

    Args:
        lines: the text's lines.

    Returns:
        ``(open, close)`` pairs of 0-based line indexes (both fence lines), in order. An
        opening fence without a closing one is left out.
    """
    blocks: list[tuple[int, int]] = []
    opening: tuple[int, str] | None = None
    fence = _FENCE.match
    for index, line in enumerate(lines):
        match = fence(line) if "``" in line or "~~" in line else None
        if match is None:
            continue
        run, rest = match.group(1), match.group(2)
        if opening is None:
            if run[0] == "`" and "`" in rest:
                continue  # inline code such as ```x``` is no fence
            opening = (index, run)
        elif run[0] == opening[1][0] and len(run) >= len(opening[1]) and not rest.strip():
            blocks.append((opening[0], index))
            opening = None
    return blocks


def fenced_line_set(lines: list[str], text: str | None = None) -> frozenset[int]:
    """0-based indexes of every line inside a closed fenced block, fence lines included.

    Args:
        lines: the text's lines.
        text: the whole text, when the caller has it (skips the line pass when the text has
            no fence marker at all, the common case).

    Returns:
        The indexes (empty when there is no closed fence).
    """
    if text is not None and not has_fence_marker(text):
        return frozenset()
    inside: set[int] = set()
    for first, last in fenced_blocks(lines):
        inside.update(range(first, last + 1))
    return frozenset(inside)


__all__ = ["MARKERS", "fenced_blocks", "fenced_line_set", "has_fence_marker", "is_fence_line"]

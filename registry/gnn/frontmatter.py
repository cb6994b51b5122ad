"""YAML front matter of a GNN file: a small, safe subset of YAML read without any dependency.

A ``---`` line at the very start of the file opens the front matter and the next ``---`` line
closes it. Between them, this module accepts:

- ``key: value`` scalars; one pair of matching surrounding quotes (``"..."`` or ``'...'``) is
  removed, and an unquoted value loses a trailing `` # comment``. Values stay text:
  ``version: 2.3.0`` is the string ``"2.3.0"``;
- inline lists ``key: [a, "b", c]`` (items split on commas, trimmed, quotes removed);
- block lists: ``key:`` followed by ``- item`` lines (indentation optional);
- blank lines and ``# comment`` lines.

Any other line is a ``GNN-E106`` finding at its line (the readable keys are still kept), and so
is an opening ``---`` that is never closed (the file is then parsed as if it had no front
matter). A ``key:`` with neither a value nor list items is the empty string. When a key is
repeated, the last value wins. Known keys (``author``, ``version``, ``framework_targets``,
``tags``, ``created``, ``updated``, ``description``, ``license``, ``source``, ``depends_on``,
``derived_from``, and ``id``, which pins the registry id) and unknown keys are all kept, in
file order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from registry.gnn import codes
from registry.gnn.model import Finding

KNOWN_KEYS: tuple[str, ...] = (
    "author",
    "created",
    "depends_on",
    "derived_from",
    "description",
    "framework_targets",
    "id",
    "license",
    "source",
    "tags",
    "updated",
    "version",
)
"""Front-matter keys with a meaning for the registry (unknown keys are kept too)."""

_KEY_LINE = re.compile(r"^([A-Za-z_][\w.\-]*)\s*:(?:\s+(.*?)|)\s*$")
_ITEM_LINE = re.compile(r"^\s*-(?:\s+(.*?)|)\s*$")


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """The result of reading the start of a file.

    Attributes:
        values: the keys and their values (``str`` or ``list[str]``), in file order.
        line: the 1-based line of the opening ``---``, or ``None`` without front matter.
        body_start: index (0-based) of the first line after the closing ``---`` (0 without
            front matter).
        findings: ``GNN-E106`` findings.
    """

    values: dict[str, str | list[str]] = field(default_factory=dict)
    line: int | None = None
    body_start: int = 0
    findings: tuple[Finding, ...] = ()


def is_rule_line(line: str) -> bool:
    """True when ``line`` is only three or more dashes (surrounding whitespace allowed).

    Args:
        line: one line of text, without its line break.

    Returns:
        Whether the line is a ``---`` front-matter delimiter or model separator.
    """
    text = line.strip()
    return len(text) >= 3 and text.count("-") == len(text)


def unquote(text: str) -> str:
    """Remove one pair of matching surrounding quotes (``"x"`` or ``'x'``).

    Args:
        text: a trimmed scalar.

    Returns:
        The text without the quotes, or unchanged when it is not quoted.
    """
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _scalar(raw: str) -> str:
    text = raw.strip()
    if text[:1] in "\"'":
        return unquote(text)
    cut = text.find(" #")
    if cut >= 0:
        text = text[:cut].rstrip()
    return text


def _inline_list(raw: str) -> list[str]:
    inner = raw.strip()[1:-1].strip()
    if not inner:
        return []
    return [unquote(item.strip()) for item in inner.split(",")]


def read_front_matter(lines: list[str]) -> FrontMatter:
    """Read the front matter at the start of ``lines``, if any.

    Args:
        lines: the file's lines (line breaks removed, BOM already stripped).

    Returns:
        A :class:`FrontMatter`; without an opening ``---`` line it is empty, with
        ``body_start`` 0.
    """
    if not lines or lines[0].strip() != "---":
        return FrontMatter()
    close = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if close is None:
        finding = codes.BAD_FRONT_MATTER.at(
            1, "YAML front matter opened by '---' on line 1 is never closed by a '---' line"
        )
        return FrontMatter(findings=(finding,))
    values: dict[str, str | list[str]] = {}
    findings: list[Finding] = []
    list_key: str | None = None
    for index in range(1, close):
        line = lines[index]
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        item = _ITEM_LINE.match(line)
        if item is not None and list_key is not None:
            current = values[list_key]
            if isinstance(current, str):
                current = []
                values[list_key] = current
            current.append(_scalar(item.group(1) or ""))
            continue
        match = _KEY_LINE.match(line)
        if match is None or line[:1].isspace():
            findings.append(codes.BAD_FRONT_MATTER.at(
                index + 1, f"front matter line {text[:60]!r} is not 'key: value' or '- item'"))
            list_key = None
            continue
        key, raw = match.group(1), match.group(2) or ""
        if not raw:
            values[key] = ""
            list_key = key
        elif raw.startswith("[") and raw.endswith("]"):
            values[key] = _inline_list(raw)
            list_key = None
        else:
            values[key] = _scalar(raw)
            list_key = None
    return FrontMatter(values=values, line=1, body_start=close + 1, findings=tuple(findings))


__all__ = ["KNOWN_KEYS", "FrontMatter", "is_rule_line", "read_front_matter", "unquote"]

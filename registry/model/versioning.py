"""Semantic model versions: parsing, bumping and choosing the next version of a model.

Rules (design.md section 5), with the decisions this module makes where the design is silent:

- Versions are ``MAJOR.MINOR.PATCH`` of non-negative integers without leading zeros and
  without pre-release or build suffixes (``1.0.0``, ``2.13.4``). A front matter ``version:``
  that is not of this form (``v2``, ``1.0``, ``2.0.0-rc1``) is ignored and logged: the file
  gets a computed version as if it declared none.
- The first version is the declared one when valid, else ``1.0.0``.
- A changed model is bumped from the **highest version it ever had** (pruned and deleted
  history included), not from its current version, so a number is never handed out twice.
- With ``auto_version`` on, the bump kind comes from the structural diff (major, minor or
  patch; see :func:`registry.gnn.bump_kind`). With ``auto_version`` off every change is a
  patch bump: numbers still grow and stay unique, but nothing is inferred from structure.
- A declared version is honoured when it is greater than every existing version. A declared
  version that is lower than an existing one, or that already exists (with other content,
  since identical bytes never reach this function), is a *conflict*: the model is bumped
  instead and the caller records a ``version_conflict`` event and logs a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from registry.model.records import ChangeKind, ModelEntry

BumpKind = Literal["major", "minor", "patch"]
"""How much a version grows."""

FIRST_VERSION = "1.0.0"
"""The version of a model that declares none."""

_SEMVER = re.compile(r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$")

Version = tuple[int, int, int]
"""A parsed version, comparable with ``<``."""


def parse_version(text: object) -> Version | None:
    """Read ``MAJOR.MINOR.PATCH``.

    Args:
        text: a candidate version (anything; only strings can match).

    Returns:
        The three numbers, or ``None`` when ``text`` is not a plain semantic version.
    """
    if not isinstance(text, str):
        return None
    match = _SEMVER.match(text.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3])


def format_version(version: Version) -> str:
    """Write a parsed version back as ``MAJOR.MINOR.PATCH``."""
    return f"{version[0]}.{version[1]}.{version[2]}"


def bump(version: str, kind: BumpKind) -> str:
    """The version after ``version`` for a change of ``kind``.

    Args:
        version: a valid ``MAJOR.MINOR.PATCH``.
        kind: ``major`` (x+1.0.0), ``minor`` (x.y+1.0) or ``patch`` (x.y.z+1).

    Returns:
        The bumped version.

    Raises:
        ValueError: ``version`` is not a semantic version.
    """
    parsed = parse_version(version)
    if parsed is None:
        msg = f"not a semantic version: {version!r}"
        raise ValueError(msg)
    major, minor, patch = parsed
    if kind == "major":
        return format_version((major + 1, 0, 0))
    if kind == "minor":
        return format_version((major, minor + 1, 0))
    return format_version((major, minor, patch + 1))


def highest_version(versions: Iterable[str]) -> str | None:
    """The greatest valid semantic version among ``versions`` (``None`` if there is none)."""
    best: Version | None = None
    for text in versions:
        parsed = parse_version(text)
        if parsed is not None and (best is None or parsed > best):
            best = parsed
    return format_version(best) if best is not None else None


@dataclass(frozen=True, slots=True)
class VersionChoice:
    """The outcome of :func:`next_version`.

    Attributes:
        version: the version to mint.
        change: why (``initial``, ``major``, ``minor``, ``patch`` or ``declared``).
        conflict: a sentence explaining why a declared version was not used, else ``None``.
    """

    version: str
    change: ChangeKind
    conflict: str | None = None


def first_version(declared: object) -> VersionChoice:
    """The version of a model's first registration.

    Args:
        declared: the front matter ``version:`` value (or ``None``).

    Returns:
        The declared version when it is a valid semantic version, else ``1.0.0``;
        ``change`` is ``initial`` either way.
    """
    parsed = parse_version(declared)
    version = format_version(parsed) if parsed is not None else FIRST_VERSION
    return VersionChoice(version, "initial")


def next_version(entry: ModelEntry, kind: BumpKind, declared: object = None) -> VersionChoice:
    """The version a changed model gets.

    Args:
        entry: the model, with every version it ever had in ``entry.versions`` (pruned
            records included; the store never drops a record, only its details).
        kind: the bump the change calls for (from the structural diff, or ``patch``).
        declared: the front matter ``version:`` of the new content (or ``None``).

    Returns:
        The declared version with change ``declared`` when it differs from the current
        version and is greater than every existing one; otherwise the highest existing
        version bumped by ``kind``, with ``conflict`` set when a declared version had to be
        refused.
    """
    existing = [rec.version for rec in entry.versions]
    if entry.version:
        existing.append(entry.version)
    top = highest_version(existing) or FIRST_VERSION
    bumped = bump(top, kind) if existing else FIRST_VERSION
    wanted = parse_version(declared)
    if wanted is None:
        return VersionChoice(bumped, kind)
    declared_text = format_version(wanted)
    if declared_text == entry.version and declared_text in existing:
        # The file still declares the current version but its content changed.
        conflict = (f"declared version {declared_text} is already the current version with "
                    f"other content; registered as {bumped}")
        return VersionChoice(bumped, kind, conflict)
    if declared_text in existing:
        conflict = (f"declared version {declared_text} already exists with other content; "
                    f"registered as {bumped}")
        return VersionChoice(bumped, kind, conflict)
    top_parsed = parse_version(top)
    if top_parsed is not None and wanted < top_parsed:
        conflict = (f"declared version {declared_text} is lower than existing version {top}; "
                    f"registered as {bumped}")
        return VersionChoice(bumped, kind, conflict)
    return VersionChoice(declared_text, "declared")


__all__ = [
    "FIRST_VERSION",
    "BumpKind",
    "Version",
    "VersionChoice",
    "bump",
    "first_version",
    "format_version",
    "highest_version",
    "next_version",
    "parse_version",
]

"""Find GNN files under directories, and decide which names are never GNN files.

What is a candidate (decisions documented here; design.md section 5):

- Names matching ``config.patterns`` (``*.md``, ``*.markdown``, ``*.gnn``; matched without
  regard to case, so ``MODEL.MD`` counts) under the given directories, recursively.
- Never: names matched by ``config.ignore_patterns`` (tried against the name and against the
  path relative to the root, e.g. ``drafts/*``); editor temporaries and backups (``*.swp``,
  ``*.swx``, ``*~``, ``.#*``, ``#*#``, ``*.tmp``, vim's probe ``4913`` and any all-digit
  name); hidden files and everything inside hidden directories (below the root; a root that
  itself lives under a hidden folder is fine).
- Only regular files. Discovery uses ``lstat`` information (``os.scandir`` d_type and
  ``DirEntry.stat(follow_symlinks=False)``), so FIFOs, sockets and devices are never opened;
  a FIFO named like a model is reported as skipped.
- Symlinks (files and directories) are skipped with a debug log unless
  ``config.follow_symlinks``; when following, each directory is entered once per
  ``(device, inode)`` so link loops end. A root given on the command line is always followed
  (the user named it), and a root that is a single file is taken as that file.
- A directory that cannot be listed (``EACCES``...) is reported (status ``error``) and
  recorded in :attr:`Discovery.unlisted`, so the scanner never marks models below it removed.

Whether a candidate *is* a GNN model is decided from its text by :func:`looks_like_gnn`: at
least two distinct GNN section headings. README-style Markdown is therefore skipped, not
reported invalid. (A candidate that is not UTF-8 text at all is reported invalid by the
scanner: the user named it like a model.)
"""

from __future__ import annotations

import fnmatch
import functools
import operator
import os
import re
import stat as stat_mod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import structlog

from registry.config import Config
from registry.scanio import FileInfo, file_info

log = structlog.get_logger(__name__)

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


def _stat_follow(path: str) -> os.stat_result:
    return os.stat(path)  # noqa: PTH116 - see the note above


_HEADING = re.compile(r"^[ \t]*## +([A-Za-z]+)[ \t]*\r?$", re.MULTILINE)
_EDITOR_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp")
_DIGITS = re.compile(r"^[0-9]+$")
_TEMP_NAME = re.compile(r"#(?:.*#)?\Z|[0-9]+\Z", re.DOTALL)
"""Emacs autosaves and all-digit probe names (the rest of :func:`is_editor_temporary`)."""


def looks_like_gnn(text: str) -> bool:
    """Whether ``text`` has at least two distinct GNN section headings (``## ModelName``...).

    Args:
        text: the file's text.

    Returns:
        True for GNN models (valid or not), False for README-style Markdown.
    """
    seen: set[str] = set()
    for match in _HEADING.finditer(text):
        name = match.group(1)
        if name in GNN_SECTION_NAMES:
            seen.add(name)
            if len(seen) >= MIN_GNN_HEADINGS:
                return True
    return False


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
    if name.endswith(_EDITOR_SUFFIXES):
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
def _pattern_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive regex for a set of glob patterns (compiled once per set)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(p.lower())})" for p in patterns)
                      or "(?!)")


def matches_any(name: str, patterns: Sequence[str], rel: str | None = None) -> bool:
    """Whether ``name`` (or the relative path ``rel``) matches one of ``patterns``.

    Matching ignores case (``*.md`` matches ``MODEL.MD``).
    """
    regex = _pattern_regex(tuple(patterns))
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


def _plain_suffixes(patterns: Sequence[str]) -> tuple[str, ...] | None:
    """``(".md", ...)`` when every pattern is ``*.<ext>`` with a plain extension, else None.

    A name ending in such an extension is never an editor temporary (``*.swp``, ``*~``,
    ``#*#``, all digits), so the walk then needs only ``str.endswith``.
    """
    out: list[str] = []
    for pattern in patterns:
        ext = pattern.lower()[1:]
        if (not pattern.startswith("*.") or len(ext) < 2 or any(c in ext for c in "*?[]#~")
                or ext.endswith(_EDITOR_SUFFIXES)):
            return None
        out.append(ext)
    return tuple(out) or None


class Candidate(NamedTuple):
    """A regular file that may be a GNN model: absolute path and its ``lstat`` result."""

    path: str
    stat: FileInfo


_new_candidate = _new_info = tuple.__new__
"""Build a :class:`Candidate` or :class:`FileInfo` without the generated ``__new__``."""


_ENTRY_NAME = operator.attrgetter("name")


@dataclass(frozen=True, slots=True)
class Problem:
    """A path discovery could not use: ``status`` is ``skipped`` or ``error``."""

    path: str
    status: str
    message: str


@dataclass(slots=True)
class Discovery:
    """Everything one discovery pass found.

    Attributes:
        files: candidate files, in a deterministic order (per root, sorted paths).
        problems: paths skipped with a reason worth reporting, and errors.
        unlisted: directories (absolute) that could not be read; nothing below them may be
            treated as gone.
    """

    files: list[Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)


class _Walker:
    """One discovery pass over several roots (state shared across roots: visited dirs)."""

    def __init__(self, config: Config, result: Discovery) -> None:
        self.config = config
        self.result = result
        self.visited: set[tuple[int, int]] = set()
        self.seen_files: set[str] = set()
        # One root and no followed symlinks: every path is reached once, so the walk need
        # not remember them (discover() sets this).
        self.unique = False
        self.ignore_patterns = config.ignore_patterns
        self.wanted = _pattern_regex(tuple(config.patterns)).match  # on lower-cased names
        self.suffixes = _plain_suffixes(config.patterns)

    def add_file(self, path: str, st: os.stat_result) -> None:
        if path not in self.seen_files:
            self.seen_files.add(path)
            self.result.files.append(_new_candidate(Candidate, (path, file_info(st))))

    def walk_root(self, root: str) -> None:
        try:
            # The root is followed even when it is a symlink: the user named it.
            st = _stat_follow(root)
        except FileNotFoundError:
            self.result.problems.append(Problem(root, "error", "directory does not exist"))
            self.result.unlisted.append(root)
            return
        except OSError as exc:
            self.result.problems.append(
                Problem(root, "error", f"cannot read directory: {exc.strerror or exc}"))
            self.result.unlisted.append(root)
            return
        if stat_mod.S_ISREG(st.st_mode):
            self.add_file(root, st)
            return
        if not stat_mod.S_ISDIR(st.st_mode):
            self.result.problems.append(
                Problem(root, "skipped", "not a directory or regular file"))
            return
        self.visited.add((st.st_dev, st.st_ino))
        self.walk_dir(root, root)

    def walk_dir(self, root: str, top: str) -> None:
        stack = [top]
        while stack:
            current = stack.pop()
            try:
                with os.scandir(current) as handle:
                    entries = sorted(handle, key=_ENTRY_NAME)
            except OSError as exc:
                log.warning("directory_unreadable", path=current,
                            error=exc.strerror or str(exc))
                self.result.problems.append(
                    Problem(current, "error", f"cannot list directory: {exc.strerror or exc}"))
                self.result.unlisted.append(current)
                continue
            subdirs: list[str] = []
            for entry in entries:
                if self.ignore_patterns or not self._plain_file(entry):
                    self.visit(root, entry, subdirs)
            # Reverse so the stack pops sub-directories in sorted order.
            stack.extend(reversed(subdirs))

    def _plain_file(self, entry: os.DirEntry[str]) -> bool:
        """Handle the commonest entry, a regular file, in one call; False for the rest.

        A regular file (as ``d_type`` tells, no system call) whose name is not wanted or is
        hidden or an editor temporary is dropped; a wanted one is ``lstat``-ed and added.
        Anything else, or any error, is left to :meth:`visit`.
        """
        try:
            if not entry.is_file(follow_symlinks=False):
                return False
            name = entry.name
            if name[0] == ".":
                return True
            if self.suffixes is not None:  # "*.md"-style patterns: one string test suffices
                if not name.lower().endswith(self.suffixes):
                    return True
            elif (not self.wanted(name.lower()) or name.endswith(_EDITOR_SUFFIXES)
                    or _TEMP_NAME.match(name)):
                return True
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return False  # visit() reports it (or drops a file that vanished)
        if not stat_mod.S_ISREG(st.st_mode):
            return False
        path = entry.path
        if self.unique or path not in self.seen_files:
            if not self.unique:
                self.seen_files.add(path)
            self.result.files.append(_new_candidate(Candidate, (path, _new_info(
                FileInfo, (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)))))
        return True

    def visit(self, root: str, entry: os.DirEntry[str], subdirs: list[str]) -> None:
        """Classify one directory entry (the hot loop of a scan: keep it lean)."""
        name = entry.name
        if name[0] == ".":
            return  # hidden files and hidden directories
        path = entry.path
        if self.ignore_patterns:
            rel = path[len(root.rstrip(os.sep)) + 1:].replace(os.sep, "/")
            if matches_any(name, self.ignore_patterns, rel):
                return
        try:
            if entry.is_symlink():
                self.visit_symlink(path, subdirs)
                return
            if entry.is_dir(follow_symlinks=False):
                # Directory names are never editor temporaries ("2024" is a fine folder).
                subdirs.append(path)
                return
            if (not self.wanted(name.lower()) or name.endswith(_EDITOR_SUFFIXES)
                    or _TEMP_NAME.match(name)):
                return  # not a pattern match, or an editor temporary (is_editor_temporary)
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return  # vanished while we looked: it is simply not there
        except OSError as exc:
            self.result.problems.append(Problem(path, "error", f"cannot stat: {exc.strerror}"))
            return
        if stat_mod.S_ISREG(st.st_mode):
            self.add_file(path, st)
        else:
            self.result.problems.append(Problem(
                path, "skipped", "not a regular file (FIFO, socket or device); not opened"))

    def visit_symlink(self, path: str, subdirs: list[str]) -> None:
        config = self.config
        if not config.follow_symlinks:
            log.debug("symlink_skipped", path=path)
            return
        try:
            st = _stat_follow(path)
        except OSError as exc:
            log.debug("symlink_broken", path=path, error=exc.strerror or str(exc))
            return
        if stat_mod.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in self.visited:
                log.debug("symlink_loop_skipped", path=path)
                return
            self.visited.add(key)
            subdirs.append(path)
        elif stat_mod.S_ISREG(st.st_mode):
            name = base_name(path)
            if not is_editor_temporary(name) and matches_any(name, config.patterns):
                self.add_file(path, st)


def discover(roots: Iterable[Path | str], config: Config) -> Discovery:
    """Find candidate GNN files under ``roots``.

    Args:
        roots: directories (or single files) to search; relative paths are made absolute
            against the current directory, symlinks in them are kept as written.
        config: patterns, ignore patterns and the symlink policy.

    Returns:
        The candidates, the problems worth reporting and the directories that could not be
        listed. Never raises for file-system problems.
    """
    result = Discovery()
    walker = _Walker(config, result)
    chosen = [absolute(root) for root in roots]
    walker.unique = len(chosen) == 1 and not config.follow_symlinks
    for root in chosen:
        walker.walk_root(root)
    return result


__all__ = [
    "GNN_SECTION_NAMES",
    "MIN_GNN_HEADINGS",
    "Candidate",
    "Discovery",
    "Problem",
    "absolute",
    "base_name",
    "discover",
    "is_editor_temporary",
    "is_ignored",
    "looks_like_gnn",
    "matches_any",
]

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

The name rules themselves (patterns, editor temporaries, ignores, GNN headings) live in
:mod:`registry.scanning.names`.

Whether a candidate *is* a GNN model is decided from its text by :func:`looks_like_gnn`: at
least two distinct GNN section headings. README-style Markdown is therefore skipped, not
reported invalid. (A candidate that is not UTF-8 text at all is reported invalid by the
scanner: the user named it like a model.)
"""

from __future__ import annotations

import operator
import os
import stat as stat_mod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import structlog

from registry.config import Config
from registry.scanning.names import (
    EDITOR_SUFFIXES,
    TEMP_NAME,
    absolute,
    base_name,
    is_editor_temporary,
    matches_any,
    pattern_regex,
    plain_suffixes,
)
from registry.scanning.scanio import FileInfo, FileOutcome, file_info, stat_key

log = structlog.get_logger(__name__)

def _stat_follow(path: str) -> os.stat_result:
    return os.stat(path)  # noqa: PTH116 - see the note above


class Candidate(NamedTuple):
    """A regular file that may be a GNN model: absolute path and its ``lstat`` result."""

    path: str
    stat: FileInfo


_new_candidate = tuple.__new__
"""Builds a :class:`Candidate` without the generated ``__new__``."""


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
    known: list[str] | None = None
    """Set instead of ``files`` when ``discover`` was given ``known`` and every candidate
    matched it: their paths, in the order ``files`` would have had."""

    def problem_outcomes(self) -> list[FileOutcome]:
        """The problems as scan outcomes (status and message kept)."""
        return [FileOutcome(p.path, p.status, message=p.message) for p in self.problems]


Known = Mapping[str, str]
"""Entries by absolute path, each starting with the :func:`~registry.scanning.scanio.stat_key` of
the file as it was and a tab (the scan cache's ``files``)."""


class _Miss(Exception):  # noqa: N818 - a control-flow signal
    """A candidate that ``known`` does not match: the probing walk stops."""


class _Walker:
    """One discovery pass over several roots (state shared across roots: visited dirs)."""

    def __init__(self, config: Config, result: Discovery, known: Known | None = None) -> None:
        self.config = config
        self.result = result
        # Probing (``known`` given): candidates are matched against it instead of collected.
        self.known_get = None if known is None else known.get
        self.hits: list[str] = []
        self.visited: set[tuple[int, int]] = set()
        self.seen_files: set[str] = set()
        # One root and no followed symlinks: every path is reached once, so the walk need
        # not remember them (discover() sets this).
        self.unique = False
        self.ignore_patterns = config.ignore_patterns
        self.wanted = pattern_regex(tuple(config.patterns)).match  # on lower-cased names
        self.suffixes = plain_suffixes(config.patterns)

    def add_file(self, path: str, st: os.stat_result) -> None:
        if not self.unique:
            if path in self.seen_files:
                return
            self.seen_files.add(path)
        if self.known_get is not None:
            entry = self.known_get(path)
            if entry is None or not entry.startswith(stat_key(st) + "\t"):
                raise _Miss
            self.hits.append(path)
            return
        self.result.files.append(_new_candidate(Candidate, (path, file_info(st))))

    def unlisted(self, path: str, message: str, *, warn: bool = False) -> None:
        """Report a directory (or root) that could not be listed (``warn``: log it too)."""
        if self.known_get is not None:
            raise _Miss  # a probe cannot vouch for what it could not see
        if warn:
            log.warning("directory_unreadable", path=path, error=message)
        self.result.problems.append(Problem(path, "error", message))
        self.result.unlisted.append(path)

    def walk_root(self, root: str) -> None:
        try:
            # The root is followed even when it is a symlink: the user named it.
            st = _stat_follow(root)
        except FileNotFoundError:
            self.unlisted(root, "directory does not exist")
            return
        except OSError as exc:
            self.unlisted(root, f"cannot read directory: {exc.strerror or exc}")
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
                self.unlisted(current, f"cannot list directory: {exc.strerror or exc}", warn=True)
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
            elif (not self.wanted(name.lower()) or name.endswith(EDITOR_SUFFIXES)
                    or TEMP_NAME.match(name)):
                return True
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return False  # visit() reports it (or drops a file that vanished)
        if not stat_mod.S_ISREG(st.st_mode):
            return False
        self.add_file(entry.path, st)
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
            if (not self.wanted(name.lower()) or name.endswith(EDITOR_SUFFIXES)
                    or TEMP_NAME.match(name)):
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


def discover(roots: Iterable[Path | str], config: Config, *,
             known: Known | None = None) -> Discovery:
    """Find candidate GNN files under ``roots``.

    Args:
        roots: directories (or single files) to search; relative paths are made absolute
            against the current directory, symlinks in them are kept as written.
        config: patterns, ignore patterns and the symlink policy.
        known: probe first: when every candidate is in ``known`` with its current stat key,
            the result carries ``known`` hits instead of candidates (no per-file objects
            are built: this is the unchanged rescan's walk). At the first candidate that
            does not match, the walk starts again as a plain discovery.

    Returns:
        The candidates (or the ``known`` hits), the problems worth reporting and the
        directories that could not be listed. Never raises for file-system problems.
    """
    chosen = [absolute(root) for root in roots]
    if known is not None:
        try:
            return _run(chosen, config, known)
        except (_Miss, AttributeError, TypeError):  # a mismatch, or an entry of the wrong type
            pass
    return _run(chosen, config, None)


def _run(chosen: list[str], config: Config, known: Known | None) -> Discovery:
    result = Discovery()
    walker = _Walker(config, result, known)
    walker.unique = len(chosen) == 1 and not config.follow_symlinks
    for root in chosen:
        walker.walk_root(root)
    if known is not None:
        result.known = walker.hits
    return result


__all__ = ["Candidate", "Discovery", "Known", "Problem", "discover"]

"""``gnn-registry validate PATH... [--strict] [--json]``: validate GNN files without registering.

A PATH that is a directory is searched as ``gnn-registryd --scan`` would search it
(:func:`registry.scanning.discovery.discover`: the configured patterns, recursively, editor
temporaries
and hidden files ignored), and files there that are not GNN models (README-style Markdown,
fewer than two GNN section headings) are skipped and named as skipped, not failed. A file
named explicitly is always validated.

Output: one line per finding on stdout, ``path:line: CODE severity: message`` (line 0 when a
finding has no line), one ``path: skipped: reason`` line per skipped file, then a one-line
summary on stderr. With ``--json`` (a common option), stdout is one JSON array
``[{"path", "ok", "findings": [...], "skipped"?: reason}]`` instead. Exit status 0 when no
file has an error (with ``--strict``: no finding at all), 1 otherwise; 2 for a bad config.
A file declaring more than ``max_variables`` variables is refused with ``GNN-E108`` before
it is parsed.

A path that cannot be read (missing, a directory, a FIFO or other special file, permission
denied) gives one ``GNN-E107`` line for that path, never a traceback. Special files are
refused *before* they are opened, and the open itself uses ``O_NONBLOCK`` and re-checks the
opened descriptor, so a FIFO swapped in between the two checks cannot block the command.
"""

from __future__ import annotations

import argparse
import errno
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.common import EXIT_OK, EXIT_PROBLEMS, config_from_args, print_json, printable
from registry.config import Config
from registry.gnn.codes import UNREADABLE_FILE
from registry.gnn.model import Finding
from registry.gnn.validate import check_bytes
from registry.scanning.discovery import discover
from registry.scanning.fileanalysis import too_many_variables
from registry.scanning.names import looks_like_gnn

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileReport:
    """The findings for one command-line path and whether it passes."""

    path: str
    findings: tuple[Finding, ...]
    ok: bool
    skipped: str = ""
    """Why a file found under a directory was not validated (not a GNN model)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form of this report."""
        out: dict[str, Any] = {"path": self.path, "ok": self.ok,
                               "findings": [finding.to_dict() for finding in self.findings]}
        if self.skipped:
            out["skipped"] = self.skipped
        return out


def _kind(mode: int) -> str:
    """A human name for a file type that is not a regular file."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class UnreadableFileError(OSError):
    """A command-line path cannot be read; the message says why (without the path)."""


def read_regular_file(path: str) -> bytes:
    """Read a regular file's bytes without ever blocking on a special file.

    Args:
        path: the file to read.

    Returns:
        The file's content.

    Raises:
        UnreadableFileError: the path is missing, not a regular file, or not readable.
    """
    try:
        # stat first: a FIFO must never be opened (an open for reading waits for a writer).
        info = Path(path).stat()
    except OSError as exc:
        raise UnreadableFileError(_os_reason(exc)) from exc
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFileError(f"cannot read: it is {_kind(info.st_mode)}")
    try:
        # O_NONBLOCK: if the path was replaced by a FIFO since the stat, open returns at once
        # and the fstat below refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnreadableFileError(_os_reason(exc)) from exc
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise UnreadableFileError(f"cannot read: it is {_kind(opened.st_mode)}")
        return _read_all(fd)
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    """Read an open descriptor to its end (``os.read`` may return less than asked)."""
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
    except OSError as exc:
        raise UnreadableFileError(_os_reason(exc)) from exc
    return b"".join(chunks)


def _os_reason(exc: OSError) -> str:
    """A short reason for an OS error, without the path (the line already names it)."""
    if exc.errno == errno.ENOENT:
        return "cannot read: no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot read: permission denied"
    if exc.errno == errno.EISDIR:
        return "cannot read: it is a directory"
    reason = exc.strerror or str(exc)
    return f"cannot read: {reason}"


NOT_GNN_REASON = "not a GNN model (fewer than two GNN section headings)"


def _not_gnn(data: bytes) -> bool:
    """UTF-8 text without NUL and with fewer than two GNN headings (as ``--scan`` skips)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text and not looks_like_gnn(text)


def check_path(path: str, *, strict: bool, max_variables: int = 0,
               found: bool = False) -> FileReport:
    """Read and validate one path.

    Args:
        path: the path as given on the command line (or found under a directory).
        strict: warnings block too.
        max_variables: refuse a file with more variable declarations (0: no limit).
        found: the path was found under a directory: skip it if it is not a GNN model.

    Returns:
        The report for that path (a ``GNN-E107`` finding when it cannot be read).
    """
    try:
        data = read_regular_file(path)
    except UnreadableFileError as exc:
        finding = UNREADABLE_FILE.at(None, str(exc))
        return FileReport(path, (finding,), ok=False)
    if found and _not_gnn(data):
        return FileReport(path, (), ok=True, skipped=NOT_GNN_REASON)
    oversized = too_many_variables(data, max_variables)
    if oversized is not None:
        return FileReport(path, (oversized,), ok=False)
    result = check_bytes(data, strict=strict)
    return FileReport(path, result.findings, ok=result.ok)


def _expand(paths: list[str], config: Config) -> list[tuple[str, bool]]:
    """Each command-line path, with directories replaced by the files found under them.

    Returns:
        ``(path, found)`` pairs; ``found`` is true for files found under a directory.
    """
    out: list[tuple[str, bool]] = []
    for path in paths:
        if not Path(path).is_dir():
            out.append((path, False))
            continue
        found = discover([path], config)
        out.extend((candidate.path, True) for candidate in found.files)
        out.extend((problem.path, False) for problem in found.problems
                   if problem.status == "error")
    return out


def run(args: argparse.Namespace) -> int:
    """Handler of ``gnn-registry validate``.

    Args:
        args: parsed arguments (``files``, ``strict``, ``json_output``).

    Returns:
        0 when every file passes, 1 otherwise.
    """
    config = config_from_args(args)
    strict = bool(args.strict)
    reports = [check_path(path, strict=strict, max_variables=config.max_variables,
                          found=found)
               for path, found in _expand(list(args.files), config)]
    if args.json_output:
        print_json([report.to_dict() for report in reports])
    else:
        out = sys.stdout
        for report in reports:
            if report.skipped:
                out.write(printable(f"{report.path}: skipped: {report.skipped}") + "\n")
            for finding in report.findings:
                # One line per finding, whatever the file is called (see printable).
                out.write(printable(finding.format(report.path)) + "\n")
        out.flush()
    failed = sum(1 for report in reports if not report.ok)
    skipped = sum(1 for report in reports if report.skipped)
    errors = sum(1 for r in reports for f in r.findings if f.severity == "error")
    warnings = sum(1 for r in reports for f in r.findings if f.severity == "warning")
    blocking = "errors and warnings block" if strict else "errors block"
    checked = len(reports) - skipped
    sys.stderr.write(
        f"{checked} file(s) checked: {checked - failed} ok, {failed} failed"
        + (f", {skipped} skipped (not GNN)" if skipped else "")
        + f"; {errors} error(s), {warnings} warning(s) ({blocking})\n")
    return EXIT_OK if failed == 0 else EXIT_PROBLEMS


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``validate`` sub-command.

    Args:
        subparsers: the ``gnn-registry`` sub-parser collection.
        common: the parent parser with the shared options (``--json`` among them).
    """
    parser = subparsers.add_parser(
        "validate", parents=[common],
        help="validate GNN files without registering them",
        description="Validate GNN files and print one line per finding "
                    "(path:line: CODE severity: message). A directory is searched "
                    "recursively for GNN files, as gnn-registryd --scan searches it.")
    parser.add_argument("files", nargs="+", metavar="PATH",
                        help="GNN files, or directories to search")
    parser.add_argument("--strict", action="store_true",
                        help="warnings make the check fail too")
    parser.set_defaults(handler=run)


__all__ = [
    "NOT_GNN_REASON",
    "FileReport",
    "UnreadableFileError",
    "check_path",
    "read_regular_file",
    "register",
    "run",
]

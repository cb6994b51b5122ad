"""File-level plumbing of a scan: outcomes, safe reads, recorded stats and the racy-git rule.

:class:`FileOutcome` is what the scanner reports per file. :func:`read_file` reads a
candidate safely: ``O_NOFOLLOW`` unless symlinks are followed (a path that became a symlink
between ``lstat`` and ``open`` fails with ``ELOOP`` instead of being followed),
``O_NONBLOCK`` so a path swapped for a FIFO never blocks the scan, ``fstat`` of the open
descriptor to confirm a regular file and to give the stat that is recorded (taken *before*
reading, so a write during the read changes the mtime after it and the next scan reads the
file again), and never more than ``max_file_size + 1`` bytes. :func:`read_settled` is the
scan's read: it waits (boundedly) for a file being written to settle and reads a file again
when its stat changed during the read, so a half-written file is never registered. Problems
come back as :class:`ReadProblem` with an outcome status and a message a user understands,
never as ``OSError``.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from registry.model.records import FileStat

RACY_NS = 2_000_000_000
"""A file whose mtime is this close to (or after) the time its stat was recorded is re-hashed."""

STATUSES = ("registered", "updated", "unchanged", "invalid", "skipped", "removed", "restored",
            "renamed", "error", "deferred")
"""Every :attr:`FileOutcome.status`."""


@dataclass(slots=True)
class FileOutcome:
    """What happened to one file.

    Attributes:
        path: the absolute path.
        status: one of :data:`STATUSES`.
        model_ids: the models of this file (or of the vanished file).
        version: the (first) model's current version, if any.
        change: why a version was minted (``initial``, ``major``...), else ``None``.
        findings: the validator's findings (dicts with code, severity, line, message).
        duration_ms: time spent on the file.
        message: a sentence for skipped, error, removed and renamed outcomes.
    """

    path: str
    status: str
    model_ids: list[str] = field(default_factory=list)
    version: str | None = None
    change: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "status": self.status, "model_ids": list(self.model_ids),
                "version": self.version, "change": self.change, "findings": self.findings,
                "duration_ms": round(self.duration_ms, 3), "message": self.message}


class ReadProblem(Exception):  # noqa: N818 - a control-flow signal, not an error class
    """A file gave an outcome instead of bytes.

    ``status`` is ``skipped``, ``error``, ``deferred`` (the file kept changing while the scan
    waited for it to settle) or ``vanished`` (the file disappeared: the caller treats it as
    deleted).
    """

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def size_text(size: int) -> str:
    """A file size for messages (``20 MB``, ``512 bytes``)."""
    mib = size / (1024 * 1024)
    return f"{mib:.0f} MB" if mib >= 1 else f"{size} bytes"


class FileInfo(NamedTuple):
    """The fields of an ``lstat`` result a scan uses (discovery keeps one per candidate: a
    quarter of the memory of an ``os.stat_result``, which carries 19 fields)."""

    st_mode: int
    st_size: int
    st_mtime_ns: int
    st_ino: int
    st_dev: int


StatLike = os.stat_result | FileInfo
"""What the scan functions accept as a file's stat."""

_new_info = tuple.__new__


def file_info(st: os.stat_result) -> FileInfo:
    """The :class:`FileInfo` of a full stat result."""
    return _new_info(FileInfo, (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev))


def stat_key(st: StatLike) -> str:
    """Size, mtime, inode and device of ``st`` as one string (the scan cache's comparison).

    One string per file keeps the cache cheap to decode (a JSON string costs a fraction of
    four integers) and the comparison to one ``==``.
    """
    return key_of(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def key_of(size: int, mtime_ns: int, inode: int, device: int) -> str:
    """The :func:`stat_key` of a file with these fields."""
    return f"{size} {mtime_ns} {inode} {device}"


def file_stat(st: StatLike) -> FileStat:
    """The :class:`FileStat` to record for ``st``, stamped with the current time."""
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, time.time_ns())


def stat_matches(recorded: FileStat | None, st: StatLike) -> bool:
    """Whether a file can be trusted unchanged without reading it.

    Args:
        recorded: the stat recorded when the file was last read.
        st: its stat now.

    Returns:
        True when size, mtime, inode and device are equal and the mtime is more than
        :data:`RACY_NS` older than the recording time.
    """
    if recorded is None:
        return False
    if (recorded.size != st.st_size or recorded.mtime_ns != st.st_mtime_ns
            or recorded.inode != st.st_ino or recorded.device != st.st_dev):
        return False
    return st.st_mtime_ns < recorded.recorded_ns - RACY_NS


def lstat_or_none(path: str) -> os.stat_result | None:
    """``os.lstat(path)``, ``None`` when the path does not exist (or a parent is a file).

    Raises:
        ReadProblem: any other error (status ``error``).
    """
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        # A parent folder was replaced by a file of the same name: the path is gone too
        # (without this, the models under the old folder were never marked removed).
        return None
    except OSError as exc:
        raise ReadProblem("error", f"cannot stat: {exc.strerror or exc}") from exc


def _open(path: str, *, follow_symlinks: bool) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags)
    except FileNotFoundError as exc:
        raise ReadProblem("vanished", "file vanished before it could be read") from exc
    except PermissionError as exc:
        raise ReadProblem("error", "cannot read: permission denied") from exc
    except IsADirectoryError as exc:
        raise ReadProblem("skipped", "is a directory") from exc
    except OSError as exc:
        # ELOOP: the path became a symlink between lstat and open (O_NOFOLLOW).
        raise ReadProblem("error", f"cannot open: {exc.strerror or exc}") from exc


def read_file(path: str, limit: int, *,
              follow_symlinks: bool = False) -> tuple[bytes, os.stat_result]:
    """Read a regular file of at most ``limit`` bytes.

    Args:
        path: the file.
        limit: ``max_file_size``.
        follow_symlinks: allow the last component to be a symlink.

    Returns:
        The bytes and the ``fstat`` of the opened file (taken before reading).

    Raises:
        ReadProblem: the file vanished, is not a regular file, is too big or cannot be read.
    """
    data, before, _after = _read(path, limit, follow_symlinks=follow_symlinks)
    return data, before


def _read(path: str, limit: int, *,
          follow_symlinks: bool) -> tuple[bytes, os.stat_result, os.stat_result]:
    """The bytes, and the open file's ``fstat`` before and after reading them."""
    fd = _open(path, follow_symlinks=follow_symlinks)
    try:
        fst = os.fstat(fd)
        if not stat_mod.S_ISREG(fst.st_mode):
            raise ReadProblem("skipped", "not a regular file; not read")
        if fst.st_size > limit:
            raise ReadProblem("skipped", f"file is {size_text(fst.st_size)}, over "
                                         f"max_file_size {size_text(limit)}")
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, max(fst.st_size + 1, 65536)))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        after = os.fstat(fd)
    except OSError as exc:
        raise ReadProblem("error", f"cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) > limit:
        raise ReadProblem("skipped", f"file grew over max_file_size {size_text(limit)}")
    return data, fst, after


def same_stat(a: os.stat_result, b: os.stat_result) -> bool:
    """Whether two stats of one file show no write between them (size, mtime, ctime, inode)."""
    return (a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns
            and a.st_ctime_ns == b.st_ctime_ns and a.st_ino == b.st_ino)


@dataclass(frozen=True, slots=True)
class Settle:
    """How :func:`read_settled` waits for a file that is being written.

    Attributes:
        quiet_ns: a file modified less than this long ago is read only once it has been
            quiet that long (``settle_ms``).
        timeout_s: the longest wait for one file (``settle_timeout``); a file still
            changing then is ``deferred``.
    """

    quiet_ns: int = 0
    timeout_s: float = 0.0


def read_settled(path: str, limit: int, settle: Settle, *,
                 follow_symlinks: bool = False) -> tuple[bytes, os.stat_result]:
    """Read a file once it has settled: never bytes of a write still in progress.

    A file modified within ``settle.quiet_ns`` is waited for until it has been quiet that
    long; a file whose stat changed while it was read is read again. Both waits together
    last at most ``settle.timeout_s``; a file still changing then is reported ``deferred``
    (the next scan, or the service's next event for it, reads it).

    Args:
        path: the file.
        limit: ``max_file_size``.
        settle: the quiet time and the bound.
        follow_symlinks: allow the last component to be a symlink.

    Returns:
        The bytes and the ``fstat`` taken before reading them.

    Raises:
        ReadProblem: as :func:`read_file`, or ``deferred`` for a file that kept changing.
    """
    deadline = time.monotonic() + settle.timeout_s
    while True:
        data, before, after = _read(path, limit, follow_symlinks=follow_symlinks)
        age = time.time_ns() - after.st_mtime_ns
        # A mtime in the future (clock skew) says nothing about activity: only the
        # before/after comparison applies to it.
        young = 0 <= age < settle.quiet_ns
        if same_stat(before, after) and not young:
            return data, before
        left = deadline - time.monotonic()
        if left <= 0:
            waited = settle.timeout_s
            msg = (f"file kept changing for {waited:g} s (settle_timeout); not registered "
                   "this time, the next scan reads it")
            raise ReadProblem("deferred", msg)
        pause = (settle.quiet_ns - age) / 1e9 if young else settle.quiet_ns / 1e9
        time.sleep(min(max(pause, 0.005), left))


__all__ = [
    "RACY_NS",
    "STATUSES",
    "FileInfo",
    "FileOutcome",
    "ReadProblem",
    "Settle",
    "StatLike",
    "file_info",
    "file_stat",
    "key_of",
    "lstat_or_none",
    "read_file",
    "read_settled",
    "same_stat",
    "size_text",
    "stat_key",
    "stat_matches",
]

"""Encoded model lines kept in an unnamed temp file instead of memory.

A first scan of 10,000 models encodes about 40 MB of model lines before the store writes the
registry file; held as ``bytes`` they dominate the process's memory. Once a
:class:`~registry.modelmap.ModelMap` has encoded more than :data:`SPILL_AFTER` bytes of new
lines, it appends each further line to a :class:`LineSpill` and keeps only a
:class:`SpilledLine` (where the line is). Reading a line back is one ``pread``; the file is an
unnamed ``tempfile.TemporaryFile`` (``O_TMPFILE`` on Linux), so it needs no cleanup and
disappears with the last reference to it, crash or not. Its content is never durable and
never read by another process: it is memory that the page cache may evict.

If the temp file cannot be created or written (a full ``/tmp``), lines simply stay in memory.
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from typing import NamedTuple

from registry.errors import StoreError

SPILL_AFTER = 1 << 20
"""New-line bytes a map keeps in memory before it starts spilling (a service write never
comes near it)."""


class SpillReadError(StoreError):
    """A spilled line could not be read back."""


class LineSpill:
    """An append-only unnamed temp file of lines (safe to share between threads)."""

    def __init__(self) -> None:
        """Create the temp file.

        Raises:
            OSError: it could not be created.
        """
        handle = tempfile.TemporaryFile(prefix="gnn-registry-lines-")  # noqa: SIM115
        self._fd = handle.fileno()
        weakref.finalize(self, handle.close)  # closed with the last reference, explicitly
        self._end = 0
        self._lock = threading.Lock()

    def put(self, line: bytes) -> SpilledLine:
        """Append ``line``.

        Args:
            line: the bytes to keep.

        Returns:
            Where they are.

        Raises:
            OSError: the write failed.
        """
        with self._lock:
            offset = self._end
            self._end += len(line)
        view = memoryview(line)
        position = offset
        while view:
            written = os.pwrite(self._fd, view, position)
            view = view[written:]
            position += written
        return SpilledLine(self, offset, len(line))

    def read(self, offset: int, length: int) -> bytes:
        """The ``length`` bytes at ``offset`` (written earlier by :meth:`put`).

        Raises:
            SpillReadError: the read failed or came back short.
        """
        try:
            data = os.pread(self._fd, length, offset)
            while len(data) < length:
                more = os.pread(self._fd, length - len(data), offset + len(data))
                if not more:
                    break
                data += more
        except OSError as exc:
            raise SpillReadError("cannot read a spilled model line",
                                 reason=exc.strerror or str(exc)) from exc
        if len(data) != length:
            raise SpillReadError("a spilled model line is truncated")
        return data


class SpilledLine(NamedTuple):
    """A line kept in a :class:`LineSpill` (its length is ``length``, not ``len()``)."""

    spill: LineSpill
    offset: int
    length: int

    def read(self) -> bytes:
        """The line's bytes."""
        return self.spill.read(self.offset, self.length)


Line = bytes | SpilledLine
"""An encoded line, in memory or spilled."""


def line_bytes(line: Line) -> bytes:
    """The bytes of ``line`` (read back when spilled)."""
    return line if isinstance(line, bytes) else line.read()


def line_size(line: Line) -> int:
    """The length of ``line`` in bytes (nothing is read)."""
    return len(line) if isinstance(line, bytes) else line.length


def open_spill() -> LineSpill | None:
    """A new spill file, or ``None`` when none can be created (lines then stay in memory)."""
    try:
        return LineSpill()
    except OSError:
        return None


__all__ = ["SPILL_AFTER", "Line", "LineSpill", "SpillReadError", "SpilledLine", "line_bytes",
           "line_size", "open_spill"]

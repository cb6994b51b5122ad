"""Gzip files of the backups: stream compression and a fully checked decompression.

Both work chunk by chunk (:data:`CHUNK`), so memory stays flat whatever the database's
size. :func:`decompress_file` accepts only one complete, intact gzip stream: a bad header,
damaged data, a CRC-32 or length mismatch (zlib checks the trailer), a truncated stream or
bytes after its end all raise :class:`BackupUnreadableError`, and the output is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from registry.errors import StoreError
from registry.storage.atomic import FILE_MODE, store_error

LEVEL = 1
"""zlib level of new backups: the fastest (at 10,000 models level 6 takes about twice as
long for a file about a fifth smaller)."""

CHUNK = 1 << 20
"""Bytes read, or decompressed, per step."""

GZ_SUFFIX = ".gz"
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 31  # zlib's gzip container: header, then a CRC-32 and size trailer


class BackupUnreadableError(StoreError):
    """A compressed backup cannot be decompressed (truncated, damaged, not gzip)."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def compress_file(source: Path, target: Path, *, level: int = LEVEL) -> None:
    """Gzip ``source`` into the new file ``target`` (mode 0o644), chunk by chunk, fsynced.

    Raises:
        StoreError: reading, writing or fsync failed (step ``writing a backup``); ``target``
            is removed.
    """
    fd = -1
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        packer = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
        with source.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                _write_all(fd, packer.compress(chunk))
        _write_all(fd, packer.flush())
        os.fchmod(fd, FILE_MODE)
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        raise store_error(target, "writing a backup", exc) from exc
    finally:
        if fd >= 0:
            os.close(fd)


def is_compressed(path: Path) -> bool:
    """Whether ``path`` is (meant to be) a gzip backup: its name ends in ``.gz`` or it
    starts with the gzip magic bytes.

    Raises:
        OSError: the file cannot be read.
    """
    if path.name.endswith(GZ_SUFFIX):
        return True
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def decompress_file(source: Path, target: Path, *, durable: bool = False) -> None:
    """Decompress the gzip backup ``source`` into the new file ``target``.

    The whole stream is checked: a bad header, damaged data, a CRC or length mismatch, a
    truncated stream or bytes after its end all raise. ``target`` is removed on failure.

    Args:
        source: the ``.gz`` backup.
        target: the new file (created, must not exist).
        durable: fsync ``target`` (when it is about to become the database).

    Raises:
        BackupUnreadableError: ``source`` is not a complete, intact gzip stream.
        StoreError: reading or writing failed.
    """
    where = str(source)
    fd = -1
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        unpacker = zlib.decompressobj(_GZIP_WBITS)
        with source.open("rb") as handle:
            while not unpacker.eof:
                chunk = unpacker.unconsumed_tail or handle.read(CHUNK)
                if not chunk:
                    break
                _write_all(fd, unpacker.decompress(chunk, CHUNK))
            trailing = unpacker.unused_data or handle.read(1)
        if not unpacker.eof:
            msg = "the compressed backup is truncated (its gzip stream does not end)"
            raise BackupUnreadableError(msg, path=where, reason="incomplete file")
        if trailing:
            msg = "the compressed backup has bytes after its gzip stream"
            raise BackupUnreadableError(msg, path=where, reason="damaged file")
        if durable:
            os.fsync(fd)
    except zlib.error as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        msg = "the compressed backup is damaged (not a valid gzip stream)"
        raise BackupUnreadableError(msg, path=where, reason=str(exc)) from exc
    except StoreError:  # a StoreError is an OSError too: keep its own message
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    except OSError as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        raise store_error(source, "decompressing a backup", exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    finally:
        if fd >= 0:
            os.close(fd)


@contextlib.contextmanager
def unpacked(path: Path) -> Iterator[Path]:
    """A plain SQLite file holding the backup ``path``: the file itself when it is not
    compressed, else a decompressed private copy in the system's temp directory, removed
    on exit (it never lies in ``backups/``, where a writer sweeps temp files).

    Raises:
        BackupUnreadableError: a compressed backup that cannot be decompressed.
        StoreError: the file cannot be read or the copy cannot be written.
    """
    try:
        packed = is_compressed(path)
    except OSError as exc:
        raise store_error(path, "reading a backup", exc) from exc
    if not packed:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="gnn-registry-backup-") as private:
        plain = Path(private) / "backup.sqlite3"
        decompress_file(path, plain)
        yield plain


__all__ = ["CHUNK", "GZ_SUFFIX", "LEVEL", "BackupUnreadableError", "compress_file",
           "decompress_file", "is_compressed", "unpacked"]

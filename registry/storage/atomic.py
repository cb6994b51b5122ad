"""The crash-safe file replace recipe used for every file the store writes.

Recipe (see field-notes section 3.1): a unique temp file in the target's own directory
(``tempfile.mkstemp``, so ``O_EXCL``), write every byte (looping on short writes), ``fsync``,
close, ``fchmod`` to 0o644, ``os.replace`` over the target, then ``fsync`` the directory so
the rename itself is durable. Readers therefore see the old file or the new one, never a
partial one.

On any ``OSError`` the temp file is removed and a :class:`~registry.errors.StoreError` names
the file, the step (``writing temp file``, ``fsync``, ``replace``, ``directory fsync``) and the
errno (``no space left on device (ENOSPC)``). A failed ``fsync`` is never retried: Linux may
drop the dirty pages after a failed write-back, so a second ``fsync`` can falsely succeed.

Decisions where the brief was silent:

* The mode is always exactly 0o644 (``fchmod``), whatever the umask: never world-writable,
  and readable by the operator's query tools.
* A failure of the final directory ``fsync`` happens *after* the rename, so the new file is
  already visible; it is still reported as an error because its durability is unknown.
* Hard-linked backups share the registry file's inode. That is safe because registry files
  are never modified in place, only replaced.
"""

from __future__ import annotations

import errno
import os
import secrets
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from registry.errors import StoreError
from registry.storage.failpoints import failpoint

FILE_MODE = 0o644
"""Permissions of every file the store writes."""

TEMP_SUFFIX = ".tmp"

Content = bytes | Iterable[bytes]
"""A file's complete content: one ``bytes``, or its chunks in order (written as they come, so
a large file never has to exist in memory as one object)."""

_LINK_FALLBACK_ERRNOS = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def describe_oserror(exc: OSError) -> str:
    """A short human cause for an ``OSError``: ``no space left on device (ENOSPC)``.

    Args:
        exc: the error.

    Returns:
        The lower-cased ``strerror`` followed by the errno name, or ``str(exc)``.
    """
    if exc.errno is None:
        return str(exc) or type(exc).__name__
    name = errno.errorcode.get(exc.errno, f"errno {exc.errno}")
    text = os.strerror(exc.errno)
    text = text[:1].lower() + text[1:]
    return f"{text} ({name})"


def store_error(path: Path, step: str, exc: OSError) -> StoreError:
    """Build the :class:`StoreError` for ``step`` failing on ``path``.

    Args:
        path: the file being written (the target, not the temp file).
        step: the step that failed.
        exc: the underlying error.

    Returns:
        The error to raise (chain it with ``from exc``).
    """
    return StoreError(f"{step} failed for {path.name}", path=str(path),
                      reason=describe_oserror(exc))


def temp_prefix(name: str) -> str:
    """The prefix of our temp files for a target file called ``name``."""
    return "." + name + "."


DIR_MODE = 0o755
"""Mode of every directory we create: never group- or world-writable, whatever the umask."""


def make_dirs(directory: Path) -> bool:
    """Create ``directory`` and its missing parents with :data:`DIR_MODE`.

    ``Path.mkdir(parents=True)`` gives the parents ``0o777 & ~umask``, which under umask 0 is
    world-writable (anyone could then rename a file over the registry); each missing component
    is therefore created with an explicit mode. Existing directories are left as they are.

    Args:
        directory: the directory to create.

    Returns:
        Whether anything was created.

    Raises:
        OSError: a component could not be created.
    """
    missing: list[Path] = []
    probe = directory
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for component in reversed(missing):
        try:
            component.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not component.is_dir():
                raise
    return bool(missing)


def ensure_dir(directory: Path, *, for_file: Path) -> None:
    """Create ``directory`` (and parents) if missing, fsyncing its parent when created.

    Args:
        directory: the directory to create.
        for_file: the file about to be written (for the error message).

    Raises:
        StoreError: the directory could not be created.
    """
    if directory.is_dir():
        return
    try:
        make_dirs(directory)
        fsync_dir(directory.parent, for_file=for_file)
    except OSError as exc:
        raise store_error(for_file, "creating directory", exc) from exc


def fsync_dir(directory: Path, *, for_file: Path, step: str = "directory fsync") -> None:
    """``fsync`` a directory so renames and unlinks in it are durable.

    Args:
        directory: the directory.
        for_file: the file whose rename is being made durable (for the error message).
        step: the step name used in the error.

    Raises:
        StoreError: opening or syncing the directory failed.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise store_error(for_file, step, exc) from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        raise store_error(for_file, step, exc) from exc
    finally:
        os.close(fd)


def _write_all(fd: int, data: Content) -> None:
    for chunk in (data,) if isinstance(data, bytes) else data:
        view = memoryview(chunk)
        while view:
            written = os.write(fd, view)
            view = view[written:]


def _discard(tmp: str | Path) -> None:
    # Best effort: the original error is what the caller must see.
    with suppress(OSError):
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: Path, data: Content, *, crash_points: bool = False,
                 durable: bool = True) -> None:
    """Replace ``path`` with ``data`` using the crash-safe recipe.

    Args:
        path: the target file.
        data: its complete new content (``bytes`` or an iterable of chunks; an exception
            raised while producing a chunk removes the temp file and propagates as it is).
        crash_points: call the registry-write failpoints (only for the registry file).
        durable: fsync the file and its directory. Off for derived files that are rebuilt
            when lost (the scan summary and scan cache): still replaced atomically, so a
            reader never sees a partial file, but after a power loss the old content (or an
            empty file) may be what survives.

    Raises:
        StoreError: any step failed; the previous file is left intact (except for a failed
            directory ``fsync``, which happens after the rename).
    """
    directory = path.parent
    ensure_dir(directory, for_file=path)
    tmp = write_temp(path, data, crash_points=crash_points, fsync=durable)
    if crash_points:
        failpoint("after_temp_fsync")
    try:
        os.replace(tmp, path)  # noqa: PTH105 - the recipe's primitive, named as such
    except OSError as exc:
        _discard(tmp)
        raise store_error(path, "replace", exc) from exc
    if crash_points:
        failpoint("after_rename")
        failpoint("before_dir_fsync")
    if durable:
        fsync_dir(directory, for_file=path)


def write_temp(path: Path, data: Content, *, fsync: bool = True,
               crash_points: bool = False) -> str:
    """Steps 1-3 of the recipe for one file: a unique temp file beside ``path``, all of
    ``data`` written, fsynced (unless the caller batches durability), mode 0o644.

    Args:
        path: the target the temp file will replace.
        data: the complete content (``bytes`` or an iterable of chunks).
        fsync: fsync the temp file (off only where the caller syncs a whole batch).
        crash_points: call the registry-write failpoints.

    Returns:
        The temp file's name.

    Raises:
        StoreError: a step failed; the temp file has been removed.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name),
                                   suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise store_error(path, "writing temp file", exc) from exc
    step = "writing temp file"
    try:
        try:
            _write_all(fd, data)
            if crash_points:
                failpoint("after_temp_write")
            step = "fsync"
            if fsync:
                os.fsync(fd)
            step = "writing temp file"
            os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    except OSError as exc:
        _discard(tmp)
        raise store_error(path, step, exc) from exc
    except BaseException:  # a chunk producer failed: no temp file is left behind
        _discard(tmp)
        raise
    return tmp


def link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` a durable copy of ``source``: a hard link if possible, else a copy.

    The link goes to a unique temp name first and is then renamed over ``target``, so an
    existing ``target`` is replaced atomically; the directory is fsynced afterwards.

    Args:
        source: the file to keep (never modified).
        target: where the copy goes.

    Raises:
        StoreError: the copy could not be made (step ``backup rotation``).
    """
    step = "backup rotation"
    ensure_dir(target.parent, for_file=target)
    with suppress(OSError):
        if target.samefile(source):  # already kept (a write that crashed after the backup)
            return
    tmp = target.parent / (temp_prefix(target.name) + secrets.token_hex(6) + TEMP_SUFFIX)
    try:
        os.link(source, tmp)
    except OSError as exc:
        if exc.errno not in _LINK_FALLBACK_ERRNOS:
            raise store_error(target, step, exc) from exc
        # The filesystem cannot hard-link: copy the bytes with the full recipe instead.
        try:
            data = source.read_bytes()
        except OSError as read_exc:
            raise store_error(target, step, read_exc) from read_exc
        write_atomic(target, data)
        return
    try:
        os.replace(tmp, target)  # noqa: PTH105 - the recipe's primitive, named as such
    except OSError as exc:
        _discard(tmp)
        raise store_error(target, step, exc) from exc
    # rename(2) between two links of one inode succeeds without doing anything: drop ours.
    _discard(tmp)
    fsync_dir(target.parent, for_file=target, step=step)


def remove_stale_temps(directory: Path, name: str) -> list[Path]:
    """Delete our crash-leftover temp files ``.<name>.*.tmp`` in ``directory``.

    Only call this while holding the registry lock: that proves no writer is using them.

    Args:
        directory: where to look.
        name: the target file name the temp files were made for (a glob pattern is fine).

    Returns:
        The files removed.
    """
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for tmp in directory.glob(temp_prefix(name) + "*" + TEMP_SUFFIX):
        try:
            tmp.unlink()
        except FileNotFoundError:
            continue
        except OSError:  # pragma: no cover - a leftover we cannot remove does not block writes
            continue
        removed.append(tmp)
    return removed


__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "TEMP_SUFFIX",
    "Content",
    "describe_oserror",
    "ensure_dir",
    "fsync_dir",
    "link_or_copy",
    "make_dirs",
    "remove_stale_temps",
    "store_error",
    "temp_prefix",
    "write_atomic",
    "write_temp",
]

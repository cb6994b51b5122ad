"""Rotated registry backups and the decoding shared by load, recovery, restore and verify.

Backups live in ``<registry dir>/backups/`` and are named after the registry file and the
generation they held: ``model_registry.00000041.json`` is generation 41 of
``model_registry.json``. A backup is the registry file that was about to be replaced,
hard-linked (or copied with the full write recipe where links are impossible), so making
one costs no data copy (and a backup keeps the file's layout and checksums, see
:mod:`registry.docfile`). Only the newest ``backup_count`` are kept. ``decode``/``encode`` and
``InvalidRegistryError`` are re-exported from :mod:`registry.docfile`.
"""

from __future__ import annotations

import re
from pathlib import Path

from registry.atomic import fsync_dir, link_or_copy, store_error
from registry.docfile import InvalidRegistryError, decode, encode
from registry.errors import StoreError
from registry.failpoints import failpoint
from registry.records import RegistryDoc


def backup_name(registry: Path, generation: int) -> str:
    """The backup file name for ``generation`` of ``registry``.

    Args:
        registry: the registry file path.
        generation: the generation the backup holds.

    Returns:
        ``<stem>.<generation:08d><suffix>``.
    """
    return f"{registry.stem}.{generation:08d}{registry.suffix}"


def _pattern(registry: Path) -> re.Pattern[str]:
    return re.compile(re.escape(registry.stem) + r"\.(\d{8,})" + re.escape(registry.suffix) + "$")


def list_backups(backup_dir: Path, registry: Path) -> list[tuple[int, Path]]:
    """The backups of ``registry`` in ``backup_dir``, newest (highest generation) first.

    Args:
        backup_dir: the backups directory.
        registry: the registry file the backups belong to.

    Returns:
        ``(generation, path)`` pairs; the generation is the one in the file name.
    """
    if not backup_dir.is_dir():
        return []
    pattern = _pattern(registry)
    found: list[tuple[int, Path]] = []
    for path in backup_dir.iterdir():
        match = pattern.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    found.sort(key=lambda item: item[0], reverse=True)
    return found


def rotate(backup_dir: Path, registry: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``registry`` and fsync the directory.

    Args:
        backup_dir: the backups directory.
        registry: the registry file.
        keep: how many to keep.

    Returns:
        The deleted backups.

    Raises:
        StoreError: a backup could not be deleted (step ``backup rotation``).
    """
    removed: list[Path] = []
    for _generation, path in list_backups(backup_dir, registry)[keep:]:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise store_error(path, "backup rotation", exc) from exc
        removed.append(path)
    if removed:
        fsync_dir(backup_dir, for_file=registry, step="backup rotation")
    return removed


def make_backup(registry: Path, backup_dir: Path, generation: int, keep: int) -> Path:
    """Keep the current registry file as the backup of ``generation``, then rotate.

    The registry file itself is never touched, so a failure at any point here leaves it
    in place; the caller replaces it only after this returns.

    Args:
        registry: the registry file (must exist and be valid).
        backup_dir: the backups directory.
        generation: the generation the file holds.
        keep: how many backups to keep (at least this new one).

    Returns:
        The new backup's path.

    Raises:
        StoreError: the link/copy or the rotation failed.
    """
    target = backup_dir / backup_name(registry, generation)
    link_or_copy(registry, target)
    failpoint("during_backup_rotation")
    rotate(backup_dir, registry, max(keep, 1))
    return target


def read_backup(path: Path) -> RegistryDoc:
    """Read and decode one backup file.

    Args:
        path: the backup.

    Returns:
        Its document.

    Raises:
        InvalidRegistryError: the file does not decode.
        StoreError: the file cannot be read.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StoreError("cannot read backup", path=str(path),
                         reason=exc.strerror or str(exc)) from exc
    return decode(data)


__all__ = [
    "InvalidRegistryError",
    "backup_name",
    "decode",
    "encode",
    "list_backups",
    "make_backup",
    "read_backup",
    "rotate",
]

"""Which filesystem a directory lives on, and whether inotify can be trusted there.

inotify only sees changes made through the local kernel. On network and user-space
filesystems (NFS, CIFS/SMB, SSHFS and other FUSE mounts, 9p, virtiofs, Ceph, ...) writes made by
another client never raise an event, so the service watches such directories with watchdog's
polling observer instead (watchdog#668 asks for exactly this auto-selection).

The filesystem type comes from ``/proc/self/mountinfo`` (proc(5)): each line is
``id parent major:minor root mount_point options [optional fields] - fstype source super_opts``.
A directory's mount is the entry whose device number equals the directory's ``st_dev`` and whose
mount point is the longest prefix of the directory's real path; when no device matches (a
container's view can hide it) the longest prefix alone decides. Later lines win ties, because a
later mount on the same point hides the earlier one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
"""Where the kernel lists this process's mounts."""

NETWORK_FS_TYPES: frozenset[str] = frozenset({
    "9p", "afs", "beegfs", "ceph", "cifs", "coda", "davfs", "fuse", "fuseblk", "gfs2",
    "glusterfs", "gpfs", "lustre", "ncpfs", "nfs", "nfs4", "ocfs2", "smb", "smb2", "smb3",
    "smbfs", "sshfs", "virtiofs", "vboxsf", "vmhgfs",
})
"""Filesystem types on which inotify misses changes made elsewhere (plus every ``fuse.*``)."""


@dataclass(frozen=True, slots=True)
class MountEntry:
    """One line of ``/proc/self/mountinfo``, reduced to what the service needs."""

    device: tuple[int, int]
    mount_point: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` space, ``\\011`` tab, ``\\012``, ``\\134``)."""
    if "\\" not in field:
        return field
    out: list[str] = []
    i = 0
    while i < len(field):
        chunk = field[i:i + 4]
        if len(chunk) == 4 and chunk[0] == "\\" and chunk[1:].isdigit():
            out.append(chr(int(chunk[1:], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Parse the text of ``/proc/<pid>/mountinfo``.

    Args:
        text: the file's content.

    Returns:
        One entry per well-formed line, in file order (malformed lines are skipped).
    """
    entries: list[MountEntry] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-", 6)
            major, minor = (int(x) for x in fields[2].split(":"))
            fstype, source = fields[sep + 1], fields[sep + 2] if len(fields) > sep + 2 else ""
        except (ValueError, IndexError):
            continue
        entries.append(MountEntry((major, minor), _unescape(fields[4]), fstype,
                                  _unescape(source)))
    return entries


def _is_under(path: str, mount_point: str) -> bool:
    if mount_point == "/":
        return True
    return path == mount_point or path.startswith(mount_point.rstrip("/") + "/")


def find_mount(path: Path, entries: list[MountEntry]) -> MountEntry | None:
    """The mount holding ``path``.

    Args:
        path: an existing file or directory.
        entries: the mount table (:func:`parse_mountinfo`).

    Returns:
        The mount entry, or ``None`` when none covers the path.

    Raises:
        OSError: ``path`` cannot be resolved or stat'ed.
    """
    real = os.path.realpath(path)
    st = Path(real).stat()
    device = (os.major(st.st_dev), os.minor(st.st_dev))
    covering = [(i, e) for i, e in enumerate(entries) if _is_under(real, e.mount_point)]
    same_dev = [(i, e) for i, e in covering if e.device == device]
    candidates = same_dev or covering
    if not candidates:
        return None
    # Longest mount point wins; for equal length the later line (it shadows the earlier).
    return max(candidates, key=lambda ie: (len(ie[1].mount_point), ie[0]))[1]


def filesystem_type(path: Path, *, mountinfo: str | None = None) -> str | None:
    """The filesystem type (``ext4``, ``nfs4``, ``fuse.sshfs``, ...) holding ``path``.

    Args:
        path: an existing directory.
        mountinfo: the mount table text (default: read ``/proc/self/mountinfo``).

    Returns:
        The type, or ``None`` when it cannot be determined (no /proc, unknown path).
    """
    try:
        text = mountinfo if mountinfo is not None else MOUNTINFO.read_text(
            encoding="utf-8", errors="surrogateescape")
        entry = find_mount(path, parse_mountinfo(text))
    except OSError:
        return None
    return entry.fstype if entry is not None else None


def is_network_fs(fstype: str | None) -> bool:
    """Whether inotify cannot be trusted on a filesystem of this type.

    Args:
        fstype: a type as mountinfo spells it (``None`` for unknown: trusted).

    Returns:
        ``True`` for network, cluster, VM-share and FUSE filesystems.
    """
    if not fstype:
        return False
    kind = fstype.lower()
    return kind in NETWORK_FS_TYPES or kind.startswith(("fuse.", "nfs"))


__all__ = [
    "MOUNTINFO",
    "NETWORK_FS_TYPES",
    "MountEntry",
    "filesystem_type",
    "find_mount",
    "is_network_fs",
    "parse_mountinfo",
]

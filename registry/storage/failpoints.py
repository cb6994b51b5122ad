"""Named crash points for durability tests (the etcd "gofail" idea, reduced to one kill).

A test sets ``GNN_REGISTRY_FAILPOINT=after_rename`` (a comma-separated list of names) in a
writer subprocess's environment; when the store reaches a listed step the process kills
itself with SIGKILL, so nothing (no ``finally``, no ``atexit``) runs after that instant. This
is how the crash tests check that every step of the write recipe leaves a loadable registry.

The environment is read once per process, lazily, at the first :func:`failpoint` call;
:func:`reset` forgets what was read so in-process tests can change the variable. With the
variable unset (production) a failpoint costs one set lookup.
"""

from __future__ import annotations

import os

ENV_VAR = "GNN_REGISTRY_FAILPOINT"
"""The environment variable listing the failpoints to trigger."""

FAILPOINTS: tuple[str, ...] = (
    "before_db_commit",
    "after_db_commit",
    "after_metadata_write",
    "after_view_write",
    "during_backup_rotation",
)
"""Every failpoint a registry write reaches, in order: the database transaction (before and
after ``COMMIT``), the per-model metadata files, the JSON view, the backup (after the new
backup is in place, before older ones are rotated out)."""

MIGRATION_FAILPOINTS: tuple[str, ...] = ("during_migration", "before_migration_rename")
"""The failpoints of the first-open import of a JSON registry (the new database is written
in a temp file; killed before or after its content is committed, before the rename)."""

FILE_FAILPOINTS: tuple[str, ...] = ("after_temp_write", "after_temp_fsync", "after_rename",
                                    "before_dir_fsync")
"""The steps of :func:`registry.storage.atomic.write_atomic` when asked for crash points."""

_SIGKILL = 9  # signal.SIGKILL on Linux; `registry` must not import `signal` (design rule).

_active: frozenset[str] | None = None


def active() -> frozenset[str]:
    """The failpoint names listed in the environment (read once, then cached).

    Returns:
        The set of names (empty when the variable is unset or blank).
    """
    global _active  # noqa: PLW0603 - a per-process cache of one environment variable
    if _active is None:
        raw = os.environ.get(ENV_VAR, "")
        _active = frozenset(name.strip() for name in raw.split(",") if name.strip())
    return _active


def reset() -> None:
    """Forget the cached environment so the next :func:`failpoint` call reads it again."""
    global _active  # noqa: PLW0603 - see active()
    _active = None


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL if ``name`` is listed in ``GNN_REGISTRY_FAILPOINT``.

    Args:
        name: the step reached (one of :data:`FAILPOINTS`).
    """
    if name in active():
        os.kill(os.getpid(), _SIGKILL)


__all__ = ["ENV_VAR", "FAILPOINTS", "FILE_FAILPOINTS", "MIGRATION_FAILPOINTS",
           "active", "failpoint", "reset"]

"""The registry's lock: a filelock with a finite timeout, an owner sidecar, no self-deadlock.

One new ``FileLock`` is made per hold (its own descriptor), so threads of one process exclude
each other through the kernel just as processes do. A nested hold for the same lock path in
the same thread raises ``RuntimeError`` instead of waiting for itself until the timeout.
``<registry>.lock.owner`` holds ``{"pid", "host", "actor", "since"}`` of the current holder;
it is informational (written without fsync), names the holder in a timeout error, and is
removed by its owner before release. The lock file itself is never deleted (deleting it would
let two processes lock two different inodes).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import filelock

from registry.config import Config
from registry.errors import StoreBusyError
from registry.model.records import utc_now
from registry.storage.atomic import ensure_dir, store_error

_held: set[tuple[str, int]] = set()
_held_lock = threading.Lock()


class RegistryLock:
    """The lock around every read-modify-write of one registry file."""

    def __init__(self, lock_path: Path, owner_path: Path, config: Config) -> None:
        """Describe the lock (nothing is created until :meth:`hold`).

        Args:
            lock_path: the lock file (``<registry>.lock``).
            owner_path: the informational owner sidecar (``<registry>.lock.owner``).
            config: ``registry_lock`` (off: no locking) and ``lock_timeout`` (seconds).
        """
        self.lock_path = lock_path
        self.owner_path = owner_path
        self.config = config

    @contextmanager
    def hold(self, actor: str) -> Iterator[None]:
        """Hold the lock for the ``with`` block.

        Args:
            actor: who holds it (written to the owner sidecar).

        Raises:
            StoreBusyError: the lock was not taken within ``config.lock_timeout``; the message
                names the holder when the sidecar says who it is.
            StoreError: the lock file could not be created or locked.
            RuntimeError: this thread already holds this lock.
        """
        with self._guard(), self._locked(actor):
            yield

    @contextmanager
    def _guard(self) -> Iterator[None]:
        key = (str(self.lock_path.absolute()), threading.get_ident())
        with _held_lock:
            if key in _held:
                msg = (f"nested transaction on {self.lock_path} in the same thread: "
                       "finish the outer transaction first")
                raise RuntimeError(msg)
            _held.add(key)
        try:
            yield
        finally:
            with _held_lock:
                _held.discard(key)

    @contextmanager
    def _locked(self, actor: str) -> Iterator[None]:
        if not self.config.registry_lock:
            yield
            return
        ensure_dir(self.lock_path.parent, for_file=self.lock_path)
        lock = filelock.FileLock(self.lock_path, timeout=self.config.lock_timeout,
                                 mode=0o644, thread_local=False)
        try:
            lock.acquire()
        except filelock.Timeout as exc:
            raise self._busy_error() from exc
        except OSError as exc:
            raise store_error(self.lock_path, "taking the lock", exc) from exc
        try:
            self._write_owner(actor)
            yield
        finally:
            self._remove_owner()
            lock.release()

    def _busy_error(self) -> StoreBusyError:
        holder = "another process holds it"
        with suppress(OSError, ValueError, TypeError, KeyError):
            info = json.loads(self.owner_path.read_text("utf-8"))
            holder = (f"held by pid {int(info['pid'])} on {info.get('host', '?')} "
                      f"(actor {info.get('actor', '?')}, since {info.get('since', '?')})")
        return StoreBusyError(
            f"registry is busy: could not take the lock within "
            f"{self.config.lock_timeout:g} s", path=str(self.lock_path), reason=holder)

    def _write_owner(self, actor: str) -> None:
        body = json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "actor": actor,
                           "since": utc_now()})
        # Not named like our registry temp files, so stale-temp cleanup never touches it.
        tmp = self.owner_path.with_name(f"{self.owner_path.name}.{os.getpid()}.part")
        # Informational only: no fsync, and a failure to write it never blocks a write.
        with suppress(OSError):
            tmp.write_text(body + "\n", "utf-8")
            tmp.chmod(0o644)
            tmp.replace(self.owner_path)

    def _remove_owner(self) -> None:
        with suppress(OSError, ValueError, TypeError, KeyError):
            info = json.loads(self.owner_path.read_text("utf-8"))
            if int(info["pid"]) == os.getpid():
                self.owner_path.unlink()


__all__ = ["RegistryLock"]

"""The service's derived-file thread: the JSON view and backups, never on a save's path.

A save is acknowledged (``file_processed``) once its transaction is committed; the view
``model_registry.json`` (a rendering of the whole registry, about 13 MB at 10,000 models) and
the backups (an online copy of the whole database) are written afterwards, by this thread,
from a read connection of their own (:meth:`RegistryStore.flush_background`). So the worker,
the only registry writer, never waits for them: a save that settles while a view or a backup
is being written is committed at once.

Decisions where the contract is silent:

- **Cadence.** Every :data:`TICK` seconds the thread asks the store to write what is due: the
  view at most every ``view_interval`` (1 s) after a commit, a backup at most every
  ``backup_interval`` (the service: :data:`daemon.runner.SERVICE_BACKUP_INTERVAL`). A due
  backup is therefore taken once its interval has passed even when no other save follows.
- **Yielding to the worker.** Both threads share one interpreter lock, and rendering the
  view is Python work: run alongside a batch, it would stretch the batch. So a flush does not
  start while ``busy()`` says the worker is processing (or about to: a settled path is due),
  and while the view is read it pauses at SQLite progress callbacks for as long as that
  holds. Both waits are bounded by :data:`MAX_PAUSE` seconds, so a long burst of saves
  cannot starve the derived files: they are then written alongside it.
- **Stop.** :meth:`DerivedWriter.stop` is called after the worker has drained its queue: the
  thread then writes whatever is still due (``final``) and ends, so the view and backups on
  disk hold every acknowledged change when the service exits.
- **Errors.** A failed write (ENOSPC, EIO...) is logged (``derived_write_failed``, warning)
  and stays due: the next tick tries again. The database already holds everything.
- **Reload.** After SIGHUP the new scanner's store becomes the target; the previous store's
  due files are written first (``final``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from registry.errors import StoreError

log = structlog.get_logger(__name__)

TICK = 0.2
"""Seconds between two looks at what is due."""

MAX_PAUSE = 2.0
"""Longest a flush waits for the worker, in total (then it goes on regardless)."""

PAUSE_STEP = 0.005
"""Seconds between two looks at ``busy()`` while paused."""


class DerivedFiles(Protocol):
    """What the thread calls on :class:`registry.storage.store.RegistryStore`."""

    def flush_background(self, *, final: bool = False,
                         pause: Callable[[], None] | None = None) -> None:
        """Write the derived files that are due, from this thread's own connection."""


class DerivedWriter(threading.Thread):
    """Writes the registry's derived files that are due until stopped (module docstring)."""

    def __init__(self, target: DerivedFiles | None = None, *, tick: float = TICK,
                 busy: Callable[[], bool] | None = None) -> None:
        """Create the (not yet started) thread.

        Args:
            target: the store whose derived files it writes (``None``: nothing to do until
                :meth:`set_target`).
            tick: seconds between two looks at what is due.
            busy: whether the worker is processing or about to (see the module docstring).
        """
        # A daemon thread: a forced exit must not wait for a view write (each is atomic).
        super().__init__(name="gnn-registry-derived", daemon=True)
        self._target = target
        self._retired: list[DerivedFiles] = []
        self._tick = tick
        self._busy = busy
        self._paused = 0.0
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self.failures = 0

    def set_target(self, target: DerivedFiles | None) -> None:
        """Write ``target``'s derived files from now on (after a reload); what the previous
        target still has due is written first."""
        with self._lock:
            if self._target is not None and self._target is not target:
                self._retired.append(self._target)
            self._target = target

    def stop(self) -> None:
        """Write everything still due, then end (call after the worker has finished)."""
        self._stop_event.set()

    def run(self) -> None:
        """The loop (see the module docstring); never ends on an error."""
        while not self._stop_event.wait(self._tick):
            waited = time.monotonic() - self._last_flush
            if self._busy is None or not self._busy() or waited >= MAX_PAUSE:
                self._flush(final=False)
                self._last_flush = time.monotonic()
        self._flush(final=True)

    def _flush(self, *, final: bool) -> None:
        with self._lock:
            retired, self._retired = self._retired, []
            target = self._target
        for store in retired:
            self._write(store, final=True)
        if target is not None:
            self._write(target, final=final)

    def _pause(self) -> None:
        """Progress callback of a view read: wait while the worker is busy (bounded)."""
        busy = self._busy
        while (busy is not None and busy() and self._paused < MAX_PAUSE
               and not self._stop_event.is_set()):
            time.sleep(PAUSE_STEP)
            self._paused += PAUSE_STEP

    def _write(self, store: DerivedFiles, *, final: bool) -> None:
        self._paused = 0.0
        try:
            store.flush_background(final=final, pause=None if final else self._pause)
        except StoreError as exc:
            self.failures += 1
            log.warning("derived_write_failed", error=str(exc), final=final,
                        failures=self.failures)
        except Exception:  # a bug here must not end the thread: the view would go stale
            self.failures += 1
            log.exception("derived_write_crashed", final=final)


__all__ = ["TICK", "DerivedFiles", "DerivedWriter"]

"""The one worker thread: settled batches and full reconciles, one registry writer.

The worker owns every registry write the service makes, so writes never race inside the
process (other processes are kept out by the store's file lock). Its loop, in order:

1. apply a new scanner (after SIGHUP) between units of work;
2. run a full reconcile when one was requested (start, overflow, watcher error, new config,
   periodic): requests that arrive while one is pending merge into it;
3. otherwise take every settled path at once (:meth:`SettleQueue.get_ready`) and hand the
   batch to ``Scanner.process_paths`` (one transaction per batch, so a burst of saves costs a
   few registry writes, not one per file).

The derived files (the changed models' metadata files, the JSON view, backups) are not
written here but by :class:`daemon.derived.DerivedWriter`, so a save never waits behind one.
Before a scanner's first unit of work (its first reconcile: the startup one, or the one after
a reload), the ``prepare`` hook runs (the service: :meth:`RegistryStore.check`, the database's
``quick_check`` and the sweeps its first write would otherwise do on a save's path).

Decisions where the contract is silent:

- **Files still being written.** Events are not asked for each ``write()`` (the watcher's
  narrow mask), so a file created with a synthesized event and still being copied would look
  settled. Before processing, a regular file whose mtime is younger than half the settle
  window goes back to the queue (at most :data:`MAX_DEFERRALS` times; mtimes in the future
  never defer). A normal save is never deferred: its last event follows its last write, and
  the path is only ready ``settle`` after that event.
- **Errors.** ``StoreBusyError`` (another process held the lock past the timeout) is logged
  and the work is retried: the paths go back to the queue, a reconcile stays pending. Any
  other ``StoreError`` (a failed write, fsync or replace: ENOSPC, EIO, EROFS...) is handled
  in two ways. Before the startup reconcile succeeded it is fatal: the worker stops, records
  it in :attr:`Worker.fatal` and the service exits 2 (a registry that cannot be written at
  start is a configuration problem; systemd's restart policy applies). Once the service is
  up, it is reported (``registry_write_failed`` with ``fatal=False`` and ``retry_in``) and the
  service keeps watching: the paths go back to the queue (a reconcile stays pending) and the
  unit is run again after a backoff (:data:`RETRY_FIRST` s, doubling up to
  :data:`RETRY_MAX` s, reset by a success). The store already left the previous registry
  intact; a retry is a whole new transaction (the registry is re-read from disk, a new temp
  file and descriptor are written and fsynced), so the failed fsync is never repeated on
  the same descriptor -- the PostgreSQL hazard (a second fsync of the same dirty pages can
  falsely succeed) does not arise, and a change is acknowledged only by a write whose own
  fsyncs succeeded. A failure while draining at shutdown stays fatal (exit 2). Any other
  exception is logged with its traceback and the batch is dropped; the periodic reconcile
  picks those files up again.
- **Shutdown** (:meth:`Worker.stop` with ``drain=True``): the current unit finishes, then every
  pending path is processed without waiting for its settle window; pending reconcile requests
  are dropped (the next start reconciles anyway).
"""

from __future__ import annotations

import itertools
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from daemon.pathqueue import SettleQueue
from registry.errors import StoreBusyError, StoreError
from registry.scanning.scanreport import ScanReport

log = structlog.get_logger(__name__)

MAX_DEFERRALS = 20
"""How often one path may be put back because its file is still being written."""

RETRY_FIRST = 1.0
"""Seconds before the first retry of a unit whose registry write failed."""

RETRY_MAX = 30.0
"""Longest wait between two retries of a failed registry write."""

ProgressCallback = Callable[[int, int], None]
"""``(files_done, files_total)`` during a reconcile."""


class ScannerLike(Protocol):
    """What the worker calls on ``registry.scanning.scan.Scanner``."""

    def reconcile(
        self, roots: Sequence[Path] | None = None, *, progress: ProgressCallback | None = None,
    ) -> ScanReport:
        """A full pass over the roots, one transaction; returns a report."""

    def process_paths(self, paths: Iterable[Path]) -> ScanReport:
        """A batch of settled paths, one transaction; returns a report."""


@dataclass(frozen=True, slots=True)
class ReconcileInfo:
    """The last finished reconcile (for ``STATUS=`` and logs)."""

    reason: str
    finished_at: float
    duration_ms: float
    files: int
    models: int


def _status_counts(report: ScanReport) -> dict[str, int]:
    """How many outcomes per status (``registered``, ``unchanged``, ``invalid``...), the
    statuses that occurred only (a cache-answered report is counted without building its
    outcomes)."""
    return {status: n for status, n in report.counts.items() if n}


class Worker(threading.Thread):
    """Processes settled paths and reconcile requests until stopped."""

    def __init__(
        self,
        scanner: ScannerLike,
        queue: SettleQueue,
        *,
        tick: float = 0.2,
        progress: ProgressCallback | None = None,
        wall_clock: Callable[[], float] = time.time,
        prepare: Callable[[ScannerLike], None] | None = None,
    ) -> None:
        """Create the (not yet started) worker thread.

        Args:
            scanner: the scan use case (``registry.scanning.scan.Scanner``).
            queue: where the watcher puts changed paths.
            tick: longest wait for a batch before re-checking requests.
            progress: called with ``(done, total)`` during reconciles.
            wall_clock: time source compared with file mtimes.
            prepare: called with each scanner before its first reconcile (a failure is
                handled like the reconcile's own).
        """
        # A daemon thread: a forced exit (second SIGINT) must not wait for a running write;
        # the store's atomic replace guarantees the file is never torn.
        super().__init__(name="gnn-registry-worker", daemon=True)
        self._scanner = scanner
        self._next_scanner: ScannerLike | None = None
        self._queue = queue
        self._tick = tick
        self._progress = progress
        self._wall_clock = wall_clock
        self._prepare = prepare
        self._prepared: ScannerLike | None = None
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._drain = True
        self._reasons: dict[str, int] = {}
        self._requested = 0
        self._completed = 0
        self._deferrals: dict[Path, int] = {}
        self._batches = itertools.count(1)
        self.fatal: BaseException | None = None
        self.total_models: int | None = None
        self.last_reconcile: ReconcileInfo | None = None
        self.reconcile_count = 0
        self.failures = 0
        self.write_failures = 0
        self._established = False
        self._retry_in = RETRY_FIRST
        self._busy = False

    @property
    def busy(self) -> bool:
        """Whether a batch or a reconcile is being processed right now."""
        return self._busy

    # -- requests from other threads -------------------------------------------------------

    def request_reconcile(self, reason: str) -> int:
        """Ask for a full reconcile; returns a ticket for :meth:`reconciled`.

        Args:
            reason: why (``startup``, ``overflow``, ``watcher_error``, ``reload``,
                ``periodic``); logged with the result.

        Returns:
            A ticket: the reconcile that satisfies it has finished when
            ``reconciled(ticket)`` is true.
        """
        with self._lock:
            self._requested += 1
            self._reasons[reason] = self._requested
            ticket = self._requested
        self._queue.wake()
        return ticket

    def reconciled(self, ticket: int) -> bool:
        """Whether a reconcile started after ``ticket`` was requested has finished."""
        with self._lock:
            return self._completed >= ticket

    @property
    def reconcile_pending(self) -> bool:
        """Whether a reconcile was requested and has not started yet."""
        with self._lock:
            return bool(self._reasons)

    def set_scanner(self, scanner: ScannerLike) -> None:
        """Use ``scanner`` from the next unit of work on (after a config reload)."""
        with self._lock:
            self._next_scanner = scanner
        self._queue.wake()

    def stop(self, *, drain: bool = True) -> None:
        """Ask the thread to finish; with ``drain``, pending paths are processed first."""
        self._drain = drain
        self._stop_event.set()
        self._queue.wake()

    # -- the thread ------------------------------------------------------------------------

    def run(self) -> None:
        """The worker loop (see the module docstring); never ends silently."""
        try:
            self._loop()
        except _FatalStoreError:
            return
        except Exception as exc:  # anything else is a bug: record it so the service exits
            self.fatal = exc
            log.exception("worker_crashed")

    def _loop(self) -> None:
        while not self._stop_event.is_set():
            self._swap_scanner()
            if self.reconcile_pending:
                self._reconcile()
                continue
            batch = self._queue.get_ready(self._tick)
            if batch:
                self._process(self._defer_busy(batch))
        if self._drain:
            self._swap_scanner()
            batch = self._queue.drain()
            if batch:
                self._process(batch, draining=True)
            with self._lock:
                dropped = sorted(self._reasons)
                self._reasons.clear()
            if dropped:
                log.info("reconcile_skipped", reasons=dropped, why="shutting down")

    def _swap_scanner(self) -> None:
        with self._lock:
            scanner, self._next_scanner = self._next_scanner, None
        if scanner is not None:
            self._scanner = scanner

    def _fail(self, exc: StoreError, **context: Any) -> None:
        """Record a fatal store error and stop the thread (never retried: see module doc)."""
        self.fatal = exc
        log.error("registry_write_failed", error=str(exc), fatal=True, **context,
                  exc_info=exc)
        raise _FatalStoreError from exc

    def _write_failed(self, exc: StoreError, *, draining: bool = False,
                      **context: Any) -> float:
        """A registry write failed: fatal before startup or while draining, else report.

        Returns:
            Seconds to wait before the retry.

        Raises:
            _FatalStoreError: the failure is fatal (see the module docstring).
        """
        if not self._established or draining:
            self._fail(exc, **context)
        self.write_failures += 1
        delay = self._retry_in
        self._retry_in = min(self._retry_in * 2, RETRY_MAX)
        log.error("registry_write_failed", error=str(exc), fatal=False, retry_in=delay,
                  failures=self.write_failures, **context)
        return delay

    def _succeeded(self) -> None:
        if self._retry_in != RETRY_FIRST and self._established:
            log.info("registry_write_recovered", failures=self.write_failures)
        self._established = True
        self._retry_in = RETRY_FIRST

    def _reconcile(self) -> None:
        with self._lock:
            reasons = sorted(self._reasons, key=self._reasons.__getitem__)
            ticket = max(self._reasons.values())
            self._reasons.clear()
        reason = ",".join(reasons)
        self.reconcile_count += 1
        log.info("reconcile_started", reason=reason, count=self.reconcile_count)
        started = time.monotonic()
        self._busy = True
        try:
            if self._prepare is not None and self._prepared is not self._scanner:
                started_check = time.monotonic()
                self._prepare(self._scanner)
                self._prepared = self._scanner
                log.info("registry_checked",
                         duration_ms=round((time.monotonic() - started_check) * 1000, 1))
            with structlog.contextvars.bound_contextvars(reconcile=self.reconcile_count):
                report = self._scanner.reconcile(progress=self._progress)
        except StoreBusyError as exc:
            log.error("registry_busy", error=str(exc), work="reconcile", reason=reason,
                      retry=True)
            with self._lock:
                for r in reasons:
                    self._reasons.setdefault(r, ticket)
            self._stop_event.wait(self._tick)
            return
        except StoreError as exc:
            delay = self._write_failed(exc, work="reconcile", reason=reason)
            with self._lock:
                for r in reasons:
                    self._reasons.setdefault(r, ticket)
            self._stop_event.wait(delay)
            return
        except Exception:  # a bug must not kill the only writer; it is logged in full
            self.failures += 1
            log.exception("reconcile_failed", reason=reason)
            with self._lock:
                self._completed = max(self._completed, ticket)
            return
        finally:
            self._busy = False
        self._succeeded()
        duration = (time.monotonic() - started) * 1000
        self.total_models = int(report.total_models)
        counts = _status_counts(report)
        files = sum(counts.values())
        self.last_reconcile = ReconcileInfo(reason, self._wall_clock(), duration, files,
                                            self.total_models)
        log.info("reconcile_done", reason=reason, count=self.reconcile_count,
                 files=files, counts=counts,
                 models=self.total_models, duration_ms=round(duration, 1))
        with self._lock:
            self._completed = max(self._completed, ticket)

    def _defer_busy(self, batch: list[Path]) -> list[Path]:
        """Put back files that are still being written (see the module docstring)."""
        threshold = self._queue.settle / 2
        if threshold <= 0:
            return batch
        now = self._wall_clock()
        ready = []
        for path in batch:
            try:
                st = path.lstat()
            except OSError:
                ready.append(path)  # gone (or unreadable): the scanner reports it
                continue
            age = now - st.st_mtime
            count = self._deferrals.get(path, 0)
            if stat.S_ISREG(st.st_mode) and 0 <= age < threshold and count < MAX_DEFERRALS:
                self._deferrals[path] = count + 1
                self._queue.put(path)
            else:
                self._deferrals.pop(path, None)
                ready.append(path)
        return ready

    def _process(self, batch: list[Path], *, draining: bool = False) -> None:
        if not batch:
            return
        batch_id = next(self._batches)
        started = time.monotonic()
        self._busy = True
        try:
            with structlog.contextvars.bound_contextvars(batch=batch_id, batch_size=len(batch)):
                report = self._scanner.process_paths(batch)
        except StoreBusyError as exc:
            log.error("registry_busy", error=str(exc), work="batch", batch=batch_id,
                      paths=len(batch), retry=True)
            self._queue.put_many(batch)
            self._stop_event.wait(self._tick)
            return
        except StoreError as exc:
            delay = self._write_failed(exc, draining=draining, work="batch", batch=batch_id,
                                       paths=len(batch))
            self._queue.put_many(batch)
            self._stop_event.wait(delay)
            return
        except Exception:  # a bug must not kill the only writer; it is logged in full
            self.failures += 1
            log.exception("batch_failed", batch=batch_id, paths=[str(p) for p in batch[:20]],
                          size=len(batch))
            return
        finally:
            self._busy = False
        self._succeeded()
        self.total_models = int(report.total_models)
        counts = _status_counts(report)
        # A batch in which nothing happened (an editor's temporary, an ignored name) is no
        # news at info level.
        emit = log.info if counts else log.debug
        emit("batch_processed", batch=batch_id, size=len(batch), counts=counts,
             written=report.wrote, models=self.total_models, draining=draining,
             duration_ms=round((time.monotonic() - started) * 1000, 1))


class _FatalStoreError(Exception):
    """Internal: unwinds the worker loop after a fatal store error was recorded."""


__all__ = [
    "MAX_DEFERRALS",
    "RETRY_FIRST",
    "RETRY_MAX",
    "ProgressCallback",
    "ReconcileInfo",
    "ScannerLike",
    "Worker",
]

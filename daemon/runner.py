"""The service's lifecycle: start, the main loop, signals, reload and ordered shutdown.

Three phases, as in uvicorn's server:

1. **Startup.** Start watching first (so a change made during the startup scan is not
   missed: it is queued and processed after), start the worker, run the startup reconcile
   (``EXTEND_TIMEOUT_USEC`` is sent while it makes progress), then ``READY=1``.
2. **Main loop**, a short tick (:data:`TICK` seconds) in the main thread: signal flags,
   thread health (a dead observer is restarted and followed by a full reconcile; a dead or
   failed worker ends the service with status 2), overflow flags, the periodic reconcile,
   ``WATCHDOG=1`` (only while the watcher and the worker threads are alive) and ``STATUS=``
   whenever its text changes.
3. **Shutdown** on SIGTERM or SIGINT: ``STOPPING=1``, stop the observers, let the worker
   drain the queue (every pending path, settle window ignored) and write, then let the
   derived-file thread (:mod:`daemon.derived`) write what is still due, exit 0. A second
   SIGINT exits at once with 130; a write in progress is not torn (the store replaces the
   registry atomically) and the next start reconciles.

Signal handlers only set flags (never raise: an exception could land in the middle of a
registry write, as with watchdog's ``watchmedo``). SIGHUP re-reads the configuration (TOML
file and environment; command-line values still win), sends ``RELOADING=1``, re-creates the
watches for the new directory set and patterns, reconfigures logging, swaps the worker's
scanner and reconciles the new directory set; ``READY=1`` follows when that reconcile is
done (or at once when the new configuration is refused, which is logged and changes nothing).

Decisions where the contract is silent: ``STOPPING=1`` is sent when shutdown *begins*
(``sd_notify(3)``: "the service is beginning its shutdown"), so systemd knows during the
drain; a restart of a dead observer is attempted at most every :data:`RESTART_BACKOFF`
seconds (doubling up to a minute while it keeps failing), so a vanished directory cannot
cause a busy loop; ``settle_ms`` follows a reload, ``queue_size`` does not (it needs a new
queue, and dropping queued paths would lose changes).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import structlog

from daemon.common import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_OK, check_directories
from daemon.derived import DerivedFiles, DerivedWriter
from daemon.notify import Notifier
from daemon.pathqueue import SettleQueue
from daemon.watcher import Watcher
from daemon.worker import ScannerLike, Worker
from registry.config import Config
from registry.errors import RegistryError

log = structlog.get_logger(__name__)


TICK = 0.2
"""Seconds between two turns of the main loop."""

RESTART_BACKOFF = 2.0
"""First wait in seconds between two attempts to restart a dead watcher."""

EXTEND_TIMEOUT_USEC = 30_000_000
"""How far each ``EXTEND_TIMEOUT_USEC`` message pushes systemd's start timeout."""

EXTEND_EVERY = 5.0
"""Seconds between two start-timeout extensions while the startup scan makes progress."""


@dataclass
class SignalFlags:
    """What the signal handlers recorded; read by the main loop on each tick."""

    should_exit: bool = False
    force_exit: bool = False
    reload: bool = False
    received: list[int] = field(default_factory=list)

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        """The signal handler: record the signal, set a flag, return (nothing else)."""
        self.received.append(signum)
        if signum == signal.SIGHUP:
            self.reload = True
        elif signum == signal.SIGINT and self.should_exit:
            self.force_exit = True
        else:
            self.should_exit = True


@contextlib.contextmanager
def capture_signals(flags: SignalFlags) -> Iterator[SignalFlags]:
    """Route SIGTERM, SIGINT and SIGHUP to ``flags`` while the block runs.

    The previous handlers are restored afterwards. Off the main thread (where Python cannot
    install handlers) nothing is installed.

    Args:
        flags: the object whose :meth:`SignalFlags.handle` becomes the handler.

    Yields:
        ``flags``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield flags
        return
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        previous[sig] = signal.signal(sig, flags.handle)
    try:
        yield flags
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


DERIVED_YIELD = 0.05
"""The derived-file thread holds back when a settled path is due within this many seconds."""

SERVICE_BACKUP_INTERVAL = 300.0
"""Least seconds between two backups of the registry taken by the service."""


def _default_scanner(config: Config) -> ScannerLike:
    from registry.scanning.scan import Scanner  # noqa: PLC0415 - keeps the runner testable without it

    scanner = Scanner(config, actor="service")
    # The service coalesces the derived view (at most ~1/s) and backups (every few minutes);
    # the derived-file thread writes them, off the worker's path, and on stop.
    scanner.store.write_view_now = False
    scanner.store.derived_in_background = True
    scanner.store.keep_writer = True
    scanner.store.backup_interval = SERVICE_BACKUP_INTERVAL
    return scanner


def _store_of(scanner: ScannerLike) -> DerivedFiles | None:
    """The registry store behind ``scanner`` (``None`` for one without derived files)."""
    store = getattr(scanner, "store", None)
    return store if callable(getattr(store, "flush_background", None)) else None


def _check_store(scanner: ScannerLike) -> None:
    """The worker's ``prepare`` hook: the store's start-of-service check (``quick_check``)."""
    check = getattr(_store_of(scanner), "check", None)
    if callable(check):
        check(actor="service")


class Service:
    """``gnn-registryd DIR...``: watch, settle, register, until a stop signal."""

    def __init__(
        self,
        config: Config,
        *,
        reload_config: Callable[[], Config] | None = None,
        on_config: Callable[[Config], None] | None = None,
        notifier: Notifier | None = None,
        scanner_factory: Callable[[Config], ScannerLike] = _default_scanner,
        tick: float = TICK,
    ) -> None:
        """Prepare the service (nothing starts before :meth:`run`).

        Args:
            config: settings; ``config.directories`` are the (absolute) directories.
            reload_config: builds the new config on SIGHUP (default: keep ``config``).
            on_config: applied to each reloaded config (the entry point reconfigures logging).
            notifier: systemd notifications (default: from the environment).
            scanner_factory: builds the scan use case for a config.
            tick: main loop period in seconds.
        """
        self._config = config
        self._reload_config = reload_config
        self._on_config = on_config
        self._notifier = notifier if notifier is not None else Notifier.from_env()
        self._scanner_factory = scanner_factory
        self._tick = tick
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._overflows = 0
        self._restarts = 0
        self._ready = False
        self._last_extend = 0.0
        self._last_status = ""
        self._reload_ticket: int | None = None
        self._queue = SettleQueue(config.settle_ms / 1000, config.queue_size)
        scanner = scanner_factory(config)
        self._scanner = scanner
        self._worker = Worker(scanner, self._queue, tick=tick, progress=self._on_progress,
                              prepare=_check_store)
        self._derived = DerivedWriter(_store_of(scanner), busy=self._worker_busy)
        self._watcher = self._make_watcher(config)
        self.flags = SignalFlags()

    # -- callbacks from other threads ------------------------------------------------------

    def _make_watcher(self, config: Config) -> Watcher:
        return Watcher(config.directories, sink=self._queue.put, on_overflow=self._on_overflow,
                       patterns=config.patterns, ignore_patterns=config.ignore_patterns,
                       force_polling=config.force_polling, poll_interval=config.poll_interval)

    def _request(self, reason: str, **context: object) -> int:
        """Ask the worker for a full reconcile, with a log line and a per-reason counter."""
        with self._lock:
            self._requests[reason] += 1
            count = self._requests[reason]
        log.info("reconcile_requested", reason=reason, count=count, **context)
        return self._worker.request_reconcile(reason)

    def _on_overflow(self, source: str) -> None:
        """Events were lost (any thread): count it, log it, reconcile fully."""
        with self._lock:
            self._overflows += 1
            count = self._overflows
        log.warning("watcher_overflow", source=source, count=count)
        self._request("overflow", source=source)

    def _worker_busy(self) -> bool:
        """Whether the worker is processing, or a settled path is due within a tick (the
        derived-file thread yields to it then)."""
        due = self._queue.due_in()
        return self._worker.busy or (due is not None and due < DERIVED_YIELD)

    def _on_progress(self, done: int, total: int) -> None:
        """Startup scan progress (worker thread): keep systemd's start timeout at bay."""
        if self._ready:
            return
        now = time.monotonic()
        if now - self._last_extend >= EXTEND_EVERY:
            self._last_extend = now
            self._notifier.extend_timeout(EXTEND_TIMEOUT_USEC)
            self._notifier.status(f"startup scan: {done}/{total} files")

    # -- lifecycle -------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; install the signal handlers for the duration.

        Returns:
            0 after a clean stop, 130 after a second SIGINT, 2 when the worker failed
            (a registry write or fsync error).
        """
        with capture_signals(self.flags):
            return self._run()

    def _run(self) -> int:
        self._last_extend = time.monotonic()
        self._notifier.extend_timeout(EXTEND_TIMEOUT_USEC)
        self._watcher.start()
        self._worker.start()
        self._derived.start()
        ticket = self._request("startup")
        while not self._worker.reconciled(ticket):
            if self.flags.force_exit:
                return self._forced()
            if self.flags.should_exit or self._worker_failed():
                return self._shutdown()
            self._worker.join(min(self._tick, 0.05))
        self._ready = True
        self._notifier.ready()
        log.info("service_started", directories=[str(d) for d in self._config.directories],
                 polled=[str(d) for d in self._watcher.polled], models=self._worker.total_models,
                 settle_ms=self._config.settle_ms,
                 reconcile_interval=self._config.reconcile_interval)
        return self._main_loop()

    def _main_loop(self) -> int:
        next_periodic = time.monotonic() + self._config.reconcile_interval
        seen_reconciles = self._worker.reconcile_count
        next_ping = 0.0
        next_restart = 0.0
        backoff = RESTART_BACKOFF
        while True:
            if self.flags.force_exit:
                return self._forced()
            if self.flags.should_exit or self._worker_failed():
                return self._shutdown()
            if self.flags.reload:
                self.flags.reload = False
                self._reload()
            if self._reload_ticket is not None and self._worker.reconciled(self._reload_ticket):
                self._reload_ticket = None
                self._notifier.ready()
                log.info("reload_done", models=self._worker.total_models)
            if self._queue.take_overflow():
                self._on_overflow(f"settle queue full ({self._queue.maxsize} paths)")
            now = time.monotonic()
            dead = self._watcher.dead_threads()
            back = [d for d in self._watcher.missing if d.is_dir()]
            if (dead or back) and now >= next_restart:
                self._restart_watcher(dead, back)
                next_restart, backoff = now + backoff, min(backoff * 2, 60.0)
            elif not dead and not self._watcher.missing:
                backoff = RESTART_BACKOFF
            if self._worker.reconcile_count != seen_reconciles:
                seen_reconciles = self._worker.reconcile_count
                next_periodic = now + self._config.reconcile_interval
            elif now >= next_periodic and not self._worker.reconcile_pending:
                next_periodic = now + self._config.reconcile_interval
                self._request("periodic")
            interval = self._notifier.watchdog_interval
            if interval and now >= next_ping and self._healthy():
                self._notifier.watchdog()
                next_ping = now + interval
            self._send_status()
            self._worker.join(self._tick)

    def _worker_failed(self) -> bool:
        return self._worker.fatal is not None or not self._worker.is_alive()

    def _healthy(self) -> bool:
        return self._worker.is_alive() and not self._watcher.dead_threads()

    def _restart_watcher(self, dead: list[str], back: list[Path]) -> None:
        self._restarts += 1
        reason = "; ".join(dead) if dead else "directory available again"
        log.error("observer_restarted", reason=reason, count=self._restarts,
                  directories_back=[str(d) for d in back])
        try:
            self._watcher.restart()
        except Exception:  # restarting must never take the service down; retried later
            log.exception("observer_restart_failed", count=self._restarts)
        self._request("watcher_error", detail=reason)

    def _reload(self) -> None:
        self._notifier.reloading()
        log.info("reload_requested")
        try:
            new = self._reload_config() if self._reload_config is not None else self._config
            # The same rule as at startup: a directory that does not exist is refused, never
            # silently dropped (the service would stop registering the real one's edits).
            check_directories(new)
            if self._on_config is not None:
                self._on_config(new)
            scanner = self._scanner_factory(new)
        except (RegistryError, ValueError, OSError) as exc:
            log.error("reload_failed", error=str(exc), kept="old config")
            self._notifier.ready()
            return
        old = set(self._config.directories)
        self._config = new
        self._queue.settle = new.settle_ms / 1000
        self._watcher.stop()
        self._watcher = self._make_watcher(new)
        self._watcher.start()
        self._worker.set_scanner(scanner)
        self._derived.set_target(_store_of(scanner))
        self._scanner = scanner
        log.info("config_reloaded", directories=[str(d) for d in new.directories],
                 added=sorted(str(d) for d in set(new.directories) - old),
                 removed=sorted(str(d) for d in old - set(new.directories)),
                 log_level=new.log_level)
        self._reload_ticket = self._request("reload")

    def _status_text(self) -> str:
        dirs = len(self._config.directories)
        text = f"watching {dirs} director{'y' if dirs == 1 else 'ies'}"
        if self._watcher.polled:
            text += f" ({len(self._watcher.polled)} polled)"
        if self._watcher.missing:
            text += f", {len(self._watcher.missing)} missing"
        text += f", {self._worker.total_models or 0} models"
        info = self._worker.last_reconcile
        if info is not None:
            when = datetime.fromtimestamp(info.finished_at, UTC).strftime("%H:%M:%S")
            text += f", last reconcile {when} UTC ({info.reason}, {info.duration_ms:.0f} ms)"
        return text

    def _send_status(self) -> None:
        text = self._status_text()
        if text != self._last_status:
            self._last_status = text
            self._notifier.status(text)

    def _close_store(self) -> None:
        """Close the store's kept writer connection (and write anything still due)."""
        close = getattr(_store_of(self._scanner), "close", None)
        if not callable(close):
            return
        try:
            close()
        except RegistryError as exc:
            log.warning("derived_write_failed", error=str(exc), final=True)

    def _forced(self) -> int:
        log.warning("service_forced_exit", signal="SIGINT", exit_status=EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED

    def _shutdown(self) -> int:
        why = "fatal error" if self._worker_failed() else "signal"
        signals = [signal.Signals(s).name for s in self.flags.received]
        log.info("service_stopping", reason=why, signals=signals, pending=len(self._queue))
        self._notifier.stopping()
        self._watcher.stop()
        self._worker.stop(drain=True)
        while self._worker.is_alive():
            if self.flags.force_exit:
                return self._forced()
            self._worker.join(self._tick)
        self._derived.stop()  # after the drain: the view and backup hold every change
        while self._derived.is_alive():
            if self.flags.force_exit:
                return self._forced()
            self._derived.join(self._tick)
        self._close_store()
        self._queue.close()
        status = EXIT_FATAL if self._worker.fatal is not None else EXIT_OK
        log.info("service_stopped", exit_status=status, models=self._worker.total_models,
                 reconciles=self._worker.reconcile_count, overflows=self._overflows,
                 observer_restarts=self._restarts)
        return status


__all__ = [
    "EXIT_INTERRUPTED",
    "EXTEND_EVERY",
    "EXTEND_TIMEOUT_USEC",
    "RESTART_BACKOFF",
    "TICK",
    "Service",
    "SignalFlags",
    "capture_signals",
]

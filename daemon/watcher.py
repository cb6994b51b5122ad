"""Watch directories with watchdog and turn raw events into "this path may have changed".

With :mod:`daemon.events` (the event filter) the only code that imports watchdog. Events are
hints, the files are the truth: the handler only reports paths (both ends of a move,
directories too) to a sink (the settle queue), and every way events can be lost is reported
so the service reconciles in full.

Choices, with the reasons measured on the target machines:

- **A narrow inotify mask.** With watchdog's default mask a fast burst of 10,000 new files
  overflowed the kernel queue and about 74 % of them were never reported; asking only for
  created, closed-after-write, moved and deleted events delivered all of them. In-place
  modifications are seen through ``IN_CLOSE_WRITE``; ``IN_MODIFY``/``IN_ATTRIB`` (one event
  per ``write()``) are not asked for. Creates are never filtered out: watchdog needs them to
  watch new sub-folders (watchdog#990).
- **Overflow is surfaced.** watchdog 7.1 rebuilds its watches on ``IN_Q_OVERFLOW`` but only
  logs it; :class:`_OverflowAwareGroup` also calls our callback, so the service reconciles.
- **Dead threads are visible.** :meth:`Watcher.dead_threads` names an observer, emitter or
  inotify reader thread that stopped (an exception kills them silently: watchdog#427, #793).
- **Network filesystems are polled** (:mod:`daemon.fstype`), as is every directory when
  ``force_polling`` is set or when inotify refuses a watch (``ENOSPC``: watch limit,
  ``EMFILE``: instance limit). The polling observer reports content changes as "modified",
  so its filter includes that kind.

Test-only fault injection: ``GNN_REGISTRYD_TEST_INJECT_OVERFLOW=N`` or ``N:M`` makes each
handler pass its first ``N`` events, silently drop the next ``M`` (default 0) as a kernel
overflow would, then report an overflow once (on the next event) exactly like a real
``IN_Q_OVERFLOW``. Never set it in production. (The prefix is ``GNN_REGISTRYD_``, not
``GNN_REGISTRY_``: the config refuses unknown ``GNN_REGISTRY_*`` variables.)
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from watchdog.events import (
    FileSystemEvent,
)
from watchdog.observers.api import DEFAULT_EMITTER_TIMEOUT, BaseObserver, EventQueue, ObservedWatch
from watchdog.observers.inotify import InotifyEmitter, InotifyWatchGroup
from watchdog.observers.inotify_c import InotifyFD
from watchdog.observers.polling import PollingObserver

from daemon.events import (
    INJECT_OVERFLOW_ENV,
    NATIVE_EVENTS,
    POLLING_EVENTS,
    ChangeHandler,
    OverflowCallback,
    PathSink,
    parse_injection,
)
from daemon.fstype import filesystem_type, is_network_fs

log = structlog.get_logger(__name__)

_LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE})

@dataclass
class _OverflowAwareGroup(InotifyWatchGroup):
    """watchdog's watch group, plus a callback when the kernel queue overflowed.

    A dataclass field, so the callback is set before ``__post_init__`` adds the watches: an
    overflow can arrive as soon as the first watch exists.
    """

    overflow_callback: Callable[[], None] | None = None

    def on_queue_overflow(self) -> None:
        """Let watchdog rebuild its watches, then tell the service events were lost."""
        super().on_queue_overflow()
        callback = self.overflow_callback
        if callback is not None and self.is_active:
            callback()


class _OverflowAwareEmitter(InotifyEmitter):
    """An inotify emitter whose watch group reports overflows."""

    def __init__(
        self,
        event_queue: EventQueue,
        watch: ObservedWatch,
        *,
        timeout: float = DEFAULT_EMITTER_TIMEOUT,
        event_filter: list[type[FileSystemEvent]] | None = None,
        inotify_fd: InotifyFD | None = None,
        on_overflow: OverflowCallback | None = None,
    ) -> None:
        super().__init__(event_queue, watch, timeout=timeout, event_filter=event_filter,
                         inotify_fd=inotify_fd)
        self._on_overflow = on_overflow

    def _report_overflow(self) -> None:
        if self._on_overflow is not None:
            self._on_overflow(f"inotify queue overflow under {self.watch.path}")

    def on_thread_start(self) -> None:
        """Same as watchdog's, with our group class (the attributes are watchdog's own)."""
        self._inotify = _OverflowAwareGroup(
            self._inotify_fd,
            os.fsencode(self.watch.path),
            is_recursive=self.watch.is_recursive,
            event_mask=self.get_event_mask_from_filter(),
            follow_symlink=self.watch.follow_symlink,
            overflow_callback=self._report_overflow,
        )


class _NativeObserver(BaseObserver):
    """watchdog's inotify observer with overflow reporting and a visible reader thread."""

    def __init__(self, *, on_overflow: OverflowCallback, timeout: float = 1.0) -> None:
        # Its own inotify instance (not the process-wide shared one), so restarting the
        # watcher really starts from scratch.
        self.inotify_fd = InotifyFD()
        self.inotify_fd.start()
        super().__init__(_OverflowAwareEmitter, timeout=timeout, inotify_fd=self.inotify_fd,
                         on_overflow=on_overflow)

    def on_thread_stop(self) -> None:
        """Stop the emitters, then the inotify reader thread."""
        super().on_thread_stop()
        self.inotify_fd.stop()
        self.inotify_fd.join()


@dataclass(frozen=True, slots=True)
class WatchPlan:
    """How one directory is watched."""

    directory: Path
    polling: bool
    fstype: str | None
    reason: str


def plan_watches(
    directories: Sequence[Path], *, force_polling: bool, mountinfo: str | None = None,
) -> list[WatchPlan]:
    """Decide, per directory, between inotify and polling.

    Args:
        directories: existing directories to watch.
        force_polling: poll everything (``config.force_polling``).
        mountinfo: a mount table for tests (default: this process's).

    Returns:
        One plan per directory, in order.
    """
    plans = []
    for directory in directories:
        fstype = filesystem_type(directory, mountinfo=mountinfo)
        if force_polling:
            plans.append(WatchPlan(directory, True, fstype, "force_polling"))
        elif is_network_fs(fstype):
            plans.append(WatchPlan(directory, True, fstype, "network filesystem"))
        else:
            plans.append(WatchPlan(directory, False, fstype, "local filesystem"))
    return plans


class Watcher:
    """Recursive watches over a set of directories, feeding a sink with changed paths."""

    def __init__(
        self,
        directories: Sequence[Path],
        *,
        sink: PathSink,
        on_overflow: OverflowCallback,
        patterns: Sequence[str] = ("*.md", "*.markdown", "*.gnn"),
        ignore_patterns: Sequence[str] = (),
        force_polling: bool = False,
        poll_interval: float = 1.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare (not start) the watches.

        Args:
            directories: absolute directories to watch recursively.
            sink: receives every path that may have changed.
            on_overflow: told when events were lost (kernel overflow, handler failure).
            patterns: model file globs (``config.patterns``).
            ignore_patterns: globs to ignore (``config.ignore_patterns``).
            force_polling: poll every directory (``config.force_polling``).
            poll_interval: seconds between polls (``config.poll_interval``).
            environ: where to read the test-only injection variable (default ``os.environ``).
        """
        self.directories = tuple(directories)
        self._sink = sink
        self._on_overflow = on_overflow
        self._patterns = tuple(patterns)
        self._ignore_patterns = tuple(ignore_patterns)
        self._force_polling = force_polling
        self._poll_interval = poll_interval
        env = os.environ if environ is None else environ
        self._inject = parse_injection(env.get(INJECT_OVERFLOW_ENV))
        self._observers: list[BaseObserver] = []
        self.polled: tuple[Path, ...] = ()
        self.missing: tuple[Path, ...] = ()
        self.running = False

    def _handler(self, root: Path) -> ChangeHandler:
        return ChangeHandler(root, self._sink, self._on_overflow, patterns=self._patterns,
                             ignore_patterns=self._ignore_patterns, inject_overflow=self._inject)

    def _start_native(self, dirs: list[Path]) -> list[Path]:
        """Watch ``dirs`` with inotify; returns the directories that must be polled instead."""
        try:
            observer = _NativeObserver(on_overflow=self._on_overflow)
            observer.start()
        except OSError as exc:
            log.error("inotify_unavailable", error=os.strerror(exc.errno or 0) or str(exc),
                      errno=exc.errno, fallback="polling",
                      hint="raise fs.inotify.max_user_instances")
            return dirs
        self._observers.append(observer)
        fallback = []
        for directory in dirs:
            try:
                observer.schedule(self._handler(directory), str(directory), recursive=True,
                                  event_filter=list(NATIVE_EVENTS))
            except OSError as exc:
                if exc.errno in _LIMIT_ERRNOS:
                    log.error("watch_limit_reached", directory=str(directory), errno=exc.errno,
                              error=exc.strerror, fallback="polling",
                              hint="raise fs.inotify.max_user_watches / max_user_instances")
                    fallback.append(directory)
                else:
                    log.error("watch_failed", directory=str(directory), errno=exc.errno,
                              error=exc.strerror)
                    self.missing = (*self.missing, directory)
        return fallback

    def _start_polling(self, dirs: list[Path]) -> None:
        observer = PollingObserver(timeout=self._poll_interval)
        observer.start()
        self._observers.append(observer)
        for directory in dirs:
            try:
                observer.schedule(self._handler(directory), str(directory), recursive=True,
                                  event_filter=list(POLLING_EVENTS))
            except OSError as exc:
                log.error("watch_failed", directory=str(directory), errno=exc.errno,
                          error=exc.strerror)
                self.missing = (*self.missing, directory)
        self.polled = (*self.polled, *dirs)

    def start(self) -> None:
        """Start watching. Directories that are missing are listed in :attr:`missing`.

        Never raises for one bad directory: it is logged and the others are watched.
        """
        self.missing = tuple(d for d in self.directories if not d.is_dir())
        for directory in self.missing:
            log.error("directory_missing", directory=str(directory))
        present = [d for d in self.directories if d.is_dir()]
        native: list[Path] = []
        polled: list[Path] = []
        for plan in plan_watches(present, force_polling=self._force_polling):
            if plan.polling:
                if plan.reason != "force_polling":
                    log.warning("polling_fallback", directory=str(plan.directory),
                                fstype=plan.fstype, reason=plan.reason,
                                poll_interval=self._poll_interval)
                polled.append(plan.directory)
            else:
                native.append(plan.directory)
        self.polled = ()
        if native:
            polled.extend(self._start_native(native))
        if polled:
            self._start_polling(polled)
        self.running = True
        log.debug("watch_started", directories=[str(d) for d in present],
                  polled=[str(d) for d in polled])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every observer and wait (up to ``timeout`` seconds each) for its threads."""
        self.running = False
        observers, self._observers = self._observers, []
        for observer in observers:
            try:
                observer.stop()
            except Exception:  # a broken observer must not block shutdown
                log.exception("observer_stop_failed")
        for observer in observers:
            observer.join(timeout)

    def restart(self) -> None:
        """Stop and start again from scratch (new inotify instance, new snapshots)."""
        self.stop()
        self.start()

    def dead_threads(self) -> list[str]:
        """Threads that should be running but are not (empty when healthy or stopped).

        Returns:
            A description of each dead observer, emitter or inotify reader thread.
        """
        if not self.running:
            return []
        dead = []
        for observer in list(self._observers):
            kind = "inotify" if isinstance(observer, _NativeObserver) else "polling"
            if not observer.is_alive():
                dead.append(f"{kind} observer thread stopped")
            if isinstance(observer, _NativeObserver) and not observer.inotify_fd.is_alive():
                dead.append("inotify reader thread stopped")
            dead.extend(f"{kind} watch on {emitter.watch.path} stopped"
                        for emitter in list(observer.emitters) if not emitter.is_alive())
        return dead


__all__ = ["WatchPlan", "Watcher", "plan_watches"]

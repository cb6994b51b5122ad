"""From raw watchdog events to "this path may have changed": the filter the watcher installs.

:class:`ChangeHandler` reports paths (both ends of a move, directories too) to a sink and
never raises; :data:`NATIVE_EVENTS` / :data:`POLLING_EVENTS` are the event kinds asked for;
``GNN_REGISTRYD_TEST_INJECT_OVERFLOW`` is the test-only loss injection. The reasons for each
choice are in :mod:`daemon.watcher`, which (with this module) is all that imports watchdog.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from registry.scanning.names import is_ignored

log = structlog.get_logger("daemon.watcher")

INJECT_OVERFLOW_ENV = "GNN_REGISTRYD_TEST_INJECT_OVERFLOW"
"""Test-only: ``N[:M]`` pass N events, drop M, then report an overflow (see module docstring)."""

NATIVE_EVENTS: tuple[type[FileSystemEvent], ...] = (
    FileCreatedEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent,
    DirCreatedEvent, DirMovedEvent, DirDeletedEvent,
)
"""What the inotify observer asks the kernel for (a narrow mask; see the module docstring)."""

POLLING_EVENTS: tuple[type[FileSystemEvent], ...] = (*NATIVE_EVENTS, FileModifiedEvent)
"""The polling observer reports a rewritten file as modified, so it needs that kind too."""

PathSink = Callable[[Path], object]
"""Receives each path that may have changed (the settle queue's ``put``)."""

OverflowCallback = Callable[[str], None]
"""Told that events were lost, with a short description of where."""


def parse_injection(value: str | None) -> tuple[int, int] | None:
    """Parse ``GNN_REGISTRYD_TEST_INJECT_OVERFLOW`` (``N`` or ``N:M``).

    Args:
        value: the variable's value, or ``None``.

    Returns:
        ``(pass_count, drop_count)``, or ``None`` when unset, empty or malformed.
    """
    if not value:
        return None
    head, _, tail = value.partition(":")
    try:
        passed, dropped = int(head), int(tail or "0")
    except ValueError:
        return None
    if passed < 0 or dropped < 0:
        return None
    return passed, dropped


class ChangeHandler(FileSystemEventHandler):
    """Turns watchdog events under one root into paths for the sink.

    It never raises: an exception here would kill watchdog's dispatcher thread and every later
    event would be lost silently (watchdog#427), so errors are logged and reported as an
    overflow (the service then reconciles).
    """

    def __init__(
        self,
        root: Path,
        sink: PathSink,
        on_overflow: OverflowCallback,
        *,
        patterns: Sequence[str],
        ignore_patterns: Sequence[str] = (),
        inject_overflow: tuple[int, int] | None = None,
    ) -> None:
        """Create a handler for the tree under ``root``.

        Args:
            root: the watched directory (absolute).
            sink: called with each path that may have changed.
            on_overflow: called when events were (or may have been) lost.
            patterns: file name globs of model files (``*.md``, ...); matched
                case-insensitively; directories always pass.
            ignore_patterns: extra globs to ignore (``config.ignore_patterns``).
            inject_overflow: test-only ``(pass, drop)`` counts (see the module docstring).
        """
        super().__init__()
        self.root = root
        self._sink = sink
        self._on_overflow = on_overflow
        self._patterns = tuple(p.lower() for p in patterns)
        self._ignore_patterns = tuple(ignore_patterns)
        self._inject = inject_overflow
        self._seen = 0
        self._lock = threading.Lock()

    def _wanted(self, path: Path, *, is_directory: bool) -> bool:
        if path == self.root:
            return False  # the root itself: its own deletion is seen as a dead emitter
        # Only the part below the root is judged, so a root inside a hidden folder works.
        if is_ignored(path, roots=(self.root,), ignore_patterns=self._ignore_patterns):
            return False
        if is_directory:
            return True
        name = path.name.lower()
        return any(fnmatch.fnmatchcase(name, p) for p in self._patterns)

    def _injected_loss(self) -> bool:
        """Apply the test-only overflow injection; ``True`` means drop this event."""
        if self._inject is None:
            return False
        passed, dropped = self._inject
        with self._lock:
            self._seen += 1
            seen = self._seen
        if seen <= passed:
            return False
        if seen <= passed + dropped:
            return True
        if seen == passed + dropped + 1:
            self._on_overflow(f"injected overflow under {self.root}")
            return True
        return False

    def dispatch(self, event: FileSystemEvent) -> None:
        """Report the event's path(s) to the sink (watchdog calls this for every event).

        Args:
            event: a watchdog event.
        """
        try:
            if self._injected_loss():
                return
            paths = [event.src_path]
            if event.dest_path:
                paths.append(event.dest_path)
            for raw in paths:
                path = Path(os.fsdecode(raw))
                if self._wanted(path, is_directory=event.is_directory):
                    log.debug("path_changed", path=str(path), kind=event.event_type)
                    self._sink(path)
        except Exception:  # see the class docstring: never kill the dispatcher
            log.exception("watch_event_failed", kind=event.event_type,
                          path=os.fsdecode(event.src_path))
            self._on_overflow(f"event handling failed under {self.root}")


__all__ = [
    "INJECT_OVERFLOW_ENV",
    "NATIVE_EVENTS",
    "POLLING_EVENTS",
    "ChangeHandler",
    "OverflowCallback",
    "PathSink",
    "parse_injection",
]

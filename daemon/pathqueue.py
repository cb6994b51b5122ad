"""A bounded, thread-safe queue of paths that waits for each path to settle.

The watcher's handler calls :meth:`SettleQueue.put` for every path an event touched; the
worker calls :meth:`SettleQueue.get_ready` and receives every path that has been quiet for the
settle window, as one batch. Repeated events for one path only push its deadline back, so an
editor's save (rename to backup, write, delete backup) or a burst of writes collapses into a
single entry. The queue holds at most ``maxsize`` distinct paths; a new path that does not fit
is dropped and the :attr:`SettleQueue.overflowed` flag is raised, so the service knows events
were lost and reconciles the directories in full. Dropping is safe only because of that
reconcile: the files, not the events, are the truth.

Decisions where the contract is silent:

- Readiness is per path and measured on a monotonic clock: a path is ready ``settle`` seconds
  after the *last* event for it, whatever happens to other paths.
- ``get_ready`` returns everything ready at that instant (in order of last event), so a burst
  becomes a few large batches and the registry is written once per batch.
- A path already queued is never refused, even when the queue is full: merging costs nothing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

Clock = Callable[[], float]
"""A monotonic clock returning seconds (``time.monotonic`` unless a test injects one)."""


class SettleQueue:
    """Paths waiting for their settle window, bounded, safe to share between threads."""

    def __init__(self, settle: float, maxsize: int, *, clock: Clock = time.monotonic) -> None:
        """Create an empty queue.

        Args:
            settle: seconds without an event after which a path is ready (``>= 0``).
            maxsize: most distinct paths held at once; ``0`` means unbounded.
            clock: monotonic time source (tests may inject a fake one).

        Raises:
            ValueError: ``settle`` or ``maxsize`` is negative.
        """
        if settle < 0 or maxsize < 0:
            msg = "settle and maxsize must not be negative"
            raise ValueError(msg)
        self._settle = float(settle)
        self._maxsize = int(maxsize)
        self._clock = clock
        # path -> monotonic time of its last event; insertion order == order of last event
        # because every put moves the path to the end.
        self._pending: OrderedDict[Path, float] = OrderedDict()
        self._cond = threading.Condition(threading.Lock())
        self._overflowed = False
        self._dropped = 0
        self._closed = False
        self._wakeups = 0

    @property
    def settle(self) -> float:
        """The settle window in seconds."""
        return self._settle

    @settle.setter
    def settle(self, value: float) -> None:
        if value < 0:
            msg = "settle must not be negative"
            raise ValueError(msg)
        with self._cond:
            self._settle = float(value)
            self._cond.notify_all()

    @property
    def maxsize(self) -> int:
        """The bound on distinct pending paths (``0``: unbounded)."""
        return self._maxsize

    @property
    def overflowed(self) -> bool:
        """Whether a path was dropped because the queue was full (until :meth:`take_overflow`)."""
        with self._cond:
            return self._overflowed

    @property
    def dropped(self) -> int:
        """How many paths were dropped since the queue was created."""
        with self._cond:
            return self._dropped

    def __len__(self) -> int:
        with self._cond:
            return len(self._pending)

    def put(self, path: Path) -> bool:
        """Note an event for ``path``: (re)start its settle window.

        Args:
            path: the path an event named (file or directory, existing or not).

        Returns:
            ``False`` when the path was dropped because the queue is full (the
            :attr:`overflowed` flag is then set), ``True`` otherwise.
        """
        now = self._clock()
        with self._cond:
            if path in self._pending:
                self._pending.move_to_end(path)
            elif self._maxsize and len(self._pending) >= self._maxsize:
                self._overflowed = True
                self._dropped += 1
                return False
            self._pending[path] = now
            self._cond.notify_all()
        return True

    def put_many(self, paths: Iterable[Path]) -> int:
        """:meth:`put` each path; returns how many were dropped."""
        return sum(0 if self.put(p) else 1 for p in paths)

    def take_overflow(self) -> bool:
        """Return the :attr:`overflowed` flag and clear it (so one overflow asks once)."""
        with self._cond:
            flag, self._overflowed = self._overflowed, False
            return flag

    def _take_ready_locked(self, now: float) -> list[Path]:
        ready: list[Path] = []
        for path, last in self._pending.items():
            if now - last < self._settle:
                break  # later entries had later events: none of them is ready either
            ready.append(path)
        for path in ready:
            del self._pending[path]
        return ready

    def _next_deadline_locked(self) -> float | None:
        if not self._pending:
            return None
        first = next(iter(self._pending.values()))
        return first + self._settle

    def get_ready(self, timeout: float | None = None) -> list[Path]:
        """Wait for settled paths and return all of them as one batch.

        Args:
            timeout: longest wait in seconds (``None``: until something is ready or
                :meth:`close` is called; ``0``: do not wait).

        Returns:
            The paths ready now, oldest event first; an empty list on timeout, :meth:`wake`
            or :meth:`close`.
        """
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            wakeups = self._wakeups
            while True:
                now = self._clock()
                ready = self._take_ready_locked(now)
                if ready or self._closed or self._wakeups != wakeups:
                    return ready
                wait_until = self._next_deadline_locked()
                if deadline is not None:
                    if now >= deadline:
                        return []
                    wait_until = deadline if wait_until is None else min(wait_until, deadline)
                # Condition.wait may wake early (put, close) or late; the loop re-checks.
                self._cond.wait(None if wait_until is None else max(0.0, wait_until - now))

    def due_in(self) -> float | None:
        """Seconds until the oldest pending path is ready (``<= 0``: ready now), or ``None``
        when nothing is pending."""
        with self._cond:
            deadline = self._next_deadline_locked()
            return None if deadline is None else deadline - self._clock()

    def drain(self) -> list[Path]:
        """Remove and return every pending path, settled or not (used at shutdown)."""
        with self._cond:
            paths = list(self._pending)
            self._pending.clear()
            return paths

    def close(self) -> None:
        """Wake every waiter; later :meth:`get_ready` calls return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Make current :meth:`get_ready` waiters return now (with what is ready, maybe nothing).

        The worker uses it to notice a reconcile request without waiting for its timeout.
        """
        with self._cond:
            self._wakeups += 1
            self._cond.notify_all()


__all__ = ["Clock", "SettleQueue"]

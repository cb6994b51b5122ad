"""The settle queue: per-path settle windows, batches, the bound and its overflow flag."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from daemon.pathqueue import SettleQueue


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


class TestSettle:
    def test_path_not_ready_before_window(self, clock: FakeClock) -> None:
        """A path is held until settle seconds have passed since its event."""
        q = SettleQueue(3, 10, clock=clock)
        q.put(Path("a.md"))
        clock.advance(2.5)
        assert q.get_ready(0) == []
        clock.advance(0.5)
        assert q.get_ready(0) == [Path("a.md")]

    def test_repeated_events_merge_and_push_deadline(self, clock: FakeClock) -> None:
        """Several events for one path yield one entry, ready settle after the last one."""
        q = SettleQueue(3, 10, clock=clock)
        q.put(Path("a.md"))
        clock.advance(2)
        q.put(Path("a.md"))
        clock.advance(2)
        assert q.get_ready(0) == []
        assert len(q) == 1
        clock.advance(1)
        assert q.get_ready(0) == [Path("a.md")]
        assert len(q) == 0

    def test_windows_are_per_path(self, clock: FakeClock) -> None:
        """A busy path does not hold back a quiet one."""
        q = SettleQueue(3, 10, clock=clock)
        q.put(Path("quiet.md"))
        for _ in range(5):
            clock.advance(1)
            q.put(Path("busy.md"))
        assert q.get_ready(0) == [Path("quiet.md")]
        clock.advance(3)
        assert q.get_ready(0) == [Path("busy.md")]

    def test_batch_holds_everything_ready_in_event_order(self, clock: FakeClock) -> None:
        """get_ready returns all settled paths at once, oldest last-event first."""
        q = SettleQueue(0.1, 100, clock=clock)
        for name in ("c.md", "a.md", "b.md"):
            q.put(Path(name))
            clock.advance(0.01)
        q.put(Path("c.md"))  # c's last event is now the newest
        clock.advance(0.5)
        assert q.get_ready(0) == [Path("a.md"), Path("b.md"), Path("c.md")]

    def test_zero_settle_is_immediate(self, clock: FakeClock) -> None:
        """With a settle window of 0 a path is ready as soon as it is put."""
        q = SettleQueue(0, 10, clock=clock)
        q.put(Path("a.md"))
        assert q.get_ready(0) == [Path("a.md")]

    def test_drain_ignores_window(self, clock: FakeClock) -> None:
        """drain returns every pending path, settled or not, and empties the queue."""
        q = SettleQueue(10, 10, clock=clock)
        q.put_many([Path("a.md"), Path("b.md")])
        assert q.drain() == [Path("a.md"), Path("b.md")]
        assert len(q) == 0

    def test_settle_can_change(self, clock: FakeClock) -> None:
        """A new settle window (config reload) applies to paths already queued."""
        q = SettleQueue(10, 10, clock=clock)
        q.put(Path("a.md"))
        clock.advance(1)
        assert q.get_ready(0) == []
        q.settle = 0.5
        assert q.get_ready(0) == [Path("a.md")]

    def test_negative_values_refused(self) -> None:
        """A negative settle window or bound is a programming error."""
        with pytest.raises(ValueError):
            SettleQueue(-1, 10)
        with pytest.raises(ValueError):
            SettleQueue(1, -1)


class TestBound:
    def test_new_path_dropped_when_full_and_flag_set(self, clock: FakeClock) -> None:
        """A new path beyond maxsize is dropped and the overflow flag raised."""
        q = SettleQueue(0.1, 2, clock=clock)
        assert q.put(Path("a.md"))
        assert q.put(Path("b.md"))
        assert not q.overflowed
        assert not q.put(Path("c.md"))
        assert q.overflowed
        assert q.dropped == 1
        assert len(q) == 2

    def test_known_path_merges_even_when_full(self, clock: FakeClock) -> None:
        """An event for a path already queued is never refused."""
        q = SettleQueue(0.1, 1, clock=clock)
        q.put(Path("a.md"))
        assert q.put(Path("a.md"))
        assert not q.overflowed

    def test_take_overflow_reports_once(self, clock: FakeClock) -> None:
        """take_overflow returns the flag and clears it, so one overflow asks once."""
        q = SettleQueue(0.1, 1, clock=clock)
        q.put(Path("a.md"))
        q.put(Path("b.md"))
        assert q.take_overflow()
        assert not q.take_overflow()
        assert not q.overflowed

    def test_zero_means_unbounded(self, clock: FakeClock) -> None:
        """maxsize 0 accepts any number of paths."""
        q = SettleQueue(0.1, 0, clock=clock)
        assert q.put_many(Path(f"{i}.md") for i in range(5000)) == 0
        assert len(q) == 5000


class TestThreads:
    def test_waiter_wakes_when_path_settles(self) -> None:
        """A blocked get_ready returns the path once its window passes (real clock)."""
        q = SettleQueue(0.05, 10)
        got: list[list[Path]] = []
        waiter = threading.Thread(target=lambda: got.append(q.get_ready(5.0)))
        waiter.start()
        q.put(Path("a.md"))
        waiter.join(5.0)
        assert not waiter.is_alive()
        assert got == [[Path("a.md")]]

    def test_timeout_returns_empty(self) -> None:
        """get_ready returns an empty batch when nothing settles before the timeout."""
        q = SettleQueue(10, 10)
        q.put(Path("a.md"))
        assert q.get_ready(0.01) == []

    def test_wake_and_close_release_waiters(self) -> None:
        """wake() and close() make a waiter without a timeout return."""
        q = SettleQueue(0.1, 10)
        for release in (q.wake, q.close):
            done = threading.Event()

            def wait(done: threading.Event = done) -> None:
                q.get_ready(None)
                done.set()

            waiter = threading.Thread(target=wait)
            waiter.start()
            deadline = time.monotonic() + 5
            while not done.is_set() and time.monotonic() < deadline:
                release()
                done.wait(0.01)
            waiter.join(5.0)
            assert done.is_set()

    def test_concurrent_producers_lose_nothing(self) -> None:
        """Paths put from several threads at once all come out exactly once."""
        q = SettleQueue(0.0, 0)
        names = [[Path(f"t{t}/{i}.md") for i in range(500)] for t in range(4)]
        producers = [threading.Thread(target=q.put_many, args=(batch,)) for batch in names]
        for p in producers:
            p.start()
        for p in producers:
            p.join(5.0)
        out: list[Path] = []
        deadline = time.monotonic() + 5
        while len(out) < 2000 and time.monotonic() < deadline:
            out.extend(q.get_ready(0.1))
        assert sorted(out) == sorted(p for batch in names for p in batch)

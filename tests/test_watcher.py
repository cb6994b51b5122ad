"""The watcher: event -> path translation, real inotify and polling watches, health, fs types."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileMovedEvent,
)

from daemon.events import ChangeHandler, parse_injection
from daemon.fstype import (
    filesystem_type,
    find_mount,
    is_network_fs,
    parse_mountinfo,
)
from daemon.watcher import Watcher, plan_watches
from tests.helpers.daemon import wait_until


class Collector:
    """A thread-safe sink and overflow callback recording what the watcher reported."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paths: list[Path] = []
        self.overflows: list[str] = []

    def put(self, path: Path) -> None:
        with self._lock:
            self.paths.append(path)

    def overflow(self, source: str) -> None:
        with self._lock:
            self.overflows.append(source)

    def seen(self) -> set[Path]:
        with self._lock:
            return set(self.paths)


@pytest.fixture(name="sink")
def _sink() -> Collector:
    return Collector()


def _handler(root: Path, sink: Collector, **kwargs: object) -> ChangeHandler:
    return ChangeHandler(root, sink.put, sink.overflow, patterns=("*.md", "*.gnn"),
                         **kwargs)  # type: ignore[arg-type]


class TestChangeHandler:
    def test_created_and_closed_report_the_path(self, tmp_path: Path, sink: Collector) -> None:
        """Create and close-after-write events both name the model file."""
        h = _handler(tmp_path, sink)
        h.dispatch(FileCreatedEvent(str(tmp_path / "a.md")))
        h.dispatch(FileClosedEvent(str(tmp_path / "a.md")))
        assert sink.paths == [tmp_path / "a.md", tmp_path / "a.md"]

    def test_move_reports_both_ends(self, tmp_path: Path, sink: Collector) -> None:
        """A move names its source (gone) and its destination (new)."""
        h = _handler(tmp_path, sink)
        h.dispatch(FileMovedEvent(str(tmp_path / "a.md"), str(tmp_path / "sub" / "b.md")))
        assert sink.paths == [tmp_path / "a.md", tmp_path / "sub" / "b.md"]

    def test_editor_temporaries_and_other_files_ignored(
        self, tmp_path: Path, sink: Collector,
    ) -> None:
        """Vim's probe and backups, hidden temp files and non-model names are not reported."""
        h = _handler(tmp_path, sink)
        for name in ("4913", "a.md~", ".a.md.swp", ".a.md.tmp", "notes.txt", ".hidden.md"):
            h.dispatch(FileCreatedEvent(str(tmp_path / name)))
        h.dispatch(FileMovedEvent(str(tmp_path / "a.md"), str(tmp_path / "a.md~")))
        h.dispatch(FileMovedEvent(str(tmp_path / ".a.md.tmp"), str(tmp_path / "a.md")))
        assert sink.paths == [tmp_path / "a.md", tmp_path / "a.md"]

    def test_directories_reported_root_not(self, tmp_path: Path, sink: Collector) -> None:
        """A new or deleted sub-folder is reported (it is scanned); the root itself is not."""
        h = _handler(tmp_path, sink)
        h.dispatch(DirCreatedEvent(str(tmp_path / "new")))
        h.dispatch(DirDeletedEvent(str(tmp_path / "old")))
        h.dispatch(DirDeletedEvent(str(tmp_path)))
        assert sink.paths == [tmp_path / "new", tmp_path / "old"]

    def test_pattern_match_ignores_case(self, tmp_path: Path, sink: Collector) -> None:
        """``MODEL.MD`` matches ``*.md``."""
        _handler(tmp_path, sink).dispatch(FileCreatedEvent(str(tmp_path / "MODEL.MD")))
        assert sink.paths == [tmp_path / "MODEL.MD"]

    def test_sink_failure_reported_not_raised(self, tmp_path: Path, sink: Collector) -> None:
        """An exception in the sink is logged and reported as lost events, never raised."""
        def broken(_path: Path) -> None:
            raise RuntimeError("boom")

        h = ChangeHandler(tmp_path, broken, sink.overflow, patterns=("*.md",))
        h.dispatch(FileCreatedEvent(str(tmp_path / "a.md")))
        assert len(sink.overflows) == 1

    def test_injected_overflow_drops_then_reports_once(
        self, tmp_path: Path, sink: Collector,
    ) -> None:
        """Injection N:M passes N events, drops M, reports one overflow, then passes again."""
        h = _handler(tmp_path, sink, inject_overflow=(2, 3))
        names = [tmp_path / f"{i}.md" for i in range(8)]
        for path in names:
            h.dispatch(FileCreatedEvent(str(path)))
        assert sink.paths == [names[0], names[1], names[6], names[7]]
        assert len(sink.overflows) == 1

    def test_parse_injection(self) -> None:
        """The injection variable accepts ``N`` and ``N:M`` and ignores anything else."""
        assert parse_injection("5") == (5, 0)
        assert parse_injection("5:7") == (5, 7)
        assert parse_injection("") is None
        assert parse_injection(None) is None
        assert parse_injection("x") is None
        assert parse_injection("-1") is None


@pytest.fixture(name="watcher_factory")
def _watcher_factory(sink: Collector) -> Iterator[list[Watcher]]:
    started: list[Watcher] = []
    before = set(threading.enumerate())
    yield started
    for w in started:
        w.stop()
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


def _start(factory: list[Watcher], dirs: list[Path], sink: Collector, **kw: object) -> Watcher:
    w = Watcher(dirs, sink=sink.put, on_overflow=sink.overflow, environ={},
                **kw)  # type: ignore[arg-type]
    factory.append(w)
    w.start()
    return w


class TestWatcherInotify:
    def test_new_file_reported(self, tmp_path: Path, sink: Collector,
                               watcher_factory: list[Watcher]) -> None:
        """Writing a file under a watched directory reaches the sink."""
        w = _start(watcher_factory, [tmp_path], sink)
        assert w.polled == ()
        (tmp_path / "a.md").write_text("x")
        wait_until(lambda: tmp_path / "a.md" in sink.seen(), what="a.md event")

    def test_in_place_rewrite_reported(self, tmp_path: Path, sink: Collector,
                                       watcher_factory: list[Watcher]) -> None:
        """Rewriting an existing file is seen through its close-after-write event."""
        target = tmp_path / "a.md"
        target.write_text("one")
        _start(watcher_factory, [tmp_path], sink)
        with target.open("a") as handle:
            handle.write("two")
        wait_until(lambda: target in sink.seen(), what="rewrite event")

    def test_new_subfolder_and_its_files_reported(
        self, tmp_path: Path, sink: Collector, watcher_factory: list[Watcher],
    ) -> None:
        """A folder created with files inside is reported, and so are the files."""
        _start(watcher_factory, [tmp_path], sink)
        sub = tmp_path / "sub" / "deeper"
        sub.mkdir(parents=True)
        (sub / "b.md").write_text("x")
        wait_until(lambda: {tmp_path / "sub", sub / "b.md"} <= sink.seen(),
                   what="folder and file events")

    def test_deleted_root_is_a_dead_watch_and_restart_lists_it_missing(
        self, tmp_path: Path, sink: Collector, watcher_factory: list[Watcher],
    ) -> None:
        """Removing a watched root stops its emitter; a restart then reports it missing."""
        root = tmp_path / "root"
        root.mkdir()
        w = _start(watcher_factory, [root], sink)
        assert w.dead_threads() == []
        shutil.rmtree(root)
        dead = wait_until(w.dead_threads, what="dead watch")
        assert any(str(root) in d for d in dead)
        w.restart()
        assert w.missing == (root,)
        assert w.dead_threads() == []

    def test_missing_directory_does_not_stop_others(
        self, tmp_path: Path, sink: Collector, watcher_factory: list[Watcher],
    ) -> None:
        """A missing directory is listed and the others are still watched."""
        good = tmp_path / "good"
        good.mkdir()
        w = _start(watcher_factory, [tmp_path / "nope", good], sink)
        assert w.missing == (tmp_path / "nope",)
        (good / "a.md").write_text("x")
        wait_until(lambda: good / "a.md" in sink.seen(), what="event in the good directory")


class TestWatcherPolling:
    def test_force_polling_reports_create_and_modify(
        self, tmp_path: Path, sink: Collector, watcher_factory: list[Watcher],
    ) -> None:
        """With force_polling the polling observer reports new and rewritten files."""
        target = tmp_path / "a.md"
        w = _start(watcher_factory, [tmp_path], sink, force_polling=True, poll_interval=0.05)
        assert w.polled == (tmp_path,)
        target.write_text("one")
        wait_until(lambda: target in sink.seen(), what="polled create")
        sink.paths.clear()
        os.utime(target, ns=(1, 1))  # a different mtime, as a rewrite would give
        wait_until(lambda: target in sink.seen(), what="polled modify")

    def test_network_filesystem_is_polled(self, tmp_path: Path) -> None:
        """plan_watches polls a directory whose mount is NFS and watches ext4 natively."""
        st = tmp_path.stat()
        dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
        nfs = f"36 1 {dev} / / rw,relatime shared:1 - nfs4 server:/export rw\n"
        ext4 = f"36 1 {dev} / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        assert plan_watches([tmp_path], force_polling=False, mountinfo=nfs)[0].polling
        assert not plan_watches([tmp_path], force_polling=False, mountinfo=ext4)[0].polling
        assert plan_watches([tmp_path], force_polling=True, mountinfo=ext4)[0].polling


class TestFsType:
    SAMPLE = (
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "40 22 0:45 / /mnt/my\\040share rw shared:20 - cifs //srv/share rw,vers=3.0\n"
        "41 22 0:46 / /mnt/remote rw - fuse.sshfs user@host:/ rw\n"
        "42 41 0:47 / /mnt/remote/inner rw - nfs4 srv:/x rw\n"
        "garbage line\n"
    )

    def test_parse_unescapes_and_skips_garbage(self) -> None:
        """Mount points are unescaped, optional fields skipped, malformed lines dropped."""
        entries = parse_mountinfo(self.SAMPLE)
        assert [e.mount_point for e in entries] == [
            "/", "/mnt/my share", "/mnt/remote", "/mnt/remote/inner"]
        assert [e.fstype for e in entries] == ["ext4", "cifs", "fuse.sshfs", "nfs4"]
        assert entries[1].device == (0, 45)

    def test_longest_prefix_without_device_match(self, tmp_path: Path) -> None:
        """With no device match the longest covering mount point wins."""
        entries = parse_mountinfo(self.SAMPLE)
        found = find_mount(tmp_path, entries)
        assert found is not None
        assert found.mount_point == "/"

    def test_network_types(self) -> None:
        """NFS, CIFS, SSHFS and other FUSE mounts are network filesystems; ext4/tmpfs not."""
        for kind in ("nfs", "nfs4", "cifs", "smb3", "fuse.sshfs", "fuse.rclone", "9p"):
            assert is_network_fs(kind), kind
        for local in ("ext4", "xfs", "btrfs", "tmpfs", None, ""):
            assert not is_network_fs(local), local

    def test_real_mount_table(self, tmp_path: Path) -> None:
        """The type of a real directory is read from this process's mount table."""
        if not Path("/proc/self/mountinfo").exists():
            pytest.skip("no /proc/self/mountinfo")
        assert filesystem_type(tmp_path)
        assert filesystem_type(tmp_path / "missing") is None

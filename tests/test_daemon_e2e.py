"""End to end: the real ``gnn-registryd`` console script on real files (issue 4 acceptance).

Every test drives a subprocess with ``--settle-ms 100`` and waits on conditions with deadlines
(registry content through ``RegistryStore.load``, JSON log lines, notify datagrams). To check
that something did *not* happen (``touch``), a second "barrier" file is written after the
action: the action's paths settle no later than the barrier's, so once the barrier is
registered the action has been processed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.config import load_config
from registry.model.records import ModelEntry, RegistryDoc
from registry.storage.store import RegistryStore
from tests.helpers.daemon import (
    INVALID_GNN,
    Daemon,
    NotifySocket,
    console_script,
    gnn_text,
    registry_doc,
    running_daemon,
    write,
)

SETTLE = ["--settle-ms", "100"]


def model(doc: RegistryDoc, model_id: str) -> ModelEntry | None:
    """The model ``model_id`` or None."""
    return doc.models.get(model_id)


def has_version_count(model_id: str, count: int,
                      state: str = "active") -> Callable[[RegistryDoc], bool]:
    """Predicate: ``model_id`` exists in ``state`` with exactly ``count`` versions."""
    def check(doc: RegistryDoc) -> bool:
        entry = model(doc, model_id)
        return entry is not None and len(entry.versions) == count and entry.state == state
    return check


def barrier(daemon: Daemon, directory: Path, name: str) -> RegistryDoc:
    """Write a new model file and wait until it is registered (orders earlier events)."""
    write(directory / f"{name}.md", gnn_text(name))
    return daemon.wait_registry(lambda d: name in d.models, what=f"barrier {name}")


def events_of(entry: ModelEntry) -> list[str]:
    """The history event names of a model."""
    return [h.event for h in entry.history]


@pytest.fixture(name="models_dir")
def _models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture(name="out")
def _out(tmp_path: Path) -> Path:
    return tmp_path / "out"


class TestEdits:
    def test_create_registers_and_touch_changes_nothing(
        self, models_dir: Path, out: Path,
    ) -> None:
        """A new file is registered; touching it adds no version and no history."""
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            path = write(models_dir / "alpha.md", gnn_text("Alpha"))
            doc = d.wait_registry(has_version_count("alpha", 1), what="alpha registered")
            entry = model(doc, "alpha")
            assert entry is not None
            assert entry.version == "1.0.0"
            assert entry.file_path == str(path)
            history_before = events_of(entry)
            subprocess.run(["touch", str(path)], check=True)
            doc = barrier(d, models_dir, "after_touch")
            entry = model(doc, "alpha")
            assert entry is not None
            assert len(entry.versions) == 1
            assert events_of(entry) == history_before

    def test_vim_style_save_makes_one_version(self, models_dir: Path, out: Path) -> None:
        """Vim's backup-rename, 4913 probe, write and backup delete yield one new version."""
        path = write(models_dir / "alpha.md", gnn_text("Alpha"))
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            d.wait_registry(has_version_count("alpha", 1), what="alpha registered")
            backup = models_dir / "alpha.md~"
            path.rename(backup)
            probe = models_dir / "4913"
            probe.write_text("")
            probe.unlink()
            path.write_text(gnn_text("Alpha", horizon=20), encoding="utf-8")
            backup.unlink()
            doc = d.wait_registry(has_version_count("alpha", 2), what="second version")
            doc = barrier(d, models_dir, "after_vim")
            entry = model(doc, "alpha")
            assert entry is not None
            assert len(entry.versions) == 2
            assert entry.state == "active"
            assert "removed" not in events_of(entry)
            assert "4913" not in doc.models
            assert not any(m.file_path.endswith("~") for m in doc.models.values())

    def test_rename_over_save_makes_one_version(self, models_dir: Path, out: Path) -> None:
        """Writing a hidden temp file and os.replace-ing it over the model: one new version."""
        path = write(models_dir / "alpha.md", gnn_text("Alpha"))
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            d.wait_registry(has_version_count("alpha", 1), what="alpha registered")
            tmp = write(models_dir / ".alpha.md.tmp", gnn_text("Alpha", horizon=30))
            tmp.replace(path)
            d.wait_registry(has_version_count("alpha", 2), what="second version")
            doc = barrier(d, models_dir, "after_replace")
            entry = model(doc, "alpha")
            assert entry is not None
            assert len(entry.versions) == 2
            assert "removed" not in events_of(entry)
            assert len(doc.models) == 2

    def test_move_keeps_id_and_history(self, models_dir: Path, out: Path) -> None:
        """Moving a file into a sub-folder under a new name keeps its id and history."""
        path = write(models_dir / "alpha.md", gnn_text("Alpha"))
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            doc = d.wait_registry(has_version_count("alpha", 1), what="alpha registered")
            entry = model(doc, "alpha")
            assert entry is not None
            first_sha = entry.versions[0].sha256
            (models_dir / "sub").mkdir()
            target = models_dir / "sub" / "renamed.md"
            path.rename(target)
            doc = d.wait_registry(
                lambda doc: (m := model(doc, "alpha")) is not None
                and m.file_path == str(target) and m.state == "active",
                what="alpha moved")
            entry = model(doc, "alpha")
            assert entry is not None
            assert len(entry.versions) == 1
            assert entry.versions[0].sha256 == first_sha
            assert "renamed" not in doc.models

    def test_invalid_edit_adds_no_version_and_logs_error(
        self, models_dir: Path, out: Path,
    ) -> None:
        """An edit that breaks the model keeps the old version, logs a warning, stays alive."""
        path = write(models_dir / "alpha.md", gnn_text("Alpha"))
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            d.wait_registry(has_version_count("alpha", 1), what="alpha registered")
            mark = d.log_count()
            path.write_text(INVALID_GNN, encoding="utf-8")
            hit = d.wait_log("file_processed", after=mark, path=str(path), status="invalid")
            assert hit["level"] in ("warning", "error")
            assert hit["findings"]
            doc = barrier(d, models_dir, "after_invalid")
            entry = model(doc, "alpha")
            assert entry is not None
            assert len(entry.versions) == 1
            assert entry.version == "1.0.0"
            assert d.proc.poll() is None

    def test_delete_then_recreate(self, models_dir: Path, out: Path) -> None:
        """Deleting marks the model removed; writing it again makes it active with history."""
        path = write(models_dir / "alpha.md", gnn_text("Alpha"))
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            d.wait_registry(has_version_count("alpha", 1), what="alpha registered")
            path.unlink()
            d.wait_registry(has_version_count("alpha", 1, "removed"), what="alpha removed")
            write(path, gnn_text("Alpha"))
            doc = d.wait_registry(has_version_count("alpha", 1), what="alpha active again")
            entry = model(doc, "alpha")
            assert entry is not None
            assert "removed" in events_of(entry)
            assert events_of(entry)[0] == "registered"

    def test_folder_of_300_files_copied_in(self, tmp_path: Path, models_dir: Path,
                                           out: Path) -> None:
        """300 files copied in as a new folder are all registered."""
        staging = tmp_path / "staging"
        for i in range(300):
            write(staging / f"m{i:03d}.md", gnn_text(f"Model {i}", horizon=i + 1))
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            shutil.copytree(staging, models_dir / "batch")
            doc = d.wait_registry(
                lambda doc: sum(m.state == "active" for m in doc.models.values()) == 300,
                timeout=120, what="300 models")
            assert {f"m{i:03d}" for i in range(300)} <= set(doc.models)


class TestProcess:
    def test_sigterm_exits_zero_with_valid_registry(self, models_dir: Path, out: Path) -> None:
        """SIGTERM stops the service with status 0 and a registry that verifies."""
        write(models_dir / "alpha.md", gnn_text("Alpha"))
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            d.send(signal.SIGTERM)
            assert d.wait_exit() == 0
            assert d.find_logs("service_stopped", exit_status=0)
        store = RegistryStore(load_config(environ={}, overrides={"output_dir": out}))
        assert store.verify() == []
        assert "alpha" in store.load().models

    def test_notify_ready_watchdog_stopping(self, tmp_path: Path, models_dir: Path,
                                            out: Path) -> None:
        """READY=1 comes after the startup reconcile, then WATCHDOG=1, STATUS=, STOPPING=1."""
        write(models_dir / "alpha.md", gnn_text("Alpha"))
        sock = NotifySocket(tmp_path)
        try:
            env = {"NOTIFY_SOCKET": str(sock.path), "WATCHDOG_USEC": "200000"}
            with running_daemon([*SETTLE, models_dir], output_dir=out, env=env,
                                ready=False) as d:
                ready = sock.wait_for("READY=1")
                assert "alpha" in registry_doc(out).models  # reconciled before READY
                sock.wait_for("WATCHDOG=1", after=ready)
                sock.wait_for("STATUS=")
                d.send(signal.SIGTERM)
                sock.wait_for("STOPPING=1", after=ready)
                assert d.wait_exit() == 0
        finally:
            sock.close()

    def test_log_lines_are_json(self, models_dir: Path, out: Path) -> None:
        """With stdout on a pipe every log line is a JSON object with event/level/timestamp."""
        write(models_dir / "alpha.md", gnn_text("Alpha"))
        with running_daemon([*SETTLE, models_dir], output_dir=out) as d:
            d.send(signal.SIGTERM)
            d.wait_exit()
        events = d.events()  # raises if a line is not JSON
        assert events
        assert all({"event", "level", "timestamp"} <= set(e) for e in events)
        names = [e["event"] for e in events]
        for expected in ("reconcile_done", "service_started", "service_stopping",
                         "service_stopped"):
            assert expected in names
        done = d.find_logs("reconcile_done", reason="startup")[0]
        assert {"counts", "duration_ms", "models"} <= set(done)
        assert (done["counts"], done["files"], done["models"]) == ({"registered": 1}, 1, 1)
        # Restarted over the same tree: the scan cache answers, and is counted the same way.
        with running_daemon([*SETTLE, models_dir], output_dir=out) as again:
            again.wait_log("reconcile_done", reason="startup")
            again.send(signal.SIGTERM)
            again.wait_exit()
        done = again.find_logs("reconcile_done", reason="startup")[0]
        assert (done["counts"], done["files"], done["models"]) == ({"unchanged": 1}, 1, 1)

    def test_injected_overflow_misses_nothing(self, models_dir: Path, out: Path) -> None:
        """Events dropped by an (injected) overflow are recovered by the full reconcile."""
        env = {"GNN_REGISTRYD_TEST_INJECT_OVERFLOW": "0:50"}
        with running_daemon([*SETTLE, models_dir], output_dir=out, env=env) as d:
            names = [f"f{i:02d}" for i in range(40)]
            for name in names:
                write(models_dir / f"{name}.md", gnn_text(name))
            d.wait_registry(lambda doc: set(names) <= set(doc.models), what="all 40 files")
            d.wait_log("watcher_overflow")
            d.wait_log("reconcile_done", reason="overflow")

    def test_force_polling_registers_changes(self, models_dir: Path, out: Path) -> None:
        """With --force-polling a new file and an edit are still registered."""
        env = {"GNN_REGISTRY_POLL_INTERVAL": "0.1"}
        with running_daemon([*SETTLE, "--force-polling", models_dir], output_dir=out,
                            env=env) as d:
            started = d.find_logs("service_started")[0]
            assert started["polled"] == [str(models_dir)]
            path = write(models_dir / "alpha.md", gnn_text("Alpha"))
            d.wait_registry(has_version_count("alpha", 1), what="alpha registered")
            path.write_text(gnn_text("Alpha", horizon=50), encoding="utf-8")
            d.wait_registry(has_version_count("alpha", 2), what="alpha edited")


class TestRecovery:
    def test_periodic_reconcile_catches_unreported_change(self, models_dir: Path,
                                                          out: Path) -> None:
        """A write inotify is not asked to report (file still open) is found periodically."""
        path = write(models_dir / "alpha.md", gnn_text("Alpha"))
        args: list[str | Path] = [*SETTLE, "--reconcile-interval", "0.5", models_dir]
        with running_daemon(args, output_dir=out) as d, path.open("r+", encoding="utf-8") as f:
            f.write(gnn_text("Alpha", horizon=77))  # no close-after-write event yet
            f.flush()
            d.wait_registry(has_version_count("alpha", 2), what="change found by reconcile")
            d.wait_log("reconcile_done", reason="periodic")

    def test_watched_root_deleted_and_recreated(self, tmp_path: Path, out: Path) -> None:
        """Deleting a watched root restarts the watcher; models return when it comes back."""
        root = tmp_path / "root"
        write(root / "alpha.md", gnn_text("Alpha"))
        with running_daemon([*SETTLE, root], output_dir=out) as d:
            shutil.rmtree(root)
            d.wait_log("observer_restarted")
            d.wait_registry(has_version_count("alpha", 1, "removed"), what="alpha removed")
            write(root / "alpha.md", gnn_text("Alpha"))
            d.wait_registry(has_version_count("alpha", 1), what="alpha back")
            write(root / "beta.md", gnn_text("Beta"))
            d.wait_registry(lambda doc: "beta" in doc.models, what="root watched again")
            assert d.proc.poll() is None

class TestCommandLine:
    def _run(self, *args: str | Path, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GNN_REGISTRY_")}
        full_env.update(env or {})
        return subprocess.run([str(console_script()), *map(str, args)], capture_output=True,
                              text=True, env=full_env, cwd=cwd, timeout=120, check=False)

    def test_no_directories_is_fatal(self, tmp_path: Path) -> None:
        """Without DIR arguments or configured directories the service exits 2."""
        result = self._run("--output-dir", tmp_path / "out", cwd=tmp_path)
        assert result.returncode == 2
        assert "no directories to watch" in result.stderr

    def test_missing_directory_is_fatal(self, tmp_path: Path) -> None:
        """A DIR that does not exist is a fatal error with a clear message."""
        result = self._run("--output-dir", tmp_path / "out", tmp_path / "nope")
        assert result.returncode == 2
        assert "does not exist" in result.stderr

    def test_unwritable_registry_is_fatal_before_ready(self, tmp_path: Path,
                                                       models_dir: Path) -> None:
        """When the registry cannot be written the service exits 2 instead of running."""
        write(models_dir / "alpha.md", gnn_text("Alpha"))
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the output directory should be")
        result = self._run(*SETTLE, "--output-dir", blocker / "out", models_dir)
        assert result.returncode == 2
        assert "service_started" not in result.stdout

    def test_scan_mode_exit_codes(self, models_dir: Path, out: Path) -> None:
        """--scan exits 0 when all files are valid and 1 when one is invalid."""
        write(models_dir / "alpha.md", gnn_text("Alpha"))
        assert self._run("--scan", "--output-dir", out, models_dir).returncode == 0
        write(models_dir / "broken.md", INVALID_GNN)
        assert self._run("--scan", "--output-dir", out, models_dir).returncode == 1
        assert "alpha" in registry_doc(out).models


MAX_QUEUED = Path("/proc/sys/fs/inotify/max_queued_events")


class TestKernelOverflow:
    @pytest.mark.slow
    def test_tiny_kernel_queue_overflow_misses_nothing(self, models_dir: Path,
                                                       out: Path) -> None:
        """A real IN_Q_OVERFLOW (max_queued_events=16) is logged and reconciled: none missed.

        Root only; the sysctl is restored as soon as the daemon's inotify instance exists
        (the limit is read when an instance is created), so other processes are unaffected.
        """
        if not os.access(MAX_QUEUED, os.W_OK):
            pytest.skip("needs a writable /proc/sys/fs/inotify/max_queued_events (root)")
        old = MAX_QUEUED.read_text()
        MAX_QUEUED.write_text("16\n")
        d: Daemon | None = None
        try:
            d = Daemon([*SETTLE, models_dir], output_dir=out)
            try:
                d.wait_log("service_started")
            finally:
                MAX_QUEUED.write_text(old)  # our instance exists now (or never will)
            names = [f"n{i:04d}" for i in range(2000)]
            for name in names:
                write(models_dir / f"{name}.md", gnn_text(name))
            d.wait_registry(lambda doc: set(names) <= set(doc.models), timeout=300,
                            what="all 2000 files")
            overflow = d.wait_log("watcher_overflow")
            assert "inotify" in overflow["source"]
            d.wait_log("reconcile_done", reason="overflow")
        finally:
            MAX_QUEUED.write_text(old)
            if d is not None:
                d.kill()

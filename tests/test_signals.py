"""Signals on the real ``gnn-registryd``: drain on SIGTERM, forced exit, SIGHUP reload."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from filelock import FileLock

from tests.helpers.daemon import NotifySocket, gnn_text, registry_doc, running_daemon, write


@pytest.fixture(name="models_dir")
def _models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture(name="out")
def _out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


class TestStop:
    def test_sigterm_drains_unsettled_paths(self, models_dir: Path, out: Path) -> None:
        """A path still inside its settle window at SIGTERM is processed before exit."""
        args: list[str | Path] = ["--settle-ms", "60000", "--log-level", "debug", models_dir]
        with running_daemon(args, output_dir=out) as d:
            path = write(models_dir / "late.md", gnn_text("Late"))
            d.wait_log("path_changed", path=str(path))
            assert "late" not in registry_doc(out).models
            d.send(signal.SIGTERM)
            assert d.wait_exit() == 0
            stopping = d.find_logs("service_stopping")[0]
            assert stopping["pending"] >= 1
            assert d.find_logs("batch_processed", draining=True)
        assert "late" in registry_doc(out).models

    def test_sigint_waits_for_the_write_in_progress(self, models_dir: Path, out: Path) -> None:
        """One SIGINT during a blocked write waits for it, then exits 0 with the write done."""
        write(models_dir / "alpha.md", gnn_text("Alpha"))
        lock = FileLock(str(out / "model_registry.sqlite3.lock"))
        env = {"GNN_REGISTRY_LOCK_TIMEOUT": "120"}
        with lock, running_daemon(["--settle-ms", "100", models_dir], output_dir=out,
                                  env=env, ready=False) as d:
            d.wait_log("reconcile_started", reason="startup")
            d.send(signal.SIGINT)
            d.wait_log("service_stopping")
            assert d.proc.poll() is None  # still waiting on the lock we hold
            lock.release()
            assert d.wait_exit() == 0
        assert "alpha" in registry_doc(out).models

    def test_second_sigint_exits_at_once(self, models_dir: Path, out: Path) -> None:
        """A second SIGINT exits with 130 even while a registry write is blocked."""
        write(models_dir / "alpha.md", gnn_text("Alpha"))
        lock = FileLock(str(out / "model_registry.sqlite3.lock"))
        env = {"GNN_REGISTRY_LOCK_TIMEOUT": "120"}
        with lock, running_daemon(["--settle-ms", "100", models_dir], output_dir=out,
                                  env=env, ready=False) as d:
            d.wait_log("reconcile_started", reason="startup")
            d.send(signal.SIGINT)
            d.wait_log("service_stopping")
            d.send(signal.SIGINT)
            assert d.wait_exit(timeout=20) == 130
            assert lock.is_locked  # it exited while the write was still blocked
            assert d.find_logs("service_forced_exit")
        assert not (out / "model_registry.json").exists()


class TestReload:
    def test_sighup_adds_a_configured_directory(self, tmp_path: Path, models_dir: Path,
                                                out: Path) -> None:
        """After SIGHUP with a new directory in the config, files there are registered."""
        extra = tmp_path / "extra"
        extra.mkdir()
        write(extra / "before.md", gnn_text("Before"))
        config = tmp_path / "registry.toml"
        config.write_text(f'directories = ["{models_dir}"]\nsettle_ms = 100\n')
        sock = NotifySocket(tmp_path)
        try:
            env = {"NOTIFY_SOCKET": str(sock.path)}
            with running_daemon(["--config", config], output_dir=out, env=env) as d:
                ready = sock.wait_for("READY=1")
                assert "before" not in registry_doc(out).models
                config.write_text(f'directories = ["{models_dir}", "{extra}"]\n'
                                  "settle_ms = 100\n")
                d.send(signal.SIGHUP)
                reloading = sock.wait_for("RELOADING=1", after=ready)
                sock.wait_for("READY=1", after=reloading)
                d.wait_registry(lambda doc: "before" in doc.models, what="reconciled file")
                write(extra / "after.md", gnn_text("After"))
                d.wait_registry(lambda doc: "after" in doc.models, what="watched new dir")
                d.wait_log("config_reloaded", added=[str(extra)])
        finally:
            sock.close()

    def test_sighup_with_broken_config_keeps_running(self, tmp_path: Path, models_dir: Path,
                                                     out: Path) -> None:
        """A reload with an invalid config is refused, logged, and the old config stays."""
        config = tmp_path / "registry.toml"
        config.write_text(f'directories = ["{models_dir}"]\nsettle_ms = 100\n')
        with running_daemon(["--config", config], output_dir=out) as d:
            config.write_text("directories = [unquoted\n")
            d.send(signal.SIGHUP)
            failed = d.wait_log("reload_failed")
            assert "TOML" in failed["error"]
            write(models_dir / "alpha.md", gnn_text("Alpha"))
            d.wait_registry(lambda doc: "alpha" in doc.models, what="still watching")
            d.send(signal.SIGTERM)
            assert d.wait_exit() == 0

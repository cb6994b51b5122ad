"""The service's derived files (view, backups) are written off the save path, and its start
does the database check that the first save used to pay for.

Real ``gnn-registryd`` subprocesses and real inotify; a derived write is held (not failed) at
one call with ``tests/helpers/faultinject`` (``STEP HOLD``), so "in progress" is a fact the test
observes, never a timing guess. The last class drives :meth:`RegistryStore.flush_background`
in-process to interleave a write by another store with the background view's read.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from daemon.derived import DerivedWriter
from registry.config import Config
from registry.storage import background
from registry.storage.store import RegistryStore
from tests.helpers import make_entry
from tests.helpers.daemon import Daemon, console_script, gnn_text, running_daemon, wait_until, write
from tests.helpers.faults import MATCHERS, Injector

REPO = Path(__file__).resolve().parents[1]
FAULTINJECT = Path(__file__).resolve().parent / "helpers" / "faultinject"


def backup_files(out: Path) -> list[Path]:
    """The finished backups in ``out/backups`` (plain or gzip-compressed; no temp files)."""
    return [p for p in (out / "backups").glob("*.sqlite3*")
            if not p.name.startswith(".") and p.name.endswith((".sqlite3", ".sqlite3.gz"))]


def view_models(out: Path) -> set[str]:
    """Model ids in the JSON view (empty when there is none yet)."""
    try:
        return set(json.loads((out / "model_registry.json").read_bytes())["models"])
    except (OSError, ValueError):
        return set()


def view_generation(out: Path) -> int:
    """The generation the JSON view was written from (-1: no view)."""
    try:
        return int(json.loads((out / "model_registry.json").read_bytes())["generation"])
    except (OSError, ValueError):
        return -1


def processed(daemon: Daemon, name: str, after: int) -> dict[str, Any]:
    """Wait for the ``file_processed`` line of the file called ``name``."""
    def find() -> dict[str, Any] | None:
        for event in daemon.events()[after:]:
            if (event.get("event") == "file_processed"
                    and str(event.get("path", "")).endswith(os.sep + name)):
                return event
        return None
    return dict(wait_until(find, what=f"file_processed for {name}"))


def fault_env(control: Path) -> dict[str, str]:
    return {"PYTHONPATH": f"{FAULTINJECT}{os.pathsep}{REPO}",
            "GNNR_FAULT_CONTROL": str(control)}


class TestSavesDoNotWaitForDerivedFiles:
    @pytest.mark.parametrize("step", ["view_write", "backup_fsync"])
    def test_a_save_is_acknowledged_while_a_derived_write_is_held(
            self, tmp_path: Path, step: str) -> None:
        """The startup commit's view (or backup) write is held mid-way; a save made then is
        committed and acknowledged all the same, and the held file follows once released."""
        models, out, control = tmp_path / "models", tmp_path / "out", tmp_path / "fault"
        held = Path(f"{control}.held")
        write(models / "alpha.md", gnn_text("Alpha"))
        control.write_text(f"{step} HOLD\n")
        with running_daemon(["--settle-ms", "100", models], output_dir=out,
                            env=fault_env(control)) as daemon:
            wait_until(held.exists, what=f"the {step} to be held")
            mark = daemon.log_count()
            write(models / "beta.md", gnn_text("Beta"))
            event = processed(daemon, "beta.md", mark)
            assert event["status"] not in ("invalid", "error")
            assert held.read_text() == step  # still held: the save did not wait for it
            assert "beta" in daemon.registry().models
            assert "beta" not in view_models(out)
            control.unlink()
            wait_until(lambda: "beta" in view_models(out), what="beta in the view")
            if step == "backup_fsync":
                wait_until(lambda: backup_files(out),
                           what="the held backup")
            assert daemon.stop() == 0
        assert not held.exists()
        assert list(out.rglob(".*.tmp")) == []
        assert list(out.rglob("*.staged")) == []

    def test_the_view_follows_saves_and_holds_every_change_after_stop(
            self, tmp_path: Path) -> None:
        """The view catches up with a save by itself, and after SIGTERM it holds the last
        acknowledged save's generation."""
        models, out = tmp_path / "models", tmp_path / "out"
        write(models / "alpha.md", gnn_text("Alpha"))
        with running_daemon(["--settle-ms", "50", models], output_dir=out) as daemon:
            mark = daemon.log_count()
            write(models / "beta.md", gnn_text("Beta"))
            processed(daemon, "beta.md", mark)
            wait_until(lambda: "beta" in view_models(out), what="beta in the view")
            mark = daemon.log_count()
            write(models / "gamma.md", gnn_text("Gamma"))
            processed(daemon, "gamma.md", mark)
            assert daemon.stop() == 0
        store = RegistryStore(Config(output_dir=out))
        assert {"alpha", "beta", "gamma"} <= view_models(out)
        assert view_generation(out) == store.load().generation


class TestKeptWriterConnection:
    def test_a_restore_by_another_process_is_followed_by_the_next_save(
            self, tmp_path: Path) -> None:
        """The service keeps its writer connection open between batches; after
        ``gnn-registry restore`` (in another process) the next save is committed on top of
        the restored registry."""
        models, out = tmp_path / "models", tmp_path / "out"
        write(models / "alpha.md", gnn_text("Alpha"))
        with running_daemon(["--settle-ms", "50", models], output_dir=out) as daemon:
            wait_until(lambda: backup_files(out), what="a backup")
            mark = daemon.log_count()
            write(models / "beta.md", gnn_text("Beta"))
            processed(daemon, "beta.md", mark)
            restored = subprocess.run(
                [str(console_script("gnn-registry")), "restore", "--latest",
                 "--output-dir", str(out)], capture_output=True, text=True, timeout=60,
                check=False)
            assert restored.returncode == 0, restored.stderr
            assert "beta" not in daemon.registry().models  # the backup predates beta
            mark = daemon.log_count()
            write(models / "gamma.md", gnn_text("Gamma"))
            processed(daemon, "gamma.md", mark)
            assert daemon.stop() == 0
        assert {"alpha", "gamma"} <= set(RegistryStore(Config(output_dir=out)).load().models)

    def test_a_database_deleted_under_the_service_is_restored_by_the_next_save(
            self, tmp_path: Path) -> None:
        """The database file (and its WAL) deleted while the service runs: the next save is
        not committed into the deleted file through the kept connection; the registry is
        restored from its backup and the save lands in it."""
        models, out = tmp_path / "models", tmp_path / "out"
        write(models / "alpha.md", gnn_text("Alpha"))
        with running_daemon(["--settle-ms", "50", models], output_dir=out) as daemon:
            wait_until(lambda: backup_files(out), what="a backup")
            for suffix in ("", "-wal", "-shm"):
                (out / f"model_registry.sqlite3{suffix}").unlink(missing_ok=True)
            mark = daemon.log_count()
            write(models / "gamma.md", gnn_text("Gamma"))
            processed(daemon, "gamma.md", mark)
            assert daemon.find_logs("registry_restored_from_backup", after=mark)
            assert daemon.stop() == 0
        assert {"alpha", "gamma"} <= set(RegistryStore(Config(output_dir=out)).load().models)


def corrupt_a_page(database: Path) -> None:
    """Overwrite the middle pages of a database with garbage (its header stays readable)."""
    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    finally:
        conn.close()
    assert pages > 4
    with database.open("r+b") as handle:
        handle.seek(2 * page_size)
        handle.write(b"\xa5" * page_size * (pages - 3))


class TestCheckAtStart:
    def test_a_corrupt_database_is_restored_before_the_service_is_ready(
            self, tmp_path: Path) -> None:
        """A database that fails ``quick_check`` while nothing changed in the watched folder
        is set aside and restored from its backup at start, before ``service_started`` (not
        on the first save)."""
        models, out = tmp_path / "models", tmp_path / "out"
        for name in ("alpha", "beta", "gamma"):
            write(models / f"{name}.md", gnn_text(name.title()))
        with running_daemon(["--settle-ms", "50", models], output_dir=out) as daemon:
            wait_until(lambda: backup_files(out), what="a backup")
            assert daemon.stop() == 0
        database = out / "model_registry.sqlite3"
        corrupt_a_page(database)
        with running_daemon(["--settle-ms", "50", models], output_dir=out) as daemon:
            started = daemon.wait_log("service_started")
            names = [e.get("event") for e in daemon.events()]
            assert "registry_restored_from_backup" in names
            assert "registry_checked" in names
            assert names.index("registry_checked") < names.index("service_started")
            assert started["models"] == 3
            assert list(out.glob("model_registry.sqlite3.corrupt-*"))
            mark = daemon.log_count()
            write(models / "delta.md", gnn_text("Delta"))
            processed(daemon, "delta.md", mark)
            assert daemon.stop() == 0
        assert {"alpha", "beta", "gamma", "delta"} <= set(
            RegistryStore(Config(output_dir=out)).load().models)


def add_model(store: RegistryStore, model_id: str) -> None:
    """Register ``model_id`` through the store's own transaction (like a CLI command)."""
    with store.transaction(actor="test") as doc:
        doc.models[model_id] = make_entry(model_id)


class TestBackgroundView:
    def test_a_newer_view_written_meanwhile_is_not_replaced(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """While the background view is being read, another writer commits and writes its
        own (newer) view: the older staged one is dropped, the newer one stays."""
        monkeypatch.setattr(background, "PAUSE_STEPS", 10)  # pause at once (a tiny registry)
        service = RegistryStore(Config(output_dir=tmp_path))
        service.write_view_now = False
        service.derived_in_background = True
        add_model(service, "a")
        other = RegistryStore(Config(output_dir=tmp_path))
        calls: list[int] = []

        def meanwhile() -> None:
            if not calls:
                add_model(other, "b")  # commits and writes its view
            calls.append(1)

        service.flush_background(final=True, pause=meanwhile)
        assert calls
        assert view_models(tmp_path) == {"a", "b"}
        assert view_generation(tmp_path) == other.load().generation
        assert list(tmp_path.glob("*.staged")) == []

    def test_the_background_view_is_installed_and_commits_only_mark_it_due(
            self, tmp_path: Path) -> None:
        """In background mode a commit writes no view; ``flush_background`` then does."""
        service = RegistryStore(Config(output_dir=tmp_path))
        service.write_view_now = False
        service.derived_in_background = True
        add_model(service, "a")
        assert not (tmp_path / "model_registry.json").exists()
        assert service.backups() == []
        service.flush_background(final=True)
        assert view_models(tmp_path) == {"a"}
        assert [b.generation for b in service.backup_list()] == [1]


def background_store(directory: Path) -> RegistryStore:
    """A store configured like the service's (derived files written by another thread)."""
    store = RegistryStore(Config(output_dir=directory))
    store.write_view_now = False
    store.derived_in_background = True
    store.backup_interval = 3600.0
    return store


class TestDerivedWriterThread:
    def test_a_worker_that_stays_busy_does_not_starve_the_derived_files(
            self, tmp_path: Path) -> None:
        """``busy()`` never turns false: the view and metadata files are written anyway."""
        store = background_store(tmp_path)
        add_model(store, "a")
        writer = DerivedWriter(store, tick=0.01, busy=lambda: True)
        writer.start()
        try:
            wait_until(lambda: "a" in view_models(tmp_path), what="the view")
            wait_until(store.metadata_path("a").exists, what="a's metadata file")
        finally:
            writer.stop()
            writer.join(30)
        assert not writer.is_alive()
        assert writer.failures == 0

    def test_stop_writes_what_is_due(self, tmp_path: Path) -> None:
        """A thread that never got to a tick still writes everything due when stopped."""
        store = background_store(tmp_path)
        add_model(store, "a")
        add_model(store, "b")
        writer = DerivedWriter(store, tick=3600.0)
        writer.start()
        assert not (tmp_path / "model_registry.json").exists()
        writer.stop()
        writer.join(30)
        assert view_models(tmp_path) == {"a", "b"}
        assert view_generation(tmp_path) == store.load().generation
        assert store.metadata_path("b").exists()
        assert [b.generation for b in store.backup_list()] == [2]

    def test_a_failed_view_write_is_logged_and_written_on_a_later_tick(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENOSPC while writing the view: ``derived_write_failed``, no temp file left, the
        view stays due and is written once the fault clears."""
        store = background_store(tmp_path)
        add_model(store, "a")
        injector = Injector(monkeypatch)
        name, match = MATCHERS["view_write"]
        injector.fail(name, errno.ENOSPC, match)
        writer = DerivedWriter(store, tick=0.01)
        with capture_logs() as logs:
            writer.start()
            try:
                wait_until(lambda: writer.failures > 0, what="a failed view write")
                injector.undo()
                wait_until(lambda: "a" in view_models(tmp_path), what="the view")
            finally:
                writer.stop()
                writer.join(30)
        failed = [e for e in logs if e["event"] == "derived_write_failed"]
        assert failed
        assert "no space left" in failed[0]["error"].lower()
        assert list(tmp_path.glob(".*.tmp")) == []
        assert list(tmp_path.glob("*.staged*")) == []

    def test_after_a_reload_the_previous_store_s_due_files_are_written(
            self, tmp_path: Path) -> None:
        """``set_target`` (SIGHUP): what the previous store still had due is written too."""
        old = background_store(tmp_path / "old")
        add_model(old, "a")
        writer = DerivedWriter(old, tick=3600.0)  # no tick: only the final flush writes
        writer.start()
        new = background_store(tmp_path / "new")
        add_model(new, "b")
        writer.set_target(new)
        writer.stop()
        writer.join(30)
        assert view_models(tmp_path / "old") == {"a"}
        assert view_models(tmp_path / "new") == {"b"}
        assert writer.failures == 0

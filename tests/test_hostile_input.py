"""Hostile input: each file gets a clear finding or a logged skip; no traceback, no hang."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from registry.config import Config
from registry.model.ids import is_safe_id
from registry.scanning.scan import Scanner
from registry.storage.store import RegistryStore
from tests.helpers.daemon import console_script, gnn_text, running_daemon, write
from tests.helpers.faults import Injector
from tests.helpers.hostile import MAX_FILE_SIZE, build_hostile_tree

SCAN_TIMEOUT = 120.0
"""A scan that blocks on a FIFO fails the test by this timeout instead of hanging it."""


def run_scan(out: Path, root: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``gnn-registryd --scan --json`` as a subprocess with a timeout; (result, summary)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNN_REGISTRY_")}
    env["GNN_REGISTRY_MAX_FILE_SIZE"] = str(MAX_FILE_SIZE)
    result = subprocess.run(
        [str(console_script()), "--scan", "--json", "--log-level", "debug", "--output-dir",
         str(out), str(root)], capture_output=True, text=True, env=env,
        timeout=SCAN_TIMEOUT, check=False)
    return result, json.loads(result.stdout)


def log_events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines of a ``--scan`` run (every line must parse)."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def outcome_by_name(root: Path, summary: dict[str, Any],
                    events: list[dict[str, Any]]) -> dict[str, str]:
    """File name -> status, from the summary's changes/invalid and the skip log events."""
    seen: dict[str, str] = {}
    for change in summary["changes"]:
        seen[Path(change["path"]).name] = change["status"]
    for item in summary["invalid"]:
        seen[Path(item["path"]).name] = "invalid"
    for event in events:
        if event.get("event") == "file_processed" and event.get("status") == "skipped":
            path = Path(event["path"])
            if path.parent == root:
                seen[path.name] = "skipped"
    return seen


class TestScanHostile:
    def test_every_hostile_file_handled(self, tmp_path: Path) -> None:
        """--scan over the hostile folder: exit 1, no traceback, each file as expected."""
        root, out = tmp_path / "m", tmp_path / "o"
        expect = build_hostile_tree(root, tmp_path / "outside")
        result, summary = run_scan(out, root)
        assert result.returncode == 1, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        events = log_events(result.stderr)
        assert not [e for e in events if "exception" in e]
        seen = outcome_by_name(root, summary, events)
        for name, wanted in expect.items():
            got = seen.get(name, "absent")
            assert got == wanted, f"{name!r}: expected {wanted}, got {got}"
        doc = RegistryStore(Config(output_dir=out)).load()
        assert all(is_safe_id(model_id) for model_id in doc.models)
        assert not any("outside" in entry.file_path for entry in doc.models.values())
        assert not (tmp_path / "PWNED").exists()
        assert not Path("PWNED").exists()
        for item in summary["invalid"]:
            assert item["findings"], item
            assert all(f["message"] and f["code"] for f in item["findings"])
        skips = [e for e in events if e.get("status") == "skipped"
                 and Path(e["path"]).parent == root]
        assert all(e.get("message") for e in skips)
        # A second scan over the same folder mints nothing (racy-mtime stats may be re-recorded).
        again, summary2 = run_scan(out, root)
        assert again.returncode == 1
        assert summary2["counts"]["registered"] == summary2["counts"]["updated"] == 0

    def test_directory_replaced_by_a_file(self, tmp_path: Path) -> None:
        """A folder of models replaced by a file of the same name: its models become removed."""
        root, out = tmp_path / "m", tmp_path / "o"
        write(root / "group" / "inner.md", gnn_text("Inner"))
        write(root / "top.md", gnn_text("Top"))
        first, _ = run_scan(out, root)
        assert first.returncode == 0
        shutil.rmtree(root / "group")
        (root / "group").write_text("now a plain file\n")
        second, summary = run_scan(out, root)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "Traceback" not in second.stderr
        doc = RegistryStore(Config(output_dir=out)).load()
        assert doc.models["inner"].state == "removed"
        assert doc.models["top"].state == "active"
        assert any(c["status"] == "removed" for c in summary["changes"])


class TestInProcessRaces:
    def test_unreadable_file_is_reported(self, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
        """EACCES on one file: an ``error`` outcome naming it; the other files register."""
        root = tmp_path / "m"
        write(root / "ok.md", gnn_text("Ok"))
        locked = write(root / "locked.md", gnn_text("Locked"))
        inject = Injector(monkeypatch)
        inject.fail("open", errno.EACCES, lambda path, *_: os.fspath(path) == str(locked))
        report = Scanner(Config(output_dir=tmp_path / "o")).reconcile([root])
        inject.undo()
        assert inject.hits >= 1
        statuses = {Path(o.path).name: o for o in report.outcomes}
        assert statuses["locked.md"].status == "error"
        assert "permission denied" in statuses["locked.md"].message
        assert statuses["ok.md"].status == "registered"
        assert report.exit_code == 1

    def test_file_vanishing_between_stat_and_open(self, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        """A file deleted between the event and the read: no exception, no model for it."""
        root, out = tmp_path / "m", tmp_path / "o"
        write(root / "ok.md", gnn_text("Ok"))
        ghost = write(root / "ghost.md", gnn_text("Ghost"))
        inject = Injector(monkeypatch)

        def vanish(path: object, *_: object) -> bool:
            if os.fspath(path) == str(ghost):  # type: ignore[call-overload]
                ghost.unlink(missing_ok=True)
                return True
            return False

        inject.fail("open", errno.ENOENT, vanish)
        config = Config(output_dir=out, directories=(root,))
        report = Scanner(config).process_paths([ghost, root / "ok.md"])
        inject.undo()
        assert inject.hits >= 1  # the lock-free pass and the transaction both look
        names = {Path(o.path).name: o.status for o in report.outcomes}
        assert names["ok.md"] == "registered"
        assert "ghost" not in RegistryStore(config).load().models

    def test_batch_after_directory_became_a_file(self, tmp_path: Path) -> None:
        """Regression: a batch naming ``dir/x.md`` after ``dir`` became a file removes x."""
        root, out = tmp_path / "m", tmp_path / "o"
        inner = write(root / "grp" / "inner.md", gnn_text("Inner"))
        config = Config(output_dir=out, directories=(root,))
        Scanner(config).process_paths([inner])
        shutil.rmtree(root / "grp")
        (root / "grp").write_text("plain file\n")
        report = Scanner(config).process_paths([inner, root / "grp"])
        assert [o.status for o in report.outcomes] == ["removed"]
        assert RegistryStore(config).load().models["inner"].state == "removed"

    def test_batch_of_deleted_paths(self, tmp_path: Path) -> None:
        """The service's batch naming paths that no longer exist is handled quietly."""
        root, out = tmp_path / "m", tmp_path / "o"
        write(root / "ok.md", gnn_text("Ok"))
        config = Config(output_dir=out, directories=(root,))
        report = Scanner(config).process_paths([root / "gone.md", root / "gone_dir",
                                                root / "ok.md"])
        assert [o.status for o in report.outcomes] == ["registered"]


class TestServiceHostile:
    def test_service_survives_hostile_folder(self, tmp_path: Path) -> None:
        """Hostile files dropped into a watched folder: the service logs, registers, lives."""
        root, out = tmp_path / "m", tmp_path / "o"
        root.mkdir()
        env = {"GNN_REGISTRY_MAX_FILE_SIZE": str(MAX_FILE_SIZE)}
        with running_daemon(["--settle-ms", "100", "--log-level", "debug", root],
                            output_dir=out, env=env) as daemon:
            expect = build_hostile_tree(root, tmp_path / "outside")
            # Replace a directory by a file while the service watches.
            write(root / "grp" / "inner.md", gnn_text("Inner"))
            daemon.wait_registry(lambda d: "inner" in d.models)
            shutil.rmtree(root / "grp")
            (root / "grp").write_text("plain file\n")
            # Created and deleted before it can settle.
            write(root / "flash.md", gnn_text("Flash")).unlink()
            registered = {n for n, o in expect.items() if o == "registered"}
            daemon.wait_registry(
                lambda d: {Path(e.file_path).name for e in d.models.values()} >= registered,
                what="every valid hostile-named file", timeout=60)
            write(root / "barrier.md", gnn_text("Barrier"))
            doc = daemon.wait_registry(lambda d: "barrier" in d.models
                                       and d.models["inner"].state == "removed",
                                       what="barrier and removal")
            assert daemon.stop() == 0
        events = daemon.events()
        assert not [e for e in events if "exception" in e]
        assert not [line for line in daemon.stderr if "Traceback" in line]
        names = {Path(e.file_path).name for e in doc.models.values()}
        absent = {n for n, o in expect.items() if o in ("absent", "skipped", "invalid")}
        assert not names & absent
        assert "flash" not in doc.models or doc.models["flash"].state == "removed"
        assert all(is_safe_id(model_id) for model_id in doc.models)

"""Issue 12, items 6 and 18: the service refuses a bad reload and logs in a readable order.

The real ``gnn-registryd`` runs as a subprocess on real directories with the real observer;
every wait is a condition with a deadline (:mod:`tests.helpers.daemon`).
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.helpers.daemon import INVALID_GNN, gnn_text, running_daemon, write


class TestReloadRefusesMissingDirectory:
    """Item 6: SIGHUP with a directory that does not exist keeps the old config."""

    def test_missing_directory_is_refused_and_the_real_one_still_watched(
        self, tmp_path: Path,
    ) -> None:
        """reload_failed names the directory; edits in the old directory still register."""
        models, out = tmp_path / "models", tmp_path / "out"
        models.mkdir()
        config = tmp_path / "registry.toml"
        config.write_text(f'directories = ["{models}"]\nsettle_ms = 50\n', encoding="utf-8")
        with running_daemon(["--config", config], output_dir=out) as d:
            typo = tmp_path / "modles"
            config.write_text(f'directories = ["{typo}"]\nsettle_ms = 50\n', encoding="utf-8")
            d.send(signal.SIGHUP)
            failed = d.wait_log("reload_failed")
            assert f"{typo} does not exist" in failed["error"]
            assert not d.find_logs("config_reloaded")
            write(models / "alpha.md", gnn_text("Alpha"))
            d.wait_registry(lambda doc: "alpha" in doc.models, what="the old dir still watched")
            d.send(signal.SIGTERM)
            assert d.wait_exit() == 0


class TestServiceLogs:
    """Item 18: per-file events before their batch's event, no empty batches at info, and
    an invalid file's log line says why."""

    def test_log_order_and_content(self, tmp_path: Path) -> None:
        """file_processed precedes batch_processed; registry_written and empty batches are
        not at info; invalid files carry their messages."""
        models, out = tmp_path / "models", tmp_path / "out"
        models.mkdir()
        with running_daemon(["--settle-ms", "50", models], output_dir=out) as d:
            (models / "empty-folder").mkdir()  # a batch in which nothing happens
            write(models / "alpha.md", gnn_text("Alpha"))
            d.wait_log("batch_processed", counts={"registered": 1})
            write(models / "broken.md", INVALID_GNN)
            invalid = d.wait_log("file_processed", status="invalid")
            d.wait_log("batch_processed", counts={"invalid": 1})
            d.send(signal.SIGTERM)
            assert d.wait_exit() == 0
            events = d.events()
        assert invalid["findings"]["GNN-E001"] >= 1
        assert any("is missing" in problem for problem in invalid["problems"])
        assert not [e for e in events if e["event"] == "registry_written"]
        batches = [e for e in events if e["event"] == "batch_processed"]
        assert batches
        assert all(b["counts"] for b in batches), batches
        names = [e["event"] for e in events]
        for batch in batches:
            end = events.index(batch)
            mine = [i for i, e in enumerate(events)
                    if e["event"] == "file_processed" and e.get("batch") == batch["batch"]]
            assert mine, (batch, names)
            assert max(mine) < end

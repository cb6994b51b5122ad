"""The scan cache: an unchanged rescan answered without the registry, and never a wrong answer.

Each test compares a rescan that may use the cache with the same rescan after the cache is
deleted (the registrar's own path): both must report the same outcomes and summary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from registry.model.lifecycle import delete_model
from registry.scanning import scancache
from registry.scanning.scan import Scanner, ScanReport
from registry.storage.store import RegistryStore
from tests.test_scan import config_for, edit, gnn_text, write

VOLATILE = ("scanned_at", "duration_ms", "from_scan_cache")


def rescan(tmp_path: Path, *roots: Path) -> ScanReport:
    return Scanner(config_for(tmp_path)).reconcile(list(roots) or [tmp_path / "models"])


def cache_file(tmp_path: Path) -> Path:
    return scancache.cache_path(tmp_path / "out" / "model_registry.json")


def comparable(report: ScanReport) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    # The summary first: a cached report computes it before its outcomes are built.
    summary = {k: v for k, v in report.to_summary().items() if k not in VOLATILE}
    notable = [(o.path, o.status) for o in report.notable()]
    outcomes = [(o.path, o.status, o.model_ids, o.version, o.change, o.message)
                for o in report.outcomes]
    assert notable == [(path, status) for path, status, *_ in outcomes if status != "unchanged"]
    assert summary["counts"] == report.counts
    return outcomes, summary


def rescan_both_ways(tmp_path: Path, *roots: Path) -> ScanReport:
    """Rescan with the cache, then without it; assert they agree; return the first."""
    registry_before = (tmp_path / "out" / "model_registry.json").read_bytes()
    cached = rescan(tmp_path, *roots)
    if cached.from_cache:
        # The answer must be what the registrar itself says about the same tree.
        assert (tmp_path / "out" / "model_registry.json").read_bytes() == registry_before
        cache_file(tmp_path).unlink()
        plain = rescan(tmp_path, *roots)
        assert not plain.from_cache
        assert not plain.wrote
        assert comparable(plain) == comparable(cached)
    return cached


def tree(tmp_path: Path) -> dict[str, Path]:
    models = tmp_path / "models"
    one, two = gnn_text("One"), gnn_text("Two")
    return {
        "agent": write(models / "agent.md", gnn_text("Agent")),
        "nested": write(models / "deep" / "nested.md", gnn_text("Nested")),
        "pair": write(models / "pair.md", f"---\nauthor: me\n---\n{one}\n---\n{two}"),
        "readme": write(models / "README.md", "# Notes\n\nNot a model.\n"),
    }


class TestShortcut:
    def test_unchanged_rescan_is_answered_by_the_cache(self, tmp_path):
        """Second scan of an unchanged tree: from the cache, same outcomes as the registrar."""
        tree(tmp_path)
        first = rescan(tmp_path)
        assert not first.from_cache
        assert cache_file(tmp_path).exists()
        report = rescan_both_ways(tmp_path)
        assert report.from_cache
        assert report.counts["unchanged"] == 3
        assert not report.wrote
        pair = next(o for o in report.outcomes if o.path.endswith("pair.md"))
        assert (pair.model_ids, pair.version) == (["pair", "pair--2"], "1.0.0")
        assert rescan(tmp_path).from_cache  # the registrar's pass wrote the cache again
        summary = json.loads((tmp_path / "out" / "model_registry_summary.json").read_text())
        assert summary["from_scan_cache"] is True
        assert summary["total_models"] == 4

    def test_a_file_not_a_model_is_read_again_once_it_changes(self, tmp_path):
        """README.md: skipped from the cache while unchanged; read again once it changes."""
        paths = tree(tmp_path)
        rescan(tmp_path)
        assert rescan_both_ways(tmp_path).counts["skipped"] == 1
        write(paths["readme"], gnn_text("Readme turned model"))
        report = rescan(tmp_path)
        assert not report.from_cache
        assert report.counts["registered"] == 1

    def test_fifo_is_reported_from_the_cache_too(self, tmp_path):
        """Discovery's own problems (a FIFO named like a model) do not need the registry."""
        tree(tmp_path)
        os.mkfifo(tmp_path / "models" / "pipe.md")
        rescan(tmp_path)
        report = rescan_both_ways(tmp_path)
        assert report.from_cache
        assert [o.status for o in report.outcomes if o.path.endswith("pipe.md")] == ["skipped"]

    def test_deleted_model_is_skipped_the_same_way(self, tmp_path):
        """A model deleted from the registry whose file stays: ``skipped`` from the cache too."""
        tree(tmp_path)
        rescan(tmp_path)
        config = config_for(tmp_path)
        with RegistryStore(config).transaction(actor="tester") as doc:
            delete_model(doc, "agent", actor="tester")
        assert not rescan(tmp_path).from_cache  # the registry moved on: stale cache
        report = rescan_both_ways(tmp_path)
        assert report.from_cache
        agent = next(o for o in report.outcomes if o.path.endswith("agent.md"))
        assert (agent.status, agent.model_ids) == ("skipped", ["agent"])


class TestFallsBack:
    def test_edit_is_seen(self, tmp_path):
        paths = tree(tmp_path)
        rescan(tmp_path)
        edit(paths["agent"], gnn_text("Agent", annotation="Edited."))
        report = rescan(tmp_path)
        assert not report.from_cache
        assert report.counts["updated"] == 1

    def test_touch_is_seen_and_changes_nothing(self, tmp_path):
        paths = tree(tmp_path)
        rescan(tmp_path)
        edit(paths["agent"], paths["agent"].read_text(encoding="utf-8"))  # same bytes, new mtime
        report = rescan(tmp_path)
        assert not report.from_cache
        assert report.counts == {**report.counts, "unchanged": 3, "updated": 0}

    def test_vanished_file_is_removed(self, tmp_path):
        paths = tree(tmp_path)
        rescan(tmp_path)
        paths["nested"].unlink()
        report = rescan(tmp_path)
        assert not report.from_cache
        assert [o.model_ids for o in report.outcomes if o.status == "removed"] == [["nested"]]

    def test_new_file_is_registered(self, tmp_path):
        tree(tmp_path)
        rescan(tmp_path)
        write(tmp_path / "models" / "new.md", gnn_text("New"))
        report = rescan(tmp_path)
        assert not report.from_cache
        assert report.counts["registered"] == 1

    def test_new_root_is_recorded(self, tmp_path):
        tree(tmp_path)
        rescan(tmp_path)
        other = tmp_path / "other"
        write(other / "x.md", gnn_text("X"))
        report = rescan(tmp_path, tmp_path / "models", other)
        assert not report.from_cache
        assert report.counts["registered"] == 1

    def test_invalid_file_is_reported_on_every_scan(self, tmp_path):
        tree(tmp_path)
        write(tmp_path / "models" / "bad.md", gnn_text("Bad", params=("A={(0.5,0.5)}",)))
        first = rescan(tmp_path)
        assert first.exit_code == 1
        for _ in range(2):
            report = rescan(tmp_path)
            assert not report.from_cache
            assert report.exit_code == 1
            assert report.counts["invalid"] == 1

    def test_fresh_file_is_not_trusted(self, tmp_path):
        """A file written within the racy window is re-hashed, so it is never in the cache."""
        tree(tmp_path)
        write(tmp_path / "models" / "fresh.md", gnn_text("Fresh"), age=0)
        rescan(tmp_path)
        cache = json.loads(cache_file(tmp_path).read_text(encoding="utf-8"))
        assert str(tmp_path / "models" / "fresh.md") not in cache["files"]
        assert not rescan(tmp_path).from_cache

    def test_garbage_cache_is_ignored_and_rewritten(self, tmp_path):
        tree(tmp_path)
        rescan(tmp_path)
        for garbage in (b"\x00\xff not json", b"[]", b'{"format": 1, "files": {}, "watched": []}',
                        json.dumps({**json.loads(cache_file(tmp_path).read_bytes()),
                                    "files": {"x": [1]}}).encode()):
            cache_file(tmp_path).write_bytes(garbage)
            report = rescan(tmp_path)
            assert report.counts["unchanged"] == 3
        assert rescan(tmp_path).from_cache

    @pytest.mark.parametrize("spoil", [
        lambda entry: entry.replace("\tunchanged\t", "\tregistered\t"),  # unknown status
        lambda entry: entry.split("\t")[0] + "\t",  # no status at all
        lambda entry: entry.split("\t"),  # a list, the layout of format 1
        lambda entry: None,
    ])
    def test_cached_entry_of_a_wrong_shape_is_ignored(self, tmp_path, spoil):
        tree(tmp_path)
        rescan(tmp_path)
        cache = json.loads(cache_file(tmp_path).read_bytes())
        cache["files"] = {path: spoil(entry) for path, entry in cache["files"].items()}
        cache_file(tmp_path).write_text(json.dumps(cache), encoding="utf-8")
        report = rescan(tmp_path)
        assert not report.from_cache
        assert report.counts["unchanged"] == 3
        assert rescan(tmp_path).from_cache  # rewritten by the registrar's pass

    def test_missing_registry_disables_the_cache(self, tmp_path):
        tree(tmp_path)
        rescan(tmp_path)
        (tmp_path / "out" / "model_registry.sqlite3").unlink()
        for backup in (tmp_path / "out" / "backups").glob("model_registry.*.sqlite3*"):
            backup.unlink()
        report = rescan(tmp_path)
        assert not report.from_cache
        assert report.counts["registered"] == 3

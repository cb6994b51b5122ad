"""Scans over time: stable ids, moves, deletions, reappearance, recovery, service batches."""

from __future__ import annotations

import shutil
from pathlib import Path

from registry.model.lifecycle import delete_model
from registry.scanning.scan import Scanner
from registry.storage.store import RegistryStore
from tests.test_scan import config_for, edit, events, gnn_text, load, scan, write


class TestIds:
    def test_same_stem_in_two_folders(self, tmp_path):
        """Two files with one stem get two ids, which stay put on rescans."""
        first = write(tmp_path / "models" / "multiagent" / "coord.md", gnn_text("One"))
        write(tmp_path / "models" / "other" / "coord.md", gnn_text("Two"))
        report = scan(tmp_path)
        assert [o.model_ids for o in report.outcomes] == [["coord"], ["other__coord"]]
        scan(tmp_path)
        doc = load(tmp_path)
        assert doc.models["coord"].file_path == str(first)
        assert doc.models["other__coord"].model_name == "Two"

    def test_ids_stay_after_delete_and_recreate(self, tmp_path):
        """Deleting and re-creating the first file gives it back its own id, never the other's."""
        first = write(tmp_path / "models" / "a" / "coord.md", gnn_text("One"))
        write(tmp_path / "models" / "b" / "coord.md", gnn_text("Two"))
        scan(tmp_path)
        first.unlink()
        report = scan(tmp_path)
        assert [(o.status, o.model_ids) for o in report.outcomes] == [
            ("unchanged", ["b__coord"]), ("removed", ["coord"])]
        write(first, gnn_text("One"))
        report = scan(tmp_path)
        assert [(o.status, o.model_ids) for o in report.outcomes] == [
            ("restored", ["coord"]), ("unchanged", ["b__coord"])]
        doc = load(tmp_path)
        assert sorted(doc.models) == ["b__coord", "coord"]
        assert doc.models["b__coord"].model_name == "Two"

    def test_new_file_at_a_removed_path_with_new_content(self, tmp_path):
        """A file re-created at its old path with new content continues its model's history."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        path.unlink()
        scan(tmp_path)
        write(path, gnn_text(annotation="Changed while away."))
        out = scan(tmp_path).outcomes[0]
        assert (out.model_ids, out.version) == (["m"], "1.0.1")
        doc = load(tmp_path)
        assert doc.models["m"].state == "active"
        assert events(doc, "m") == ["registered", "removed", "restored", "version_added"]


class TestMoves:
    def test_rename_keeps_id_and_history(self, tmp_path):
        """A renamed file keeps its id, gets a renamed event and a renamed_from relationship."""
        old = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        new = tmp_path / "models" / "sub" / "renamed.md"
        new.parent.mkdir()
        old.rename(new)
        report = scan(tmp_path)
        assert [(o.status, o.model_ids) for o in report.outcomes] == [("renamed", ["m"])]
        doc = load(tmp_path)
        entry = doc.models["m"]
        assert sorted(doc.models) == ["m"]
        assert entry.file_path == str(new)
        assert entry.state == "active"
        assert entry.history[-1].event == "renamed"
        assert entry.history[-1].details == {"from": str(old), "to": str(new)}
        assert ("renamed_from", str(old)) in [(r.type, r.target) for r in entry.relationships]

    def test_copy_is_a_new_model(self, tmp_path):
        """A copy of an active model at another existing path gets its own id."""
        src = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        shutil.copy2(src, tmp_path / "models" / "copy.md")
        report = scan(tmp_path)
        statuses = {Path(o.path).name: o.status for o in report.outcomes}
        assert statuses == {"copy.md": "registered", "m.md": "unchanged"}
        assert sorted(load(tmp_path).models) == ["copy", "m"]

    def test_delete_then_recreate_elsewhere_is_a_move(self, tmp_path):
        """A removed model whose content shows up at a new path returns under its id."""
        old = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        text = old.read_text()
        old.unlink()
        assert scan(tmp_path).outcomes[0].status == "removed"
        write(tmp_path / "models" / "again.md", text)
        out = scan(tmp_path).outcomes[0]
        assert (out.status, out.model_ids) == ("renamed", ["m"])
        doc = load(tmp_path)
        assert doc.models["m"].state == "active"
        assert events(doc, "m") == ["registered", "removed", "renamed", "restored"]

    def test_files_outside_scanned_roots_are_not_removed(self, tmp_path):
        """A scan of one root never marks models of another root removed."""
        write(tmp_path / "one" / "a.md", gnn_text("A"))
        write(tmp_path / "two" / "b.md", gnn_text("B"))
        scan(tmp_path, tmp_path / "one", tmp_path / "two")
        report = scan(tmp_path, tmp_path / "one")
        assert [o.status for o in report.outcomes] == ["unchanged"]
        assert load(tmp_path).models["b"].state == "active"


class TestMultiModel:
    def test_model_dropped_from_a_file_is_removed(self, tmp_path):
        """When a multi-model file loses its second model, that model is marked removed."""
        path = write(tmp_path / "models" / "pair.md",
                     f"{gnn_text('One')}\n---\n{gnn_text('Two')}")
        scan(tmp_path)
        edit(path, gnn_text("One"))
        report = scan(tmp_path)
        assert report.outcomes[0].model_ids == ["pair"]
        doc = load(tmp_path)
        assert (doc.models["pair"].state, doc.models["pair--2"].state) == ("active", "removed")


class TestTombstones:
    def test_deleted_model_stays_deleted_until_its_file_changes(self, tmp_path):
        """A deleted model's unchanged file is skipped; new content revives it (new version)."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        store = RegistryStore(config_for(tmp_path))
        with store.transaction() as doc:
            delete_model(doc, "m", actor="tester")
        out = scan(tmp_path).outcomes[0]
        assert (out.status, out.message.startswith("deleted")) == ("skipped", True)
        edit(path, gnn_text(annotation="Back again."))
        out = scan(tmp_path).outcomes[0]
        assert (out.status, out.model_ids, out.version) == ("updated", ["m"], "1.0.1")
        assert not load(tmp_path).models["m"].deleted


class TestRecovery:
    def test_truncated_registry_loses_no_history(self, tmp_path):
        """After the database file is truncated, the next scan recovers it from a backup."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        edit(path, gnn_text(annotation="Second version."))
        scan(tmp_path)
        edit(path, gnn_text(annotation="Third version."))
        scan(tmp_path)
        registry = tmp_path / "out" / "model_registry.sqlite3"
        assert not registry.with_name(registry.name + "-wal").exists()  # checkpointed
        with registry.open("r+b") as handle:
            handle.truncate(100)
        report = scan(tmp_path)
        assert report.outcomes[0].status in ("unchanged", "updated")
        versions = [v.version for v in load(tmp_path).models["m"].versions]
        assert versions[:2] == ["1.0.0", "1.0.1"]
        assert versions[-1] == "1.0.2"
        assert len(set(versions)) == len(versions)
        assert list((tmp_path / "out").glob("model_registry.sqlite3.corrupt-*"))


class TestProcessPaths:
    def scanner(self, tmp_path) -> Scanner:
        return Scanner(config_for(tmp_path, directories=[tmp_path / "models"]), actor="service")

    def test_batch_of_files_and_deletions(self, tmp_path):
        """A batch registers new files, ignores editor files and removes deleted ones."""
        a = write(tmp_path / "models" / "a.md", gnn_text("A"))
        swap = write(tmp_path / "models" / ".a.md.swp", "junk")
        probe = write(tmp_path / "models" / "4913", "")
        scanner = self.scanner(tmp_path)
        report = scanner.process_paths([a, swap, probe])
        assert [(o.status, o.model_ids) for o in report.outcomes] == [("registered", ["a"])]
        assert load(tmp_path).models["a"].history[0].actor == "service"
        a.unlink()
        report = scanner.process_paths([a])
        assert [(o.status, o.model_ids) for o in report.outcomes] == [("removed", ["a"])]

    def test_new_and_deleted_directories(self, tmp_path):
        """A new directory is scanned; a deleted one removes the models below it."""
        sub = tmp_path / "models" / "sub"
        write(sub / "x.md", gnn_text("X"))
        write(sub / "deeper" / "y.md", gnn_text("Y"))
        scanner = self.scanner(tmp_path)
        report = scanner.process_paths([sub])
        assert sorted(o.model_ids[0] for o in report.outcomes) == ["x", "y"]
        shutil.rmtree(sub)
        report = scanner.process_paths([sub])
        assert sorted((o.status, o.model_ids[0]) for o in report.outcomes) == [
            ("removed", "x"), ("removed", "y")]

    def test_move_inside_one_batch(self, tmp_path):
        """Delete and create of the same content in one batch is a move, not remove+add."""
        old = write(tmp_path / "models" / "m.md", gnn_text())
        scanner = self.scanner(tmp_path)
        scanner.process_paths([old])
        new = tmp_path / "models" / "n.md"
        old.rename(new)
        report = scanner.process_paths([old, new])
        assert [(o.status, o.model_ids) for o in report.outcomes] == [("renamed", ["m"])]
        assert events(load(tmp_path), "m") == ["registered", "renamed"]

    def test_hidden_and_foreign_names_are_ignored(self, tmp_path):
        """Paths in hidden folders or with other extensions give no outcome at all."""
        hidden = write(tmp_path / "models" / ".git" / "x.md", gnn_text("X"))
        other = write(tmp_path / "models" / "notes.txt", gnn_text("Y"))
        report = self.scanner(tmp_path).process_paths([hidden, other])
        assert report.outcomes == []
        assert load(tmp_path).models == {}

    def test_unchanged_batch_writes_nothing(self, tmp_path):
        """A batch of unchanged files takes no transaction and writes nothing."""
        a = write(tmp_path / "models" / "a.md", gnn_text("A"))
        scanner = self.scanner(tmp_path)
        scanner.process_paths([a])
        generation = load(tmp_path).generation
        report = scanner.process_paths([a, a])
        assert [o.status for o in report.outcomes] == ["unchanged"]
        assert not report.wrote
        assert load(tmp_path).generation == generation

"""Storage: round trip, generations, backups, recovery, restore, verify, metadata, size."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from registry.config import Config
from registry.errors import NotFoundError, StoreCorruptError, StoreError
from registry.model.records import RegistryDoc
from registry.storage import failpoints
from registry.storage.backups import make_backup, read_info
from registry.storage.metafiles import metadata_entry
from registry.storage.schema import SCHEMA_VERSION
from registry.storage.schemacheck import check_document, registry_schema
from registry.storage.store import RegistryStore
from registry.storage.view import VIEW_SCHEMA_VERSION
from tests.helpers import make_entry


@pytest.fixture(name="config")
def _config(tmp_path: Path) -> Config:
    return Config(output_dir=tmp_path / "out", lock_timeout=5.0, backup_count=10)


@pytest.fixture(name="store")
def _store(config: Config) -> RegistryStore:
    return RegistryStore(config)


def add(store: RegistryStore, *model_ids: str) -> None:
    """Add each model in its own transaction."""
    for mid in model_ids:
        with store.transaction() as doc:
            doc.models[mid] = make_entry(mid)


def raw_generation(store: RegistryStore) -> int:
    """The generation in the database, read with plain sqlite3 (no store logic)."""
    conn = sqlite3.connect(store.path)
    try:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    finally:
        conn.close()


CORRUPTIONS = {
    "garbage": lambda data: b"this is not a database at all\n" * 50,
    "truncated": lambda data: data[:200],
    "empty": lambda data: b"",
    "zeroed_pages": lambda data: data[:4096] + b"\0" * (len(data) - 4096),
}


def damage(store: RegistryStore, kind: str) -> None:
    """Overwrite the (checkpointed) database file with a damaged version of itself."""
    assert not store.path.with_name(store.path.name + "-wal").exists()
    store.path.write_bytes(CORRUPTIONS[kind](store.path.read_bytes()))


class TestRoundTrip:
    def test_missing_file_is_an_empty_document(self, store: RegistryStore) -> None:
        """No database: load() gives an empty document and creates nothing."""
        doc = store.load()
        assert len(doc.models) == 0
        assert doc.generation == 0
        assert not store.config.registry_dir.exists()
        assert not store.exists()

    def test_written_document_loads_back_equal(self, store: RegistryStore) -> None:
        """Every field of every model survives a write and a load, in a new store too."""
        entry = make_entry("a")
        entry.tags = ["x", "y"]
        entry.aliases = {"prod": "1.0.0"}
        entry.findings = [{"code": "W1", "message": "m", "line": 3}]
        entry.file_path = "models/caf\udce9.md"  # a non-UTF-8 file name, surrogate-escaped
        with store.transaction() as doc:
            doc.models["a"] = entry
            doc.roots.append("/data/\udcffroot")
        for loaded in (store.load(), RegistryStore(store.config).load()):
            assert loaded.models["a"].to_dict() == entry.to_dict()
            assert loaded.roots == ["/data/\udcffroot"]
        view = json.loads(store.view_path.read_text("utf-8"))
        assert view["models"]["a"]["file_path"] == "models/caf\udce9.md"

    def test_generation_increments_once_per_changed_write(self, store: RegistryStore) -> None:
        """Each changing transaction adds exactly one to the generation."""
        add(store, "a", "b", "c")
        assert store.load().generation == 3 == raw_generation(store)

    def test_unchanged_transaction_writes_nothing(self, store: RegistryStore) -> None:
        """A transaction that changes nothing commits nothing and makes no backup."""
        add(store, "a")
        backups = store.backups()
        with store.transaction() as doc:
            _ = doc.models["a"].tags
        assert raw_generation(store) == 1
        assert store.backups() == backups

    def test_in_place_change_of_nested_value_is_written(self, store: RegistryStore) -> None:
        """Mutating a nested value of a loaded entry is detected and written."""
        add(store, "a")
        with store.transaction() as doc:
            doc.models["a"].versions[0].metadata["variables"] = 99
        assert store.load().models["a"].versions[0].metadata["variables"] == 99

    def test_exception_in_block_writes_nothing(self, store: RegistryStore) -> None:
        """An exception inside the block rolls everything back."""
        add(store, "a")

        def failing_change() -> None:
            with store.transaction() as doc:
                doc.models["b"] = make_entry("b")
                doc.models["a"].tags.append("t")
                raise KeyError("boom")

        with pytest.raises(KeyError):
            failing_change()
        doc = store.load()
        assert "b" not in doc.models
        assert doc.models["a"].tags == []
        assert raw_generation(store) == 1

    def test_deleting_a_model_removes_all_its_rows(self, store: RegistryStore) -> None:
        """``del doc.models[id]`` deletes the model and (by cascade) its child rows."""
        add(store, "a", "b")
        with store.transaction() as doc:
            del doc.models["a"]
        assert set(store.load().models) == {"b"}
        conn = sqlite3.connect(store.path)
        try:
            assert conn.execute("SELECT count(*) FROM versions WHERE model_id = 'a'"
                                ).fetchone()[0] == 0
        finally:
            conn.close()

    def test_entries_are_read_on_access_only(self, store: RegistryStore) -> None:
        """A snapshot reads one model's rows when that model is asked for."""
        add(store, "a", "b")
        doc = store.load()
        assert doc.models.row("a")["file_path"] == "models/a.md"
        assert not doc.models.is_decoded("a")
        assert doc.models["a"].model_id == "a"
        assert doc.models.is_decoded("a")
        assert not doc.models.is_decoded("b")

    def test_snapshot_is_consistent_while_a_writer_commits(self, store: RegistryStore) -> None:
        """A snapshot keeps seeing the state it started with; a new load sees the commit."""
        add(store, "a")
        snapshot = store.load()
        assert list(snapshot.models) == ["a"]
        add(store, "b")
        assert "b" not in snapshot.models
        assert snapshot.generation == 1
        assert set(store.load().models) == {"a", "b"}

    def test_files_are_never_world_writable(self, store: RegistryStore) -> None:
        """Database, view, backups, metadata and summary are 0o644 under any umask."""
        old = os.umask(0)
        try:
            add(store, "a", "b")
            summary = store.write_summary({"total_models": 2})
        finally:
            os.umask(old)
        files = [store.path, store.view_path, summary, store.metadata_path("a"),
                 *store.backups()]
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path

    def test_nested_transaction_raises(self, store: RegistryStore, config: Config) -> None:
        """A second transaction on the same registry in the same thread is refused."""
        other = RegistryStore(config)
        with store.transaction():
            with pytest.raises(RuntimeError, match="nested"), store.transaction():
                pass
            with pytest.raises(RuntimeError, match="nested"), other.transaction():
                pass
        add(store, "after")
        assert "after" in store.load().models

    def test_threads_sharing_a_store_lose_no_update(self, store: RegistryStore) -> None:
        """Two threads writing through one store object both get all their models in."""
        errors: list[BaseException] = []

        def work(prefix: str) -> None:
            try:
                add(store, *(f"{prefix}{i}" for i in range(15)))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(p,)) for p in ("x", "y")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        doc = store.load()
        assert len(doc.models) == 30
        assert doc.generation == 30


class TestOpening:
    def test_database_from_a_newer_version_is_refused(self, store: RegistryStore) -> None:
        """A database with a higher user_version is refused clearly and left untouched."""
        add(store, "a")
        conn = sqlite3.connect(store.path)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
        before = store.path.read_bytes()
        for attempt in (store.load, lambda: add(store, "b")):
            with pytest.raises(StoreError, match="newer than this gnn-registry") as info:
                attempt()
            assert str(store.path) in str(info.value)
        assert store.path.read_bytes() == before
        assert not list(store.path.parent.glob("*.corrupt-*"))

    def test_fifo_is_refused_without_opening_it(self, store: RegistryStore) -> None:
        """A FIFO at the database path: a clear error at once (opening it would hang)."""
        store.path.parent.mkdir(parents=True)
        os.mkfifo(store.path)
        with pytest.raises(StoreError, match="FIFO"):
            store.load()
        with pytest.raises(StoreError, match="FIFO"):
            add(store, "a")
        assert any("FIFO" in p for p in store.verify())
        assert stat.S_ISFIFO(store.path.lstat().st_mode)

    @pytest.mark.parametrize("kind", ["directory", "symlink_loop"])
    def test_non_regular_path_is_refused(self, store: RegistryStore, kind: str) -> None:
        """A directory or a symlink loop at the database path is a clear error."""
        store.path.parent.mkdir(parents=True)
        if kind == "directory":
            store.path.mkdir()
            expected = "directory"
        else:
            store.path.symlink_to(store.path.name)
            expected = "symbolic link loop"
        with pytest.raises(StoreError, match=expected):
            store.load()
        with pytest.raises(StoreError, match=expected):
            add(store, "a")


class TestBackups:
    def test_backups_are_rotated_and_capped(self, tmp_path: Path) -> None:
        """Only the newest backup_count backups remain, named by store id and generation."""
        store = RegistryStore(Config(output_dir=tmp_path, backup_count=3))
        add(store, "a", "b", "c", "d", "e")
        listed = store.backup_list()
        assert [b.generation for b in listed] == [5, 4, 3]
        assert len({b.store_id for b in listed}) == 1
        assert all(b.path.name.startswith(f"model_registry.{b.store_id}.0000000")
                   for b in listed)

    def test_backup_holds_the_committed_content(self, store: RegistryStore) -> None:
        """The newest backup is a sound database holding the last commit."""
        add(store, "a", "b")
        info = read_info(store.backups()[0])
        assert info.problems == []
        assert (info.generation, info.models) == (2, 2)

    def test_backups_can_be_turned_off(self, tmp_path: Path) -> None:
        """With registry_backup off no backup is made."""
        store = RegistryStore(Config(output_dir=tmp_path, registry_backup=False))
        add(store, "a", "b")
        assert store.backups() == []

    def test_backup_interval_coalesces_and_close_takes_the_pending_one(
            self, store: RegistryStore) -> None:
        """With an interval, writes inside it make no backup; close() takes the due one."""
        store.backup_interval = 3600.0
        add(store, "a", "b", "c")
        assert [b.generation for b in store.backup_list()] == [1]
        store.close()
        assert [b.generation for b in store.backup_list()] == [3, 1]

    def test_deleted_database_is_restored_from_backups_not_restarted(
            self, store: RegistryStore) -> None:
        """A deleted database next to backups: the next write restores the newest backup
        (loudly) instead of starting empty, and no old backup is overwritten."""
        add(store, "a", "b", "c")
        old = {p.name: p.read_bytes() for p in store.backups()}
        store.path.unlink()
        with capture_logs() as logs:
            add(store, "d")
        assert set(store.load().models) == {"a", "b", "c", "d"}
        assert any(e["event"] == "registry_restored_from_backup" and
                   e["log_level"] == "warning" for e in logs)
        for name, data in old.items():
            assert (store.backup_dir / name).read_bytes() == data
        assert store.load().generation > 3

    def test_a_fresh_registry_never_overwrites_older_backups(self, tmp_path: Path) -> None:
        """Backups of two registry lifetimes never share a name, even for equal generations;
        a backup name that exists already is never replaced."""
        first = RegistryStore(Config(output_dir=tmp_path / "one", backup_count=10))
        add(first, "a", "b")
        second = RegistryStore(Config(output_dir=tmp_path / "two", backup_count=10))
        add(second, "x")  # generation 1 of a younger, smaller history
        for backup in second.backups():
            os.link(backup, first.backup_dir / backup.name)
        listed = first.backup_list()
        assert sorted(b.generation for b in listed) == [1, 1, 2]
        assert len({b.store_id for b in listed}) == 2
        newest = first.backups()[0]
        data = newest.read_bytes()
        conn = sqlite3.connect(first.path)
        try:
            store_id = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
            same = make_backup(conn, first.backup_dir, stem="model_registry",
                               store_id=store_id, generation=2, keep=10)
        finally:
            conn.close()
        assert newest.read_bytes() == data  # an existing name is never overwritten
        assert same != newest or same.read_bytes() == data


class TestRecovery:
    @pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
    def test_corrupt_database_recovered_from_newest_backup(
            self, store: RegistryStore, kind: str) -> None:
        """A damaged database is set aside and the newest valid backup installed, loudly."""
        add(store, "a", "b")
        damage(store, kind)
        with capture_logs() as logs:
            doc = store.load()
        assert set(doc.models) == {"a", "b"}
        assert store.health() is None
        copies = list(store.path.parent.glob("model_registry.sqlite3.corrupt-*"))
        assert copies
        warning = next(e for e in logs if e["event"] == "registry_recovered")
        assert warning["log_level"] == "warning"
        assert warning["backup"] == str(store.backups()[0]) or "backups" in warning["backup"]

    def test_transaction_recovers_and_continues(self, store: RegistryStore) -> None:
        """A write on a corrupt database recovers first, then applies its change."""
        add(store, "a")
        damage(store, "truncated")
        add(store, "b")
        assert set(store.load().models) == {"a", "b"}

    def test_invalid_newest_backup_is_skipped(self, store: RegistryStore) -> None:
        """Recovery falls back to the newest backup that is sound."""
        add(store, "a", "b")
        store.backups()[0].write_bytes(b"junk")
        damage(store, "empty")
        assert set(store.load().models) == {"a"}

    def test_no_valid_backup_raises_and_keeps_file(self, store: RegistryStore) -> None:
        """With no valid backup the corrupt database stays in place and the error says so."""
        add(store, "a")
        for backup in store.backups():
            backup.unlink()
        damage(store, "garbage")
        with pytest.raises(StoreCorruptError) as info:
            store.load()
        assert str(store.path) in str(info.value)
        assert store.path.read_bytes().startswith(b"this is not a database")

    def test_stale_temp_files_are_removed_by_a_transaction(self, store: RegistryStore) -> None:
        """Crash leftovers of our own temp files go with the next writer's first write;
        other files stay."""
        add(store, "a")
        ours = [store.path.parent / ".model_registry.json.abc123.tmp",
                store.path.parent / ".model_registry.sqlite3.import-9.tmp",
                store.backup_dir / ".model_registry.0123456789abcdef.00000001.x.sqlite3.1.tmp"]
        theirs = store.path.parent / ".other.json.abc123.tmp"
        for path in (*ours, theirs):
            path.write_text("x")
        add(RegistryStore(store.config), "b")  # the next writer (a new command) cleans up
        assert not any(p.exists() for p in ours)
        assert theirs.exists()


class TestRestore:
    def test_restore_newest_keeps_current_and_raises_generation(
            self, store: RegistryStore) -> None:
        """Restoring keeps the current database as a backup and counts the generation up."""
        add(store, "a", "b")
        with store.transaction() as doc:
            doc.models["a"].tags.append("after-the-backup")
        store.backups()[0].unlink()  # the newest backup now predates the last change
        doc = store.restore()
        assert set(doc.models) == {"a", "b"}
        assert doc.models["a"].tags == []
        assert doc.generation > 3
        kept = [b for b in store.backup_list() if b.generation == 3]
        assert kept
        assert read_info(kept[0].path).problems == []
        assert store.restored_from is not None

    def test_restore_named_backup(self, store: RegistryStore) -> None:
        """A backup named by file name (inside backups/) is installed."""
        add(store, "a", "b", "c")
        first = store.backup_list()[-1]
        doc = store.restore(Path(first.path.name))
        assert set(doc.models) == {"a"}
        assert store.restored_from == first.path
        assert store.verify() == []

    def test_restore_missing_backup_raises_not_found(self, store: RegistryStore) -> None:
        """A backup that does not exist is NotFoundError; nothing changes."""
        add(store, "a")
        with pytest.raises(NotFoundError):
            store.restore(Path("model_registry.0000.00000099.x.sqlite3"))
        assert raw_generation(store) == 1

    def test_restore_without_backups_raises_not_found(self, tmp_path: Path) -> None:
        """No backups at all is NotFoundError."""
        store = RegistryStore(Config(output_dir=tmp_path, registry_backup=False))
        add(store, "a")
        with pytest.raises(NotFoundError):
            store.restore()

    def test_restore_corrupt_backup_raises(self, store: RegistryStore) -> None:
        """A named backup that is not a sound database is refused."""
        add(store, "a", "b")
        target = store.backups()[-1]
        target.write_bytes(b"nope" * 100)
        with pytest.raises(StoreCorruptError):
            store.restore(target)

    def test_restore_over_corrupt_registry_keeps_corrupt_copy(
            self, store: RegistryStore) -> None:
        """Restoring over a damaged database sets the damaged file aside first."""
        add(store, "a")
        damage(store, "garbage")
        store.restore()
        copies = list(store.path.parent.glob("model_registry.sqlite3.corrupt-*"))
        assert [p.read_bytes()[:22] for p in copies] == [b"this is not a database"]
        assert set(store.load().models) == {"a"}


class TestVerify:
    def test_clean_registry_has_no_problems(self, store: RegistryStore) -> None:
        """A freshly written registry verifies clean."""
        add(store, "a", "b")
        assert store.verify() == []

    def test_problems_are_reported(self, store: RegistryStore) -> None:
        """A damaged backup, a stale view and a missing metadata file are each reported."""
        add(store, "a", "b")
        store.backups()[-1].write_bytes(b"junk" * 100)
        store.metadata_path("a").unlink()
        problems = store.verify()
        assert any("backups" in p for p in problems)
        conn = sqlite3.connect(store.path)
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'generation'")
        conn.commit()
        conn.close()
        problems = store.verify()
        assert any("view is stale" in p for p in problems)
        assert any("model a: metadata file" in p for p in problems)

    def test_missing_view_is_reported_and_rewritten(self, store: RegistryStore) -> None:
        """A deleted view is reported and the next write rewrites it."""
        add(store, "a")
        store.view_path.unlink()
        assert any("view is missing" in p for p in store.verify())
        add(store, "b")
        assert store.verify() == []

    def test_missing_registry_with_backups_is_reported(self, store: RegistryStore) -> None:
        """verify names a missing database that has backups (and does not restore it)."""
        add(store, "a")
        store.path.unlink()
        assert any("missing" in p and "restore" in p for p in store.verify())
        assert not store.path.exists()

    def test_verify_while_another_process_writes(self, store: RegistryStore,
                                                 tmp_path: Path) -> None:
        """verify is clean at every point of a concurrent writer's run (WAL readers)."""
        import subprocess  # noqa: PLC0415
        import sys  # noqa: PLC0415

        add(store, "seed")
        helper = Path(__file__).resolve().parent / "helpers" / "writer.py"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        proc = subprocess.Popen([sys.executable, str(helper), str(store.config.registry_dir),
                                 "--prefix", "w", "--count", "40"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        rounds = 0
        try:
            while proc.poll() is None or rounds == 0:
                problems = [p for p in store.verify()
                            if "view is stale" not in p and "metadata file" not in p]
                assert problems == []
                rounds += 1
        finally:
            proc.wait(60)
            if proc.stdout is not None:
                proc.stdout.close()
        assert proc.returncode == 0
        assert store.verify() == []
        assert rounds >= 1


class TestMetadataFiles:
    def test_only_changed_models_are_rewritten(self, store: RegistryStore) -> None:
        """A write replaces the metadata file of the changed model and no other."""
        add(store, "a", "b")
        inode_a = store.metadata_path("a").stat().st_ino
        inode_b = store.metadata_path("b").stat().st_ino
        with store.transaction() as doc:
            doc.models["b"].description = "changed"
        assert store.metadata_path("a").stat().st_ino == inode_a
        assert store.metadata_path("b").stat().st_ino != inode_b
        written = json.loads(store.metadata_path("b").read_text())
        assert written == metadata_entry(store.load().models["b"].to_dict())
        assert written["description"] == "changed"

    @pytest.mark.parametrize("bad_id", ["..", ".", "a/b", "nul\0id"])
    def test_unsafe_model_id_is_refused(self, store: RegistryStore, bad_id: str) -> None:
        """A model id that could escape the output directory is refused before any write."""
        add(store, "a")
        with pytest.raises(StoreError, match="unsafe model id"), store.transaction() as doc:
            doc.models[bad_id] = make_entry(bad_id)
        assert raw_generation(store) == 1
        assert bad_id not in store.load().models

    def test_stale_metadata_temp_is_removed(self, store: RegistryStore) -> None:
        """A crash-leftover temp beside a metadata file goes when that file is next written."""
        add(store, "a")
        stale = store.metadata_path("a").parent / ".a_metadata.json.dead.tmp"
        stale.write_text("{")
        with store.transaction() as doc:
            doc.models["a"].tags.append("t")
        assert not stale.exists()

    def test_metadata_can_be_turned_off(self, tmp_path: Path) -> None:
        """With write_model_metadata off no per-model directory is created."""
        store = RegistryStore(Config(output_dir=tmp_path, write_model_metadata=False))
        add(store, "a")
        assert not (tmp_path / "a").exists()
        assert store.verify() == []

    def test_missing_metadata_file_is_rewritten_on_next_write(
            self, store: RegistryStore) -> None:
        """A metadata file lost earlier is written again by the next writer's first write."""
        add(store, "a")
        store.metadata_path("a").unlink()
        add(RegistryStore(store.config), "b")
        assert store.metadata_path("a").is_file()


class TestSummaryAndSize:
    def test_write_summary(self, store: RegistryStore) -> None:
        """The summary lands beside the registry as JSON, replacing the previous one."""
        store.write_summary({"total_models": 1})
        path = store.write_summary({"total_models": 2, "path": Path("x")})
        assert path == store.config.registry_dir / "model_registry_summary.json"
        assert json.loads(path.read_text()) == {"total_models": 2, "path": "x"}

    def test_large_summary_is_streamed_readably(self, store: RegistryStore) -> None:
        """A summary listing many changes is valid JSON with one change per line."""
        changes = [{"path": f"m{i}.md", "status": "registered", "note": "π"} for i in range(3000)]
        path = store.write_summary({"total_models": 3000, "changes": changes, "errors": []})
        text = path.read_text(encoding="utf-8")
        assert json.loads(text) == {"total_models": 3000, "changes": changes, "errors": []}
        assert '    {"path": "m2999.md", "status": "registered", "note": "π"}\n' in text
        assert len(text.splitlines()) == 3000 + 6

    def test_prune_hook_called_when_over_size(self, tmp_path: Path) -> None:
        """Over max_registry_size the prune hook runs and its smaller document is written."""
        store = RegistryStore(Config(output_dir=tmp_path, max_registry_size=0.004))
        calls: list[int] = []

        def prune(doc: RegistryDoc, limit: int) -> bool:
            calls.append(limit)
            for mid in sorted(doc.models)[:-1]:
                doc.models[mid].history.clear()
                doc.models[mid].description = ""
            return True

        store.prune_hook = prune
        with store.transaction() as doc:
            for mid in "abc":
                doc.models[mid] = make_entry(mid)
                doc.models[mid].description = "x" * 2000
        assert calls == [int(0.004 * 1024 * 1024)]
        loaded = store.load()
        assert [loaded.models[m].description for m in "abc"] == ["", "", "x" * 2000]

    def test_over_size_is_logged_not_refused(self, tmp_path: Path) -> None:
        """Still over the limit after pruning, the write happens and a warning is logged."""
        store = RegistryStore(Config(output_dir=tmp_path, max_registry_size=0.0001))
        store.prune_hook = lambda doc, limit: False
        with capture_logs() as logs:
            add(store, "a")
        event = next(e for e in logs if e["event"] == "registry_over_size")
        assert event["size"] > event["limit"] == int(0.0001 * 1024 * 1024)
        assert "a" in store.load().models


class TestSchemaFile:
    def test_packaged_schema_is_draft_2020_12(self) -> None:
        """The package ships the view's JSON Schema (draft 2020-12)."""
        schema = registry_schema()
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["schema_version"]["const"] == VIEW_SCHEMA_VERSION

    def test_written_view_conforms(self, store: RegistryStore) -> None:
        """The view written by the store has no schema problems; a broken one does."""
        add(store, "a", "b")
        data = json.loads(store.view_path.read_bytes())
        assert check_document(data) == []
        assert "history" not in data["models"]["a"]
        assert "structure" not in json.dumps(data["models"]["a"]["versions"])
        data["generation"] = -1
        data["models"]["a"]["state"] = "lost"
        del data["models"]["b"]["model_name"]
        problems = check_document(data)
        assert len(problems) == 3


class TestFailpointSwitch:
    def test_env_is_read_and_reset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """active() lists the names in the variable; reset() makes a change visible."""
        monkeypatch.setenv(failpoints.ENV_VAR, "after_db_commit, during_backup_rotation")
        failpoints.reset()
        try:
            assert failpoints.active() == {"after_db_commit", "during_backup_rotation"}
            monkeypatch.delenv(failpoints.ENV_VAR)
            assert failpoints.active() == {"after_db_commit", "during_backup_rotation"}
            failpoints.reset()
            assert failpoints.active() == frozenset()
            failpoints.failpoint("after_db_commit")  # unset: must return normally
        finally:
            failpoints.reset()

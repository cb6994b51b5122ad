"""Storage: round trip, generations, backups, recovery, restore, verify, metadata, size."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from registry import failpoints
from registry.backups import decode
from registry.config import Config
from registry.errors import NotFoundError, StoreCorruptError, StoreError
from registry.records import SCHEMA_VERSION, RegistryDoc
from registry.schemacheck import check_document, registry_schema
from registry.store import RegistryStore
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


def on_disk(store: RegistryStore) -> RegistryDoc:
    """Decode the registry file directly, without the store's recovery."""
    return decode(store.path.read_bytes())


class TestRoundTrip:
    def test_missing_file_is_an_empty_document(self, store: RegistryStore) -> None:
        """A registry that was never written loads as an empty document at generation 0."""
        doc = store.load()
        assert doc.models == {}
        assert doc.generation == 0
        assert not store.path.exists()

    def test_written_document_loads_back_equal(self, store: RegistryStore) -> None:
        """What a transaction writes is what load() returns, field for field."""
        with store.transaction() as doc:
            doc.models["a"] = make_entry("a", variables=7)
            doc.roots.append("/models")
        loaded = store.load()
        assert loaded.to_dict() == on_disk(store).to_dict()
        assert loaded.models["a"].metadata["variables"] == 7
        assert loaded.roots == ["/models"]
        assert loaded.schema_version == SCHEMA_VERSION

    def test_generation_increments_once_per_changed_write(self, store: RegistryStore) -> None:
        """Each transaction that changes the document adds exactly one to the generation."""
        add(store, "a", "b", "c")
        assert store.load().generation == 3

    def test_unchanged_transaction_writes_nothing(self, store: RegistryStore) -> None:
        """A transaction that changes nothing leaves file, generation and backups untouched."""
        add(store, "a", "b")
        before = store.path.stat()
        backups = store.backups()
        with store.transaction() as doc:
            assert "a" in doc.models
        after = store.path.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert store.load().generation == 2
        assert store.backups() == backups

    def test_in_place_change_of_nested_value_is_written(self, store: RegistryStore) -> None:
        """Mutating a nested dict in place counts as a change (no aliasing with the snapshot)."""
        add(store, "a")
        with store.transaction() as doc:
            doc.models["a"].metadata["variables"] = 42
        assert on_disk(store).models["a"].metadata["variables"] == 42
        assert on_disk(store).generation == 2

    def test_exception_in_block_writes_nothing(self, store: RegistryStore) -> None:
        """An exception inside the transaction propagates and the file keeps its bytes."""
        add(store, "a")
        before = store.path.read_bytes()

        def failing_change() -> None:
            with store.transaction() as doc:
                doc.models["b"] = make_entry("b")
                raise KeyError("boom")

        with pytest.raises(KeyError):
            failing_change()
        assert store.path.read_bytes() == before

    def test_files_are_never_world_writable(self, store: RegistryStore) -> None:
        """Registry, backups, metadata and summary are 0o644 even under a permissive umask."""
        old = os.umask(0)
        try:
            add(store, "a", "b")
            summary = store.write_summary({"total_models": 2})
        finally:
            os.umask(old)
        files = [store.path, summary, store.metadata_path("a"), *store.backups()]
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


class TestBackups:
    def test_backups_are_rotated_and_capped(self, tmp_path: Path) -> None:
        """Only the newest backup_count backups remain, named after their generation."""
        store = RegistryStore(Config(output_dir=tmp_path, backup_count=3))
        add(store, *"abcdef")
        names = [p.name for p in store.backups()]
        assert names == ["model_registry.00000005.json", "model_registry.00000004.json",
                         "model_registry.00000003.json"]
        for path in store.backups():
            gen = int(path.name.split(".")[1])
            doc = decode(path.read_bytes())
            assert doc.generation == gen
            assert len(doc.models) == gen

    def test_backup_holds_the_replaced_content(self, store: RegistryStore) -> None:
        """The newest backup is byte-identical to the registry before the last write."""
        add(store, "a")
        previous = store.path.read_bytes()
        add(store, "b")
        assert store.backups()[0].read_bytes() == previous

    def test_backups_can_be_turned_off(self, tmp_path: Path) -> None:
        """With registry_backup off no backup directory content is produced."""
        store = RegistryStore(Config(output_dir=tmp_path, registry_backup=False))
        add(store, "a", "b")
        assert store.backups() == []


CORRUPTIONS = {
    "garbage": lambda data: b"\x00\xffnot json at all{{{",
    "truncated": lambda data: data[: len(data) // 2],
    "zero_bytes": lambda data: b"",
    "wrong_schema_version": lambda data: json.dumps(
        {**json.loads(data), "schema_version": 99}).encode(),
}


class TestRecovery:
    @pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
    def test_corrupt_registry_recovered_from_newest_backup(
            self, store: RegistryStore, kind: str) -> None:
        """A corrupt registry is set aside and the newest valid backup installed, loudly."""
        add(store, "a", "b", "c")
        bad = CORRUPTIONS[kind](store.path.read_bytes())
        store.path.write_bytes(bad)
        with capture_logs() as logs:
            doc = store.load()
        assert sorted(doc.models) == ["a", "b"]
        assert doc.generation > max(int(p.name.split(".")[1]) for p in store.backups())
        assert on_disk(store).to_dict() == doc.to_dict()
        copies = list(store.path.parent.glob("model_registry.json.corrupt-*"))
        assert len(copies) == 1
        assert copies[0].read_bytes() == bad
        warning = next(e for e in logs if e["event"] == "registry_recovered")
        assert warning["log_level"] == "warning"
        assert warning["corrupt_copy"] == str(copies[0])
        assert warning["backup"].endswith("model_registry.00000002.json")
        assert warning["generation"] == doc.generation

    def test_transaction_recovers_and_continues(self, store: RegistryStore) -> None:
        """A transaction on a truncated registry works on the recovered document."""
        add(store, "a", "b")
        store.path.write_bytes(store.path.read_bytes()[:10])
        with store.transaction() as doc:
            doc.models["z"] = make_entry("z")
        assert sorted(on_disk(store).models) == ["a", "z"]
        assert store.verify() == []

    def test_invalid_newest_backup_is_skipped(self, store: RegistryStore) -> None:
        """When the newest backup is corrupt too, the next older valid one is used."""
        add(store, "a", "b", "c")
        store.backups()[0].write_bytes(b"{")
        store.path.write_bytes(b"")
        assert sorted(store.load().models) == ["a"]

    def test_no_valid_backup_raises_and_keeps_file(self, store: RegistryStore) -> None:
        """Without a valid backup load() raises StoreCorruptError and leaves the file alone."""
        add(store, "a")
        store.path.write_bytes(b"garbage")
        with pytest.raises(StoreCorruptError) as info:
            store.load()
        assert str(store.path) in str(info.value)
        assert store.path.read_bytes() == b"garbage"
        with pytest.raises(StoreCorruptError), store.transaction():
            pass

    def test_stale_temp_files_are_removed_by_a_transaction(self, store: RegistryStore) -> None:
        """Our crash-leftover temp files go away at the next transaction; others stay."""
        add(store, "a")
        ours = store.path.parent / ".model_registry.json.abc123.tmp"
        theirs = store.path.parent / ".other.json.abc123.tmp"
        ours.write_text("partial")
        theirs.write_text("not ours")
        add(store, "b")
        assert not ours.exists()
        assert theirs.exists()


class TestRestore:
    def test_restore_newest_keeps_current_and_raises_generation(
            self, store: RegistryStore) -> None:
        """restore() installs the newest backup; the replaced file becomes a backup."""
        add(store, "a", "b", "c")
        current = store.path.read_bytes()
        doc = store.restore(actor="tester")
        assert sorted(doc.models) == ["a", "b"]
        assert doc.generation == 4
        assert store.backups()[0].read_bytes() == current
        assert on_disk(store).generation == 4
        assert store.verify() == []

    def test_restore_named_backup(self, store: RegistryStore) -> None:
        """A backup named by file name inside backups/ is restored."""
        add(store, "a", "b", "c")
        doc = store.restore(Path("model_registry.00000001.json"))
        assert sorted(doc.models) == ["a"]
        assert sorted(store.load().models) == ["a"]

    def test_restore_missing_backup_raises_not_found(self, store: RegistryStore) -> None:
        """Naming a backup that does not exist raises NotFoundError and changes nothing."""
        add(store, "a", "b")
        before = store.path.read_bytes()
        with pytest.raises(NotFoundError):
            store.restore(Path("model_registry.00000099.json"))
        assert store.path.read_bytes() == before

    def test_restore_without_backups_raises_not_found(self, store: RegistryStore) -> None:
        """With no backups at all restore() raises NotFoundError."""
        add(store, "a")
        with pytest.raises(NotFoundError):
            store.restore()

    def test_restore_corrupt_backup_raises(self, store: RegistryStore) -> None:
        """A named backup that does not decode raises StoreCorruptError."""
        add(store, "a", "b")
        store.backups()[0].write_bytes(b"[]")
        with pytest.raises(StoreCorruptError):
            store.restore(store.backups()[0])

    def test_restore_over_corrupt_registry_keeps_corrupt_copy(
            self, store: RegistryStore) -> None:
        """Restoring over an undecodable registry keeps it as a .corrupt- copy."""
        add(store, "a", "b")
        store.path.write_bytes(b"xx")
        doc = store.restore()
        assert sorted(doc.models) == ["a"]
        assert [p.read_bytes() for p in store.path.parent.glob("*.corrupt-*")] == [b"xx"]


class TestVerify:
    def test_clean_registry_has_no_problems(self, store: RegistryStore) -> None:
        """A registry written by the store verifies clean."""
        add(store, "a", "b")
        assert store.verify() == []

    def test_problems_are_reported(self, store: RegistryStore) -> None:
        """Corrupt registry, bad backup, misnamed backup and missing metadata are reported."""
        add(store, "a", "b", "c")
        newest, older = store.backups()[0], store.backups()[1]
        newest.write_bytes(b"{")
        older.write_bytes(store.path.read_bytes())
        (store.metadata_path("a")).unlink()
        problems = store.verify()
        text = "\n".join(problems)
        assert str(newest) in text
        assert "name says 1" in text
        assert "metadata file" in text
        assert "model a" in text

    def test_schema_violation_is_reported(self, store: RegistryStore) -> None:
        """A value the document model accepts but the JSON Schema refuses is reported."""
        add(store, "a")
        data = json.loads(store.path.read_bytes())
        data["models"]["a"]["version"] = "not-a-version"
        store.path.write_text(json.dumps(data))
        problems = store.verify()
        assert any("models.a.version" in p for p in problems)

    def test_backup_of_current_generation_after_crash_is_fine(
            self, store: RegistryStore) -> None:
        """A backup equal to the registry (crash between backup and write) is no problem."""
        add(store, "a", "b")
        twin = store.backup_dir / "model_registry.00000002.json"
        twin.write_bytes(store.path.read_bytes())
        assert store.verify() == []
        twin.write_bytes(store.backups()[1].read_bytes().replace(b'"generation": 1',
                                                                 b'"generation": 2'))
        assert any("not older" in p for p in store.verify())

    def test_missing_registry_with_backups_is_reported(self, store: RegistryStore) -> None:
        """A registry that vanished while backups exist is a problem (restore it)."""
        add(store, "a", "b")
        store.path.unlink()
        assert any("missing" in p for p in store.verify())


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
        assert written == store.load().models["b"].to_dict()

    @pytest.mark.parametrize("bad_id", ["..", ".", "a/b", "nul\0id"])
    def test_unsafe_model_id_is_refused(self, store: RegistryStore, bad_id: str) -> None:
        """A model id that could escape the output directory is refused before any write."""
        add(store, "a")
        before = store.path.read_bytes()
        with pytest.raises(StoreError, match="unsafe model id"), store.transaction() as doc:
            doc.models[bad_id] = make_entry(bad_id)
        assert store.path.read_bytes() == before

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
        """A metadata file lost earlier is written again by the next changing transaction."""
        add(store, "a")
        store.metadata_path("a").unlink()
        add(store, "b")
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
        assert [m.description for m in on_disk(store).models.values()] == ["", "", "x" * 2000]

    def test_over_size_is_logged_not_refused(self, tmp_path: Path) -> None:
        """Still over the limit after pruning, the write happens and a warning is logged."""
        store = RegistryStore(Config(output_dir=tmp_path, max_registry_size=0.0001))
        store.prune_hook = lambda doc, limit: False
        with capture_logs() as logs:
            add(store, "a")
        event = next(e for e in logs if e["event"] == "registry_over_size")
        assert event["size"] > event["limit"] == int(0.0001 * 1024 * 1024)
        assert "a" in on_disk(store).models


class TestSchemaFile:
    def test_packaged_schema_is_draft_2020_12(self) -> None:
        """The package ships the registry JSON Schema (draft 2020-12)."""
        schema = registry_schema()
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION

    def test_written_registry_conforms(self, store: RegistryStore) -> None:
        """A registry written by the store has no schema problems; a broken one does."""
        add(store, "a", "b")
        data = json.loads(store.path.read_bytes())
        assert check_document(data) == []
        data["generation"] = -1
        data["models"]["a"]["state"] = "lost"
        del data["models"]["b"]["model_name"]
        problems = check_document(data)
        assert len(problems) == 3


class TestFailpointSwitch:
    def test_env_is_read_and_reset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """active() lists the names in the variable; reset() makes a change visible."""
        monkeypatch.setenv(failpoints.ENV_VAR, "after_rename, during_backup_rotation")
        failpoints.reset()
        try:
            assert failpoints.active() == {"after_rename", "during_backup_rotation"}
            monkeypatch.delenv(failpoints.ENV_VAR)
            assert failpoints.active() == {"after_rename", "during_backup_rotation"}
            failpoints.reset()
            assert failpoints.active() == frozenset()
            failpoints.failpoint("after_rename")  # unset: must return normally
        finally:
            failpoints.reset()

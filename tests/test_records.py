"""The database layout (tables, text encoding, derived family edges), the in-memory
documents, the JSON import of earlier registries, and the metadata file bodies."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from registry.config import Config
from registry.model.entries import Relationship
from registry.model.records import RegistryDoc
from registry.storage import codec
from registry.storage.jsonimport import IMPORTED_SUFFIX, NotImportableError, decode_json
from registry.storage.metafiles import metadata_body, metadata_entry, write_metadata_files
from registry.storage.store import RegistryStore
from tests.helpers import make_entry


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> RegistryStore:
    return RegistryStore(Config(output_dir=tmp_path / "out", lock_timeout=5.0, backup_count=5))


def write(store: RegistryStore, *model_ids: str) -> None:
    """Add the models in one transaction."""
    with store.transaction() as doc:
        for mid in model_ids:
            doc.models[mid] = make_entry(mid)


def query(store: RegistryStore, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Rows of a read-only SQL query on the database (plain sqlite3)."""
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


class TestLayout:
    def test_one_row_per_model_and_version(self, store: RegistryStore) -> None:
        """Models, versions, history and tags each live in their own table."""
        write(store, "a", "b")
        with store.transaction() as doc:
            doc.models["a"].tags = ["x", "y"]
        assert query(store, "SELECT id FROM models ORDER BY id") == [("a",), ("b",)]
        assert query(store, "SELECT model_id, version FROM versions ORDER BY model_id") == [
            ("a", "1.0.0"), ("b", "1.0.0")]
        assert query(store, "SELECT tag FROM tags WHERE model_id = 'a' ORDER BY position") == [
            ("x",), ("y",)]
        assert query(store, "PRAGMA journal_mode") == [("wal",)]
        assert query(store, "PRAGMA user_version")[0][0] >= 1

    def test_same_family_edges_are_derived_not_stored(self, store: RegistryStore) -> None:
        """Members of a family (same signature) link to each other on read; no edge rows."""
        with store.transaction() as doc:
            for mid in ("f1", "f2", "f3"):
                entry = make_entry(mid)
                entry.metadata["signature"] = "sig-1"
                entry.versions[0].metadata["signature"] = "sig-1"
                entry.relationships = [Relationship("renamed_from", f"/old/{mid}.md")]
                doc.models[mid] = entry
        assert query(store, "SELECT count(*) FROM relationships WHERE type = 'same_family'"
                     ) == [(0,)]
        entry = store.load().models["f2"]
        assert [(r.type, r.target) for r in entry.relationships] == [
            ("renamed_from", "/old/f2.md"), ("same_family", "f1"), ("same_family", "f3")]

    def test_large_family_is_a_star_read_from_the_family_index(
            self, store: RegistryStore) -> None:
        """Past MESH_LIMIT members the hub (smallest id) links to all, the others to the hub
        only; the hub role moves when the hub is removed; metadata files list no family
        links (they are derived at read time and would go stale)."""
        from registry.model.relations import MESH_LIMIT  # noqa: PLC0415

        ids = [f"m{i:03d}" for i in range(MESH_LIMIT + 8)]
        with store.transaction() as doc:
            for mid in ids:
                entry = make_entry(mid)
                entry.metadata["signature"] = "big"
                entry.versions[0].metadata["signature"] = "big"
                doc.models[mid] = entry
        models = store.load().models
        assert [r.target for r in models[ids[0]].relationships] == ids[1:]
        assert [(r.type, r.target) for r in models[ids[5]].relationships] == [
            ("same_family", ids[0])]
        hub_file = json.loads(store.metadata_path(ids[0]).read_bytes())
        assert not [r for r in hub_file.get("relationships", [])
                    if r.get("type") == "same_family"]
        with store.transaction() as doc:
            doc.models[ids[0]].state = "removed"
        models = store.load().models
        assert [r.target for r in models[ids[1]].relationships] == ids[2:]
        assert [r.target for r in models[ids[7]].relationships] == [ids[1]]
        assert models[ids[0]].relationships == []
        plan = query(store, "EXPLAIN QUERY PLAN SELECT id FROM models WHERE family = ? AND "
                     "deleted = 0 AND state <> 'removed' ORDER BY id LIMIT 3", "big")
        assert "models_live_family" in " ".join(str(row[-1]) for row in plan)

    def test_a_version_1_database_is_migrated_keeping_its_models(
            self, store: RegistryStore) -> None:
        """Schema 1 (family index on the key alone) is brought to the current version on
        the next write; its models and derived family links are unchanged."""
        from registry.storage import schema  # noqa: PLC0415

        with store.transaction() as doc:
            for mid in ("f1", "f2"):
                entry = make_entry(mid)
                entry.versions[0].metadata["signature"] = "sig"
                doc.models[mid] = entry
        conn = sqlite3.connect(store.path)
        conn.executescript("DROP INDEX models_live_family; DROP INDEX models_deleted; "
                           "CREATE INDEX models_family ON models (family); "
                           "PRAGMA user_version = 1;")
        conn.close()
        write(store, "f3")
        assert query(store, "PRAGMA user_version") == [(schema.SCHEMA_VERSION,)]
        assert query(store, "SELECT name FROM sqlite_master WHERE name LIKE 'models_%family'"
                     ) == [("models_live_family",)]
        assert [r.target for r in store.load().models["f1"].relationships] == ["f2"]

    def test_large_json_columns_are_compressed_and_read_back(
            self, store: RegistryStore) -> None:
        """A version's structure snapshot, metadata and the model's index row are stored
        zlib-compressed when long (surrogate paths included), short JSON stays TEXT; a new
        database uses 16 KiB pages."""
        entry = make_entry("big")
        structure = {"variables": {f"v{i}": {"dims": [i, 2], "type": "float"}
                                   for i in range(40)}, "path": "bad\udcff.md"}
        entry.versions[0].metadata["structure"] = structure
        with store.transaction() as doc:
            doc.models["big"] = entry
        stored, meta = query(store, "SELECT structure, findings FROM versions")[0]
        assert isinstance(stored, bytes)
        assert stored[:1] == b"x"
        assert len(stored) < len(json.dumps(structure)) / 2
        assert meta == "[]"
        (summary,) = query(store, "SELECT summary FROM models")[0]
        assert isinstance(summary, bytes)
        assert summary[:1] == b"x"
        back = store.load().models["big"]
        assert back.versions[0].metadata["structure"] == structure
        assert store.load().models.row("big")["model_name"] == "Model big"
        assert codec.jload(codec.jpack(["x"] * 300)) == ["x"] * 300
        assert codec.jpack({"a": 1}) == '{"a":1}'
        assert query(store, "PRAGMA page_size") == [(16384,)]

    @pytest.mark.parametrize("text", ["plain", "caf\u00e9", "bad\udcff-bytes", "\ud800lone"])
    def test_text_round_trips_through_the_encoding(self, text: str) -> None:
        """Any str, lone surrogates included, survives enc/dec (TEXT or BLOB)."""
        stored = codec.enc(text)
        assert isinstance(stored, str) == (text.isascii() or "\u00e9" in text)
        assert codec.dec(stored) == text
        assert codec.jload(codec.jdump({"p": text})) == {"p": text}


class TestDocuments:
    def test_hand_built_document_tracks_changes(self) -> None:
        """An in-memory document reports what was set and deleted."""
        doc = RegistryDoc(models={"a": make_entry("a"), "b": make_entry("b")})
        doc.models.take_changes()
        doc.models["c"] = make_entry("c")
        del doc.models["a"]
        assert doc.models.take_changes() == ({"c"}, {"a"})
        assert doc.live_count() == 2
        assert doc.models.row("b")["file_path"] == "models/b.md"

    def test_read_only_snapshot_never_writes(self, store: RegistryStore) -> None:
        """Changing a snapshot's entry in memory does not reach the database."""
        write(store, "a")
        snapshot = store.load()
        snapshot.models["a"].description = "in memory only"
        snapshot.models.flush()
        assert store.load().models["a"].description == ""


V1_REGISTRY = {
    "schema_version": 1, "generation": 7, "updated_at": "2026-11-01T00:00:00.000000Z",
    "last_scan_at": "2026-11-01T00:00:00.000000Z", "roots": ["/data/models"],
}


def v1_file(path: Path) -> dict[str, object]:
    """Write a schema-1 registry with curation, history and a deleted model; return it."""
    live = make_entry("live", version="1.0.1")
    live.versions.insert(0, make_entry("live").versions[0])
    live.tags = ["t1"]
    live.aliases = {"prod": "1.0.0"}
    live.state = "deprecated"
    gone = make_entry("gone")
    gone.deleted = True
    data = {**V1_REGISTRY, "models": {"gone": gone.to_dict(), "live": live.to_dict()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), "utf-8")
    return data


STEP4 = {"models": {"m1": {
    "model_id": "m1", "name": "Model One", "description": "d", "current_version": "1.1.0",
    "tags": ["pomdp"], "metadata": {"variables": 3, "file_path": "/x/m1.md"},
    "created_at": "2026-01-01T00:00:00", "updated_at": "2026-01-02T00:00:00",
    "versions": {
        "1.1.0": {"version": "1.1.0", "hash": "b" * 64, "created_at": "2026-01-02T00:00:00",
                  "metadata": {"variables": 3}},
        "1.0.0": {"version": "1.0.0", "hash": "a" * 64, "created_at": "2026-01-01T00:00:00",
                  "metadata": {"variables": 2}}}}}}


class TestJsonImport:
    def test_schema_1_registry_is_imported_losing_nothing(self, store: RegistryStore) -> None:
        """Versions, history, aliases, tags, states and deleted ids all survive the import;
        the original file is kept under a new name."""
        data = v1_file(store.view_path)
        doc = store.load()
        for mid, raw in data["models"].items():  # type: ignore[attr-defined]
            assert doc.models[mid].to_dict() == raw
        assert doc.roots == ["/data/models"]
        kept = store.view_path.with_name(store.view_path.name + IMPORTED_SUFFIX)
        assert json.loads(kept.read_text("utf-8")) == data
        assert store.load().models["gone"].deleted

    def test_step4_registry_is_imported(self, store: RegistryStore) -> None:
        """A reference step-4 registry: ids, names, versions by hash, tags."""
        store.view_path.parent.mkdir(parents=True)
        store.view_path.write_text(json.dumps(STEP4), "utf-8")
        entry = store.load().models["m1"]
        assert (entry.model_name, entry.version, entry.tags) == ("Model One", "1.1.0", ["pomdp"])
        assert [(v.version, v.sha256) for v in entry.versions] == [
            ("1.0.0", "a" * 64), ("1.1.0", "b" * 64)]
        assert entry.sha256 == "b" * 64
        assert entry.file_path == "/x/m1.md"

    @pytest.mark.parametrize("payload", [b"[" * 100_000, b"{\"models\": 3}", b"\xff\xfe",
                                         b'{"schema_version": 9, "models": {}}'])
    def test_unimportable_json_is_refused_clearly(self, payload: bytes) -> None:
        """Deep nesting, a wrong shape, bad UTF-8 or an unknown version: NotImportableError."""
        with pytest.raises(NotImportableError):
            decode_json(payload)


class TestMetadataFiles:
    def test_body_is_readable_json(self) -> None:
        """The metadata body parses back to the entry's compact form and puts each top-level
        key and each version on its own line."""
        data = make_entry("m").to_dict()
        body = metadata_body(data)
        compact = metadata_entry(data)
        assert json.loads(body) == compact
        assert body.count(b"\n") > len(compact)

    def test_body_keeps_non_utf8_paths(self) -> None:
        """A surrogate-escaped file name is written as a JSON escape and reads back equal."""
        entry = make_entry("m")
        entry.file_path = "dir/\udcffname.md"
        assert json.loads(metadata_body(entry.to_dict()))["file_path"] == "dir/\udcffname.md"

    @pytest.mark.parametrize("count", [3, 12])
    def test_batch_write_replaces_every_file(self, tmp_path: Path, count: int) -> None:
        """Small and large batches both leave every file complete and no temp files."""
        items = [(tmp_path / f"m{i}" / f"m{i}.json", f'{{"n":{i}}}'.encode())
                 for i in range(count)]
        write_metadata_files(items)
        write_metadata_files(items)
        assert all(json.loads(path.read_bytes()) == {"n": i}
                   for i, (path, _data) in enumerate(items))
        assert not list(tmp_path.rglob("*.tmp"))

"""The registry file layout (one model per line, checksums, index rows) and the lazy models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.backups import decode
from registry.config import Config
from registry.docfile import InvalidRegistryError, encode, read_index
from registry.metafiles import metadata_body, write_metadata_files
from registry.records import RegistryDoc
from registry.store import RegistryStore
from tests.helpers import make_entry


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> RegistryStore:
    return RegistryStore(Config(output_dir=tmp_path / "out", lock_timeout=5.0, backup_count=5))


def write(store: RegistryStore, *model_ids: str) -> None:
    """Add the models in one transaction."""
    with store.transaction() as doc:
        for mid in model_ids:
            doc.models[mid] = make_entry(mid)


class TestLayout:
    def test_file_is_json_with_one_model_per_line(self, store: RegistryStore) -> None:
        """The file parses as one JSON document and each model sits on its own line."""
        write(store, "b", "a", "c")
        data = store.path.read_bytes()
        parsed = json.loads(data)
        assert sorted(parsed["models"]) == ["a", "b", "c"]
        lines = data.decode().splitlines()
        model_lines = lines[lines.index('},"models":{') + 1:-1]
        assert [json.loads("{" + line.rstrip(",") + "}").popitem()[0]
                for line in model_lines] == ["a", "b", "c"]
        assert parsed["model_count"] == 3
        assert set(parsed["index"]) == {"a", "b", "c"}

    def test_round_trip_keeps_every_field(self, store: RegistryStore) -> None:
        """Decoding the bytes gives back the entries that were written."""
        entry = make_entry("m1")
        entry.tags = ["x", "ü"]
        doc = RegistryDoc(models={"m1": entry}, generation=4, roots=["/r"])
        back = decode(encode(doc))
        assert back.models["m1"].to_dict() == entry.to_dict()
        assert (back.generation, back.roots) == (4, ["/r"])

    def test_empty_registry_round_trips(self) -> None:
        """A document without models encodes to valid JSON and decodes to no models."""
        data = encode(RegistryDoc(generation=2))
        assert json.loads(data)["models"] == {}
        assert len(decode(data).models) == 0

    def test_edited_model_line_fails_the_checksum(self, store: RegistryStore) -> None:
        """Changing a byte inside a model line (still valid JSON) is detected as corruption."""
        write(store, "a")
        data = store.path.read_bytes().replace(b'"Model a"', b'"Model z"')
        json.loads(data)
        with pytest.raises(InvalidRegistryError, match="checksum"):
            decode(data)

    def test_torn_file_is_rejected(self, store: RegistryStore) -> None:
        """A file cut short is not a registry."""
        write(store, "a", "b")
        data = store.path.read_bytes()
        with pytest.raises(InvalidRegistryError):
            decode(data[:len(data) // 2])

    def test_checksum_mismatch_recovers_from_backup(self, store: RegistryStore) -> None:
        """A registry failing its checksum is replaced by the newest valid backup on load."""
        write(store, "a")
        write(store, "b")
        data = store.path.read_bytes().replace(b'"Model b"', b'"Model y"')
        store.path.write_bytes(data)
        fresh = RegistryStore(store.config)
        assert sorted(fresh.load().models) == ["a"]

    def test_indented_file_without_checksum_loads_via_general_path(
            self, store: RegistryStore) -> None:
        """A hand-written indented registry (no checksum) loads and is rewritten compactly."""
        doc = {"schema_version": 1, "generation": 3, "models": {"a": make_entry("a").to_dict()}}
        store.path.parent.mkdir(parents=True)
        store.path.write_text(json.dumps(doc, indent=2), "utf-8")
        assert store.load().models["a"].model_name == "Model a"
        write(store, "b")
        parsed = json.loads(store.path.read_bytes())
        assert "checksum" in parsed
        assert sorted(parsed["models"]) == ["a", "b"]


class TestLazyModels:
    def test_entries_are_decoded_only_on_access(self, store: RegistryStore) -> None:
        """Loading decodes no entry; reading an index row does not decode one either."""
        write(store, "a", "b")
        doc = RegistryStore(store.config).load()
        assert doc.models.row("a")["file_path"] == "models/a.md"
        assert not doc.models.is_decoded("a")
        assert doc.models["a"].model_id == "a"
        assert doc.models.is_decoded("a")
        assert not doc.models.is_decoded("b")

    def test_index_only_read_decodes_from_the_same_file(self, store: RegistryStore) -> None:
        """An index-only document reads an entry later, even after the file was replaced."""
        write(store, "a")
        doc = read_index(store.path)
        assert doc is not None
        write(store, "b")
        assert list(doc.models) == ["a"]
        assert doc.models["a"].model_name == "Model a"

    def test_unchanged_transaction_writes_nothing(self, store: RegistryStore) -> None:
        """Reading an entry inside a transaction without changing it does not write."""
        write(store, "a")
        before = store.path.stat().st_ino
        with store.transaction() as doc:
            assert doc.models["a"].version == "1.0.0"
        assert store.path.stat().st_ino == before

    def test_row_follows_a_changed_entry(self, store: RegistryStore) -> None:
        """The index row of a decoded entry reflects changes made to it."""
        write(store, "a")
        with store.transaction() as doc:
            doc.models["a"].state = "archived"
            assert doc.models.row("a")["state"] == "archived"
        assert RegistryStore(store.config).load().models.row("a")["state"] == "archived"

    def test_change_by_another_process_is_seen(self, store: RegistryStore) -> None:
        """A store's cached document is not used once another writer replaced the file."""
        write(store, "a")
        write(RegistryStore(store.config), "b")
        with store.transaction() as doc:
            assert sorted(doc.models) == ["a", "b"]


class TestMetadataFiles:
    def test_body_is_readable_json(self) -> None:
        """The metadata body parses back to the entry and puts each version on one line."""
        data = make_entry("m").to_dict()
        body = metadata_body(data)
        assert json.loads(body) == data
        assert body.count(b"\n") > len(data)

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

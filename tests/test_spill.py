"""Streamed registry writes, lazily built metadata batches and spilled model lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry import modelmap
from registry.atomic import write_atomic
from registry.config import Config
from registry.docfile import decode, encode, encoding
from registry.errors import StoreError
from registry.metafiles import write_metadata_files
from registry.records import RegistryDoc
from registry.spill import SpilledLine
from registry.store import RegistryStore
from tests.helpers import make_entry

IDS = [f"m{number:03d}" for number in range(12)]


def build() -> RegistryDoc:
    """A document of :data:`IDS`, every entry frozen into its line."""
    doc = RegistryDoc(generation=3, roots=["/r"])
    for mid in IDS:
        doc.models[mid] = make_entry(mid)
        doc.models.freeze(mid)
    return doc


@pytest.fixture(name="spilling")
def _spilling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modelmap, "SPILL_AFTER", 0)


class TestEncoding:
    def test_chunks_join_to_the_encoded_bytes(self) -> None:
        """Any chunk size gives the same bytes, and ``size``/``first_line`` describe them."""
        doc = build()
        data = encode(doc)
        enc = encoding(doc)
        assert enc.size == len(data)
        assert enc.first_line == data[:data.find(b"\n")]
        for size in (1, 100, 1 << 20):
            assert b"".join(enc.chunks(size)) == data

    def test_empty_document(self) -> None:
        """No models: the streamed bytes still decode and match the size."""
        enc = encoding(RegistryDoc(generation=1))
        data = b"".join(enc.chunks())
        assert len(data) == enc.size
        assert len(decode(data).models) == 0


class TestSpill:
    @pytest.mark.usefixtures("spilling")
    def test_spilled_lines_encode_to_the_same_bytes(self) -> None:
        """Spilling changes where lines are kept, never the file's bytes."""
        doc = build()
        lines = doc.models._all_lines()  # the representation under test
        assert all(isinstance(line, SpilledLine) for line in lines.values())
        data = encode(doc)
        back = decode(data)
        assert encode(back) == data
        for mid in IDS:
            assert doc.models.raw(mid) == back.models.raw(mid)
            assert doc.models[mid].to_dict() == back.models[mid].to_dict()

    def test_rows_of_a_spilling_map_equal_the_rows_of_a_plain_one(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Once lines spill, rows are kept as lines only and decoded on demand: same rows."""
        plain = build()
        monkeypatch.setattr(modelmap, "SPILL_AFTER", 0)
        spilled = build()
        assert spilled.models._rows["m003"] is modelmap._FROM_LINE  # the representation
        assert dict(spilled.models.rows()) == dict(plain.models.rows())
        assert spilled.models.row("m007") == plain.models.row("m007")
        assert dict(decode(encode(spilled)).models.rows()) == dict(spilled.models.rows())

    @pytest.mark.usefixtures("spilling")
    def test_unchanged_refreeze_is_not_a_change(self) -> None:
        """Re-encoding an unchanged spilled entry is not a change; an edited one is."""
        doc = build()
        doc.models.take_changes()
        _ = doc.models["m001"]  # decode it again
        assert not doc.models.freeze("m001")
        doc.models["m002"].tags.append("new")
        assert doc.models.freeze("m002")
        assert doc.models.raw("m002")["tags"] == ["new"]

    @pytest.mark.usefixtures("spilling")
    def test_copy_shares_spilled_lines(self) -> None:
        """A copy reads the same spilled lines; deleting from one does not touch the other."""
        doc = build()
        copy = doc.models.copy_encoded()
        del doc.models["m000"]
        assert copy.raw("m000")["model_id"] == "m000"

    @pytest.mark.usefixtures("spilling")
    def test_store_round_trip_with_spilled_lines(self, tmp_path: Path) -> None:
        """A transaction whose lines spill writes a registry and metadata files that verify."""
        store = RegistryStore(Config(output_dir=tmp_path / "out", lock_timeout=5.0))
        with store.transaction() as doc:
            for mid in IDS:
                doc.models[mid] = make_entry(mid)
                doc.models.freeze(mid)
        fresh = RegistryStore(Config(output_dir=tmp_path / "out", lock_timeout=5.0))
        loaded = fresh.load()
        assert sorted(loaded.models) == IDS
        assert store.verify() == []
        meta = json.loads(store.metadata_path("m005").read_text())
        assert meta == loaded.models.raw("m005")
        with store.transaction() as again:  # served from the cache of the spilled write
            again.models["m004"].tags.append("x")
        assert fresh.load().models["m004"].tags == ["x"]


class TestStreamedWrites:
    def test_failing_chunk_keeps_the_previous_file(self, tmp_path: Path) -> None:
        """A chunk producer that raises leaves the old file and no temp file."""
        target = tmp_path / "f.json"
        write_atomic(target, b"old")

        def chunks() -> Iterator[bytes]:
            yield b"new"
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            write_atomic(target, chunks())
        assert target.read_bytes() == b"old"
        assert [p.name for p in tmp_path.iterdir()] == ["f.json"]

    def test_lazy_metadata_batch(self, tmp_path: Path) -> None:
        """A lazy batch creates directories as it goes and writes every file."""
        items = ((tmp_path / f"d{n}" / "x.json", f"{n}\n".encode()) for n in range(20))
        write_metadata_files(items, count=20)
        assert (tmp_path / "d7" / "x.json").read_bytes() == b"7\n"

    def test_lazy_metadata_batch_failure_leaves_no_temp(self, tmp_path: Path) -> None:
        """An item that cannot be produced removes the temp files already written."""
        def items() -> Iterator[tuple[Path, bytes]]:
            for n in range(10):
                yield tmp_path / f"d{n}" / "x.json", b"{}\n"
            raise StoreError("no more")

        with pytest.raises(StoreError, match="no more"):
            write_metadata_files(items(), count=20)
        assert not list(tmp_path.glob("d*/.*.tmp"))
        assert not list(tmp_path.glob("d*/x.json"))

"""Compressed backups (issue 10): made as ``.sqlite3.gz``, restored, recovered from, checked;
old uncompressed backups still work; damaged ``.gz`` files are reported and skipped."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from registry.config import Config
from registry.errors import StoreCorruptError
from registry.storage import gzfiles
from registry.storage.backups import copy_database, read_info
from registry.storage.gzfiles import BackupUnreadableError, decompress_file
from registry.storage.store import RegistryStore
from tests.helpers import make_entry
from tests.helpers.daemon import console_script


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> RegistryStore:
    return RegistryStore(Config(output_dir=tmp_path / "out", lock_timeout=5.0, backup_count=10))


@pytest.fixture(name="private_tmp")
def _private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp directory, redirected so a test can see what is left in it."""
    where = tmp_path / "systemp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def add(store: RegistryStore, *model_ids: str) -> None:
    """Add each model in its own transaction (each makes a backup)."""
    for mid in model_ids:
        with store.transaction() as doc:
            doc.models[mid] = make_entry(mid)


def old_style_backup(store: RegistryStore) -> Path:
    """An uncompressed backup named as the previous release wrote them, of the live
    database as it is now, with a time earlier than every backup made by this test."""
    conn = sqlite3.connect(store.path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        target = store.backup_dir / (f"model_registry.{meta['store_id']}."
                                     f"{int(meta['generation']):08d}.20000101T000000Z.sqlite3")
        copy_database(conn, target)
    finally:
        conn.close()
    return target


def damage(store: RegistryStore) -> None:
    """Overwrite the database with garbage (it is checkpointed: no WAL)."""
    assert not store.path.with_name(store.path.name + "-wal").exists()
    store.path.write_bytes(b"this is not a database at all\n" * 50)


class TestMaking:
    def test_backup_is_a_gzip_of_a_self_contained_database(self, store: RegistryStore,
                                                           tmp_path: Path) -> None:
        """The backup is ``<stem>.<store id>.<generation>.<UTC>.sqlite3.gz``; it
        decompresses (with the standard gzip tool's format) to a database in rollback
        journal mode holding the last commit."""
        add(store, "a", "b")
        newest = store.backup_list()[0]
        assert newest.compressed
        assert newest.path.name.endswith(".00000002." + newest.stamp + ".sqlite3.gz")
        plain = tmp_path / "plain.sqlite3"
        plain.write_bytes(gzip.decompress(newest.path.read_bytes()))
        header = plain.read_bytes()[:100]
        assert header.startswith(b"SQLite format 3\0")
        assert (header[18], header[19]) == (1, 1)  # not WAL: opens alone, read-only
        conn = sqlite3.connect(f"file:{plain}?mode=ro", uri=True)
        try:
            assert conn.execute("SELECT count(*) FROM models").fetchone()[0] == 2
        finally:
            conn.close()
        assert oct(newest.path.stat().st_mode & 0o777) == "0o644"

    def test_no_temp_file_is_left(self, store: RegistryStore, private_tmp: Path) -> None:
        """Making, checking and listing backups leaves no temp file behind, neither in
        backups/ nor in the system temp directory."""
        add(store, "a", "b")
        assert [read_info(b.path).problems for b in store.backup_list()] == [[], []]
        assert store.verify() == []
        assert [p.name for p in store.backup_dir.iterdir() if p.name.startswith(".")] == []
        assert list(private_tmp.iterdir()) == []

    def test_a_killed_backup_leaves_temps_the_next_writer_sweeps(
            self, store: RegistryStore) -> None:
        """The two temp files of a backup (the raw copy, the gzip) of a killed writer go
        with the next writer's first write; they are never listed as backups."""
        add(store, "a")
        name = store.backup_list()[0].path.name
        temps = [store.backup_dir / f".{name}.4242.raw.tmp", store.backup_dir / f".{name}.4242.tmp"]
        for temp in temps:
            temp.write_bytes(b"partial")
        assert len(store.backup_list()) == 1
        add(RegistryStore(store.config), "b")
        assert not any(t.exists() for t in temps)


class TestRestoring:
    def test_restore_named_compressed_backup(self, store: RegistryStore) -> None:
        """A compressed backup named by file name is installed; the registry then verifies."""
        add(store, "a", "b", "c")
        first = store.backup_list()[-1]
        assert first.compressed
        doc = store.restore(Path(first.path.name))
        assert set(doc.models) == {"a"}
        assert store.restored_from == first.path
        assert store.verify() == []

    def test_corrupt_database_recovered_from_compressed_backup(
            self, store: RegistryStore) -> None:
        """A damaged database is set aside and the newest compressed backup installed."""
        add(store, "a", "b")
        damage(store)
        with capture_logs() as logs:
            doc = store.load()
        assert set(doc.models) == {"a", "b"}
        assert store.health() is None
        warning = next(e for e in logs if e["event"] == "registry_recovered")
        assert warning["backup"].endswith(".sqlite3.gz")

    def test_deleted_database_restored_from_compressed_backup(
            self, store: RegistryStore) -> None:
        """A missing database beside compressed backups is restored, not restarted."""
        add(store, "a", "b")
        store.path.unlink()
        add(store, "c")
        assert set(store.load().models) == {"a", "b", "c"}

    def test_old_uncompressed_backup_is_listed_checked_and_restorable(
            self, store: RegistryStore) -> None:
        """A backup from before compression is listed among the new ones, checked by
        verify, counted by rotation and restored by name."""
        add(store, "a")
        old = old_style_backup(store)
        add(store, "b", "c")
        listed = store.backup_list()
        assert [b.compressed for b in listed] == [True, True, True, False]
        assert listed[-1].path == old
        assert read_info(old).problems == []
        assert store.verify() == []
        doc = store.restore(Path(old.name))
        assert set(doc.models) == {"a"}
        assert store.restored_from == old

    def test_rotation_counts_both_kinds(self, tmp_path: Path) -> None:
        """Rotation keeps the newest backup_count of old and new backups together."""
        store = RegistryStore(Config(output_dir=tmp_path / "out", backup_count=3))
        add(store, "a")
        old = old_style_backup(store)  # the oldest of the three
        add(store, "b")
        assert old.exists()
        add(store, "c")
        assert not old.exists()
        assert [(b.generation, b.compressed) for b in store.backup_list()] == [
            (3, True), (2, True), (1, True)]

    def test_restore_list_shows_both_kinds(self, store: RegistryStore) -> None:
        """``gnn-registry restore --list --json`` (a real process) lists old and new
        backups with their generation and model count."""
        add(store, "a")
        old = old_style_backup(store)
        add(store, "b")
        result = subprocess.run(
            [str(console_script("gnn-registry")), "restore", "--list", "--json",
             "--output-dir", str(store.config.registry_dir)],
            capture_output=True, text=True, check=False, timeout=120)
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        assert [(r["name"], r["generation"], r["models"], r["ok"]) for r in rows][-1] == (
            old.name, 1, 1, True)
        assert rows[0]["name"].endswith(".sqlite3.gz")
        assert (rows[0]["generation"], rows[0]["models"], rows[0]["ok"]) == (2, 2, True)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def flip_crc(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # the CRC-32 of the gzip trailer
    path.write_bytes(bytes(data))


def garbage(path: Path) -> None:
    path.write_bytes(b"no gzip here, no database either\n" * 20)


def trailing(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"junk")


DAMAGES = {"truncated": (truncate, "the compressed backup is truncated"),
           "bad_crc": (flip_crc, "the compressed backup is damaged"),
           "garbage": (garbage, "the compressed backup is damaged"),
           "trailing_bytes": (trailing, "the compressed backup has bytes after its gzip")}


class TestDamagedCompressedBackups:
    @pytest.mark.parametrize("kind", sorted(DAMAGES))
    def test_damaged_gz_is_reported_and_skipped(self, store: RegistryStore, kind: str,
                                                private_tmp: Path) -> None:
        """A damaged newest ``.gz`` is reported by read_info and verify (naming the file),
        recovery skips it for the older sound one, and it is refused when named."""
        add(store, "a", "b")
        newest = store.backup_list()[0].path
        spoil, words = DAMAGES[kind]
        spoil(newest)
        problems = read_info(newest).problems
        assert len(problems) == 1
        assert problems[0].startswith(words)
        assert any(p.startswith(f"{newest}:") and words in p for p in store.verify())
        with pytest.raises(StoreCorruptError):
            store.restore(newest)
        damage(store)
        with capture_logs() as logs:
            doc = store.load()
        assert set(doc.models) == {"a"}
        skipped = [e for e in logs if e["event"] == "backup_invalid"]
        assert [e["path"] for e in skipped] == [str(newest)]
        assert list(private_tmp.iterdir()) == []


class TestGzipFiles:
    def test_round_trip_of_a_file_larger_than_a_chunk(self, tmp_path: Path) -> None:
        """Compress then decompress gives the same bytes across several chunks."""
        source = tmp_path / "data"
        data = os.urandom(1000) * (3 * gzfiles.CHUNK // 1000 + 7)
        source.write_bytes(data)
        packed = tmp_path / "data.gz"
        gzfiles.compress_file(source, packed)
        assert len(packed.read_bytes()) < len(data) // 10
        out = tmp_path / "out"
        decompress_file(packed, out)
        assert out.read_bytes() == data

    def test_failed_decompression_removes_its_output(self, tmp_path: Path) -> None:
        """A truncated stream raises and leaves no output file."""
        packed = tmp_path / "x.gz"
        packed.write_bytes(zlib.compress(b"a" * 100_000)[:30])
        out = tmp_path / "out"
        with pytest.raises(BackupUnreadableError):
            decompress_file(packed, out)
        assert not out.exists()

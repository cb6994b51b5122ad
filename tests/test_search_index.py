"""Search through the SQLite FTS5 text index, and the same answers without it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from registry.config import Config
from registry.model.records import ModelEntry, RegistryDoc
from registry.model.search import search
from registry.storage import codec
from registry.storage.store import RegistryStore
from tests.helpers import make_entry

QUERIES = ["model", "Model m1", "blue", "BLUE whale", "ab", "m2", "zzz", "tag:blue",
           "whale state:active", "desc", "\"m1 \"", "mo*"]


def entries() -> list[ModelEntry]:
    """Thirty models with varied names, descriptions and tags."""
    out = []
    for i in range(30):
        entry = make_entry(f"m{i}")
        entry.description = ("a blue whale model" if i % 3 == 0 else "desc of a small agent")
        entry.tags = ["Blue"] if i % 4 == 0 else ["red", f"t{i}"]
        if i % 7 == 0:
            entry.model_name = f"Whale Watcher {i}"
        out.append(entry)
    return out


def build(out: Path) -> RegistryStore:
    store = RegistryStore(Config(output_dir=out, write_model_metadata=False))
    with store.transaction() as doc:
        for entry in entries():
            doc.models[entry.model_id] = entry
    with store.transaction() as doc:  # a later change must reach the index too
        doc.models["m5"].description = "now a blue whale too"
        del doc.models["m6"]
    return store


def reference() -> RegistryDoc:
    """The same registry in memory: search checks every model, no index."""
    doc = RegistryDoc(models={e.model_id: e for e in entries()})
    doc.models["m5"].description = "now a blue whale too"
    del doc.models["m6"]
    return doc


def ids(found: list[ModelEntry]) -> list[str]:
    return [e.model_id for e in found]


@pytest.mark.parametrize("query", QUERIES)
def test_index_gives_the_same_answers_as_a_full_scan(tmp_path: Path, query: str) -> None:
    """With the FTS5 index, every query returns exactly what checking every model does."""
    store = build(tmp_path / "out")
    doc = store.load()
    assert doc.models.text_candidates(["whale"]) is not None  # the index is there and used
    assert ids(search(doc, query)) == ids(search(reference(), query))


def test_forced_fallback_without_fts5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the sqlite3 module lacks FTS5, no index is made and search scans the rows,
    with the same answers."""
    real_connect = sqlite3.connect

    def ensure_fts(conn: sqlite3.Connection) -> bool:
        del conn
        return False  # what ensure_fts answers when CREATE VIRTUAL TABLE ... fts5 fails

    monkeypatch.setattr(codec, "ensure_fts", ensure_fts)
    store = build(tmp_path / "out")
    conn = real_connect(store.path)
    try:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'model_text'"
                            ).fetchone() == (0,)
    finally:
        conn.close()
    doc = store.load()
    assert doc.models.text_candidates(["whale"]) is None
    for query in QUERIES:
        assert ids(search(doc, query)) == ids(search(reference(), query))

"""Compact derived files (issue 10): the per-model metadata files and the JSON view, read
after real scans of GNN files of our own."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from registry.config import Config, load_config
from registry.scanning.scan import Scanner
from registry.storage.schemacheck import check_document, registry_schema
from registry.storage.store import RegistryStore
from registry.storage.view import SMALL_TEXT, compact_metadata

SEED_MODEL_KEYS = ("model_id", "model_name", "file_path", "file_size_bytes", "registered_at",
                   "version")
BLOCK = 4096


def gnn_text(name: str, size: int = 3, *, extra: str = "") -> str:
    """A valid GNN model; ``size`` changes dimensions only (same family)."""
    ones = ",".join(["0.1"] * size)
    rows = ",".join(f"({ones})" for _ in range(size))
    return (f"---\ntags: [pomdp, test]\nauthor: Tester\nlicense: MIT\n---\n"
            f"# GNN Example: {name}\n# GNN Version: 1.0\n\n"
            "## GNNSection\nTestModel\n\n## GNNVersionAndFlags\nGNN v1\n\n"
            f"## ModelName\n{name}\n\n## ModelAnnotation\nA small model of {name}.\n\n"
            f"## StateSpaceBlock\nA[{size},{size},type=float]\ns[{size},1,type=float]\n"
            f"o[{size},1,type=float]\n{extra}\n"
            "## Connections\ns>A\nA>o\n\n"
            f"## InitialParameterization\nA={{{rows}}}\n\n"
            f"## Time\nStatic\n\n## Footer\n{name}\n")


def write(path: Path, text: str, *, age: float) -> None:
    """Write a file dated ``age`` seconds ago (older than the scanner's settle window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))


def config_for(tmp_path: Path) -> Config:
    return load_config(environ={}, overrides={"output_dir": tmp_path / "out",
                                              "actor": "tester"})


@pytest.fixture(name="scanned")
def _scanned(tmp_path: Path) -> tuple[Path, Config]:
    """Three models of one family scanned, then one of them (agent) edited out of it."""
    src = tmp_path / "src"
    write(src / "agent.md", gnn_text("Agent"), age=3600)
    write(src / "agent_big.md", gnn_text("Agent Big", 5), age=3600)
    write(src / "agent_mid.md", gnn_text("Agent Mid", 4), age=3600)
    config = config_for(tmp_path)
    assert Scanner(config).reconcile([src]).exit_code == 0
    write(src / "agent.md", gnn_text("Agent", extra="u[2,type=int]\n"), age=1800)
    assert Scanner(config).reconcile([src]).exit_code == 0
    return src, config


def metadata_file(config: Config, mid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RegistryStore(config).metadata_path(mid).read_bytes())
    return data


class TestMetadataFiles:
    def test_current_state_versions_and_history(self, scanned: tuple[Path, Config]) -> None:
        """The file holds the seed's model-level fields, one line per version and the
        history, matching the registry."""
        _src, config = scanned
        entry = RegistryStore(config).load().models["agent"]
        body = metadata_file(config, "agent")
        for key in SEED_MODEL_KEYS:
            assert body[key] == getattr(entry, key)
        assert (body["metadata"]["variables"], body["metadata"]["connections"]) == (
            entry.metadata["variables"], entry.metadata["connections"])
        assert body["version"] == "1.1.0"
        assert body["sha256"] == entry.sha256
        assert [(v["version"], v["sha256"], v["change"]) for v in body["versions"]] == [
            (v.version, v.sha256, v.change) for v in entry.versions]
        assert [e["event"] for e in body["history"]] == [e.event for e in entry.history]
        assert body["history"][-1]["event"] == "version_added"
        assert body["tags"] == ["pomdp", "test"]

    def test_no_structure_or_repeated_metadata(self, scanned: tuple[Path, Config]) -> None:
        """Structure snapshots, section lists, version metadata, scan state and family
        links are left to the store; the metadata object repeats no model-level field."""
        _src, config = scanned
        body = metadata_file(config, "agent")
        text = json.dumps(body)
        for word in ('"structure"', '"sections"', '"file_stat"', '"source_index"',
                     '"same_family"', '"dimensions"'):
            assert word not in text
        assert all("metadata" not in v for v in body["versions"])
        assert not {"model_name", "description", "tags", "sha256"} & set(body["metadata"])
        assert (body["metadata"]["author"], body["metadata"]["license"]) == ("Tester", "MIT")

    def test_family_is_a_key_not_links(self, scanned: tuple[Path, Config]) -> None:
        """Two models of one family share the signature in their files, which list no
        family links, while the store links them."""
        _src, config = scanned
        doc = RegistryStore(config).load()
        assert ("same_family", "agent_mid") in [
            (r.type, r.target) for r in doc.models["agent_big"].relationships]
        big, mid = metadata_file(config, "agent_big"), metadata_file(config, "agent_mid")
        assert big["metadata"]["signature"] == mid["metadata"]["signature"]
        assert big["metadata"]["signature"] != metadata_file(config, "agent")["metadata"][
            "signature"]
        assert big["relationships"] == mid["relationships"] == []

    def test_a_typical_file_fits_one_block(self, scanned: tuple[Path, Config]) -> None:
        """A model with two versions and its history: one 4 KiB block."""
        _src, config = scanned
        for mid in ("agent", "agent_big"):
            assert RegistryStore(config).metadata_path(mid).stat().st_size < BLOCK

    def test_verify_reports_empty_unreadable_and_stale_files(
            self, scanned: tuple[Path, Config]) -> None:
        """An empty, a non-JSON and an out-of-date metadata file are each reported by
        verify; the next write rewrites the empty one."""
        src, config = scanned
        store = RegistryStore(config)
        assert store.verify() == []
        agent, big = store.metadata_path("agent"), store.metadata_path("agent_big")
        stale = json.loads(agent.read_bytes())
        stale["version"] = "1.0.0"
        agent.write_text(json.dumps(stale), encoding="utf-8")
        big.write_bytes(b"")
        problems = store.verify()
        assert any("agent:" in p and "is stale" in p and "version 1.0.0" in p for p in problems)
        assert any("agent_big:" in p and "is empty" in p for p in problems)
        big.write_bytes(b"{not json")
        assert any("agent_big:" in p and "unreadable" in p for p in store.verify())
        big.write_bytes(b"")
        write(src / "other.md", gnn_text("Other"), age=3600)
        assert Scanner(config).reconcile([src]).exit_code == 0
        assert json.loads(big.read_bytes())["model_id"] == "agent_big"


class TestView:
    def test_view_conforms_to_the_packaged_schema(self, scanned: tuple[Path, Config]) -> None:
        """The view after real scans passes the project's checker and a full JSON Schema
        validator; the seed's fields are there, spelled as before."""
        _src, config = scanned
        data = json.loads(RegistryStore(config).view_path.read_bytes())
        assert check_document(data) == []
        jsonschema = pytest.importorskip("jsonschema")
        jsonschema.Draft202012Validator(registry_schema()).validate(data)
        model = data["models"]["agent"]
        for key in SEED_MODEL_KEYS:
            assert key in model
        assert set(model["metadata"]) >= {"variables", "connections"}

    def test_view_metadata_is_small_scalars(self, scanned: tuple[Path, Config]) -> None:
        """No list, object, null or repeated field in any model's view metadata."""
        _src, config = scanned
        data = json.loads(RegistryStore(config).view_path.read_bytes())
        for model in data["models"].values():
            meta = model["metadata"]
            assert not {"model_name", "description", "tags", "sha256"} & set(meta)
            assert all(isinstance(v, str | int | float | bool) for v in meta.values())
            assert model["description"]  # still at model level

    def test_schema_refuses_large_or_repeated_metadata(
            self, scanned: tuple[Path, Config]) -> None:
        """The schema rejects a list, a long string or a repeated field in metadata."""
        _src, config = scanned
        data = json.loads(RegistryStore(config).view_path.read_bytes())
        meta = data["models"]["agent"]["metadata"]
        for key, value in (("sections", ["A", "B"]), ("note", "x" * (SMALL_TEXT + 1)),
                           ("sha256", "0" * 64)):
            bad = dict(meta, **{key: value})
            data["models"]["agent"]["metadata"] = bad
            assert check_document(data), key


class TestCompactMetadata:
    def test_rule(self) -> None:
        """Numbers, booleans and short strings stay; the rest goes; order is kept."""
        meta = {"model_name": "M", "variables": 3, "connections": 2, "author": None,
                "tags": ["a"], "depends_on": [], "gnn_section": "S", "flag": True,
                "description": "d", "sha256": "f" * 64, "signature": "e" * 64,
                "note": "n" * (SMALL_TEXT + 1), "ratio": 0.5, "time": {"Time": "t"}}
        assert compact_metadata(meta) == {"variables": 3, "connections": 2, "gnn_section": "S",
                                          "flag": True, "signature": "e" * 64, "ratio": 0.5}
        assert list(compact_metadata(meta)) == ["variables", "connections", "gnn_section",
                                                "flag", "signature", "ratio"]

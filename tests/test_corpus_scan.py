"""Acceptance on the real corpus (copied to tmp_path; skipped when the corpus is absent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from registry.gnn import check_bytes
from registry.scanning.scan import Scanner
from tests.test_scan import config_for, load

pytestmark = pytest.mark.corpus


@pytest.fixture(name="tree")
def _tree(corpus_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the corpus, so mtime and rename tests never touch the shared one."""
    root = tmp_path / "corpus"
    shutil.copytree(corpus_dir / "gnn_files", root / "gnn_files")
    shutil.copytree(corpus_dir / "extra", root / "extra")
    return root


class TestCorpusScan:
    def test_registers_exactly_what_the_validator_accepts(self, tree, tmp_path):
        """Every file check_bytes accepts is registered, none it rejects; exit 1; rescan is idle."""
        files = sorted((tree / "gnn_files").rglob("*.md"))
        accepted = {str(p) for p in files if check_bytes(p.read_bytes()).ok}
        rejected = {str(p) for p in files} - accepted
        assert accepted
        assert rejected
        config = config_for(tmp_path)
        report = Scanner(config).reconcile([tree / "gnn_files"])
        assert report.exit_code == 1
        registered = {o.path for o in report.outcomes if o.status == "registered"}
        invalid = {o.path for o in report.outcomes if o.status == "invalid"}
        assert registered == accepted
        assert invalid == rejected
        doc = load(tmp_path)
        assert {m.file_path for m in doc.models.values()} == accepted
        versions = sum(len(m.versions) for m in doc.models.values())
        again = Scanner(config).reconcile([tree / "gnn_files"])
        assert again.exit_code == 1
        assert not [o for o in again.outcomes if o.status in ("registered", "updated")]
        assert sum(len(m.versions) for m in load(tmp_path).models.values()) == versions

    def test_actinf_pomdp_agent(self, tree, tmp_path):
        """The canonical example has its name, version, counts and metadata file."""
        Scanner(config_for(tmp_path)).reconcile([tree / "gnn_files"])
        entry = load(tmp_path).models["actinf_pomdp_agent"]
        assert entry.model_name == "Active Inference POMDP Agent"
        assert entry.version == "1.0.0"
        assert entry.metadata["variables"] == 13
        assert entry.metadata["connections"] == 11
        meta_file = tmp_path / "out" / "actinf_pomdp_agent" / "actinf_pomdp_agent_metadata.json"
        assert json.loads(meta_file.read_text())["model_id"] == "actinf_pomdp_agent"

    def test_same_stem_across_roots(self, tree, tmp_path):
        """The two multi_agent_coordination files get two ids (the extra one is invalid)."""
        config = config_for(tmp_path, validate_before_register=False)
        report = Scanner(config).reconcile([tree / "gnn_files", tree / "extra"])
        ids = {Path(o.path).parent.name: o.model_ids for o in report.outcomes
               if Path(o.path).stem == "multi_agent_coordination"}
        assert ids == {"multiagent": ["multi_agent_coordination"],
                       "multi_agent_models": ["multi_agent_models__multi_agent_coordination"]}

"""The step-4 drop-in: the pipeline's call shape, its keywords, the module surface, logging."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest

import registry
from registry import FEATURES, ModelRegistry, get_module_info, process_model_registry
from registry.config import load_config
from registry.errors import ConfigError
from tests.test_scan import gnn_text, write

# The GNN pipeline's step-4 call, as its pipeline template makes it: the module's function with
# the step's logger and every keyword the template passes (query_ontology None when unset).
PIPELINE_STEP = textwrap.dedent("""
    import json, logging, sys
    from pathlib import Path
    from registry import process_model_registry

    target, out, result_file, configure = sys.argv[1:5]
    if configure == "yes":
        logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    logger = logging.getLogger("4_model_registry")
    result = process_model_registry(
        target_dir=Path(target), output_dir=Path(out), logger=logger,
        recursive=True, verbose=False, query_ontology=None, registry_path=None,
        pipeline_future_option=1)
    Path(result_file).write_text(json.dumps(result))
""")

UPSTREAM_KEYS = ("success", "processed_files", "successful_registrations", "registry_path",
                 "total_models", "matching_models")


def run_pipeline_step(tmp_path, target, *, configure: bool):
    out = tmp_path / "out"
    result_file = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-c", PIPELINE_STEP, str(target), str(out), str(result_file),
         "yes" if configure else "no"],
        capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(result_file.read_text()), out


def ontology_text(name: str, *, annotation: str = "A small test model.",
                  front: str | None = None) -> str:
    """A valid GNN file with a transition matrix B and an ontology annotation section."""
    text = gnn_text(name, annotation=annotation, front=front,
                    variables=("A[3,3,type=float]", "B[3,3,type=float]", "s[3,1,type=float]",
                               "o[3,1,type=float]"),
                    edges=("s>A", "A>o", "s>B"))
    return text.replace("## Footer", "## ActInfOntologyAnnotation\nA=LikelihoodMatrix\n"
                                     "B=TransitionMatrix\ns=HiddenState\no=Observation\n\n"
                                     "## Footer")


@pytest.mark.corpus
class TestPipelineCallShape:
    def test_pipeline_step_on_the_corpus(self, tmp_path, gnn_files):
        """The pipeline's call registers the corpus, returns its keys, prints nothing on stdout."""
        proc, result, out = run_pipeline_step(tmp_path, gnn_files, configure=False)
        assert proc.stdout == ""
        # The unknown keyword is warned about on the pipeline's logger (stdlib's last
        # resort handler: the pipeline configured no handler), not raised.
        assert "ignoring unknown option 'pipeline_future_option'" in proc.stderr
        assert "registry_written" not in proc.stderr  # our info events stay silent
        for key in UPSTREAM_KEYS:
            assert key in result, key
        saved = json.loads((out / "model_registry.json").read_text())
        live = sorted(mid for mid, m in saved["models"].items() if not m.get("deleted"))
        assert result["registry_path"] == str(out / "model_registry.json")
        assert result["total_models"] == len(live) > 20
        assert result["successful_registrations"] >= len(live)
        assert result["processed_files"] >= result["successful_registrations"]
        assert result["matching_models"] == live  # no term: every model matches
        assert result["success"] is (result["exit_code"] == 0)

    def test_events_reach_a_configured_application(self, tmp_path, gnn_files):
        """With stdlib logging configured (to stderr), our events appear there, not on stdout."""
        proc, result, _ = run_pipeline_step(tmp_path, gnn_files / "basics", configure=True)
        assert proc.stdout == ""
        assert result["total_models"] >= 1
        assert re.search(r"INFO:registry\.[a-z_.]+:event='file_processed'.*status='registered'",
                         proc.stderr)


class TestKeywords:
    def test_unknown_keyword_is_a_warning(self, tmp_path, caplog):
        """An unknown keyword is logged (through the given logger, else ours) and ignored."""
        write(tmp_path / "in" / "a.md", gnn_text("A"))
        caplog.set_level(logging.WARNING)
        step_logger = logging.getLogger("pipeline.step4")
        result = process_model_registry(tmp_path / "in", tmp_path / "out", logger=step_logger,
                                        brand_new_option=True, verbose=True)
        assert result["total_models"] == 1
        assert [(r.name, r.levelno) for r in caplog.records
                if "brand_new_option" in r.getMessage()] == [("pipeline.step4", logging.WARNING)]
        caplog.clear()
        ModelRegistry(tmp_path / "out", another_option="x")
        assert [r.name for r in caplog.records
                if "another_option" in r.getMessage()] == ["registry.api"]

    def test_misspelt_setting_in_toml_stays_an_error(self, tmp_path):
        """The lenient keywords do not weaken the config file: a typo there is refused."""
        config = write(tmp_path / "c.toml", "auto_verison = true\n")
        with pytest.raises(ConfigError, match="auto_verison"):
            load_config(config, environ={})

    def test_query_ontology_returns_exactly_the_matching_ids(self, tmp_path):
        """Ids whose record mentions the term, case-insensitively; another term, other ids."""
        models = tmp_path / "in"
        write(models / "onto.md", ontology_text("Onto Agent"))
        write(models / "dynamics.md", gnn_text("Toy", annotation="Transition dynamics."))
        write(models / "sub" / "tagged.md", gnn_text("Tagged", front="tags: [TRANSITION-study]"))
        write(models / "plain.md", gnn_text("Plain"))
        out = tmp_path / "out"
        found = process_model_registry(models, out, query_ontology="transition")
        assert found["matching_models"] == ["dynamics", "onto", "tagged"]
        found = process_model_registry(models, out, query_ontology="LikelihoodMatrix")
        assert found["matching_models"] == ["onto"]
        found = process_model_registry(models, out, query_ontology="no-such-term")
        assert found["matching_models"] == []
        assert ModelRegistry(out).matching_models("hiddenstate") == ["onto"]

    def test_recursive_false_scans_the_top_folder_only(self, tmp_path):
        """A flat scan registers the top folder's files; sub-folders are left alone."""
        models = tmp_path / "in"
        top = write(models / "top.md", gnn_text("Top"))
        write(models / "deep" / "nested.md", gnn_text("Nested"))
        out = tmp_path / "out"
        result = process_model_registry(models, out, recursive=False)
        assert (result["successful_registrations"], result["total_models"]) == (1, 1)
        assert ModelRegistry(out).models.keys() == {"top"}
        process_model_registry(models, out, recursive=True)
        assert ModelRegistry(out).models.keys() == {"top", "nested"}
        top.unlink()
        result = process_model_registry(models, out, recursive=False)
        registry_ = ModelRegistry(out)
        assert registry_.models["top"].state == "removed"
        assert registry_.models["nested"].state == "active"  # not in the flat scan's reach

    def test_recursive_false_on_a_missing_folder_is_reported(self, tmp_path):
        """A missing target is an error in the summary, as with a recursive scan."""
        result = process_model_registry(tmp_path / "missing", tmp_path / "out", recursive=False)
        assert result["success"] is False
        assert result["errors"][0]["message"] == "directory does not exist"


class TestModuleSurface:
    def test_package_exports_the_upstream_names(self):
        """``from registry import ...`` gives the API, __version__, FEATURES, get_module_info."""
        assert registry.ModelRegistry is ModelRegistry
        assert registry.__version__ == metadata.version("gnn-registry")
        for key in ("model_versioning", "registry_management", "metadata_handling",
                    "mcp_integration"):
            assert FEATURES[key] is True
        assert all(isinstance(v, bool) for v in FEATURES.values())
        info = get_module_info()
        assert info["name"] == "model_registry"
        assert info["version"] == registry.__version__
        assert info["features"] == FEATURES
        assert info["features"] is not FEATURES
        assert info["description"]
        with pytest.raises(AttributeError):
            _ = registry.no_such_name  # type: ignore[attr-defined]

    def test_importing_the_package_prints_nothing(self, tmp_path):
        """A program that configures no logging gets nothing from us on stdout or stderr."""
        write(tmp_path / "in" / "a.md", gnn_text("A"))
        script = ("import sys\nfrom registry import ModelRegistry\n"
                  "r = ModelRegistry(sys.argv[1])\nassert r.register_model(sys.argv[2])\n"
                  "r.models['a'].add_tag('x')\n")
        proc = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "out"), str(tmp_path / "in" / "a.md")],
            capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert (proc.stdout, proc.stderr) == ("", "")

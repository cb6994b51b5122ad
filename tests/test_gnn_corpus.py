"""Acceptance on the real corpus (``../shared/corpus``; skipped when it is absent).

What must hold (see ``docs/validation.md``): every file the reference accepts, and the two
``precision/`` files, validates without error; the four files with real shape mistakes fail
with GNN-E002 at the offending statement; the two grouped-edge files are decided on their
merits; counts match the MANIFEST; the scaling-study files share one signature.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pytest

from registry.gnn import check_bytes, extract, parse_bytes, parse_text, signature, validate
from registry.gnn.model import Finding, GnnFile

pytestmark = pytest.mark.corpus


@cache
def _parsed(path: Path) -> tuple[GnnFile, tuple[Finding, ...]]:
    """Parse and validate a corpus file once per test session."""
    gnn = parse_bytes(path.read_bytes())
    return gnn, validate(gnn)


def manifest(corpus_dir: Path) -> list[dict[str, str]]:
    """The rows of MANIFEST.tsv."""
    with (corpus_dir / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def errors(path: Path) -> list[Finding]:
    """The error findings of a corpus file."""
    return [f for f in _parsed(path)[1] if f.severity == "error"]


def statement_line(path: Path, prefix: str) -> int:
    """1-based line of the InitialParameterization statement of ``path`` starting ``prefix``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("## InitialParameterization")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    hits = [no + 1 for no in range(start + 1, end) if lines[no].startswith(prefix)]
    assert len(hits) == 1, (path, prefix, hits)
    return hits[0]


class TestAccepted:
    """Files the reference accepts, and the precision files, have no error."""

    def test_reference_valid_files_have_no_error(self, corpus_dir: Path) -> None:
        """Every MANIFEST row with ref_valid=yes validates without error."""
        rows = [r for r in manifest(corpus_dir) if r["ref_valid"] == "yes"]
        assert len(rows) == 21
        failing = {r["path"]: [(f.code, f.line) for f in errors(corpus_dir / r["path"])]
                   for r in rows}
        assert {path: found for path, found in failing.items() if found} == {}

    def test_precision_files_have_no_error(self, gnn_files: Path) -> None:
        """Greek names (γ, ω, β) are declared and connected without error."""
        paths = sorted((gnn_files / "precision").glob("*.md"))
        assert len(paths) == 2
        for path in paths:
            assert errors(path) == [], path.name

    def test_counts_match_manifest(self, corpus_dir: Path) -> None:
        """Variables and connection statements match the MANIFEST for every file."""
        mismatches = {}
        for row in manifest(corpus_dir):
            gnn, _ = _parsed(corpus_dir / row["path"])
            data = extract(gnn, gnn.models[0], sha256=row["sha256"])
            got = (data["variables"], data["connections"])
            want = (int(row["n_variables"]), int(row["n_connections"]))
            if got != want:
                mismatches[row["path"]] = (got, want)
        assert mismatches == {}

    def test_actinf_pomdp_agent_counts(self, gnn_files: Path) -> None:
        """The canonical example yields 13 variables and 11 connections."""
        gnn, _ = _parsed(gnn_files / "discrete" / "actinf_pomdp_agent.md")
        data = extract(gnn, gnn.models[0], sha256="0" * 64)
        assert (data["variables"], data["connections"]) == (13, 11)
        assert data["model_name"] == "Active Inference POMDP Agent"


class TestRejected:
    """Files with real shape mistakes fail with GNN-E002 at the offending statement."""

    @pytest.mark.parametrize(("relpath", "prefix"), [
        ("continuous/continuous_navigation.md", "F="),
        ("continuous/predictive_coding_agent.md", "F="),
        ("hierarchical/hierarchical_pomdp.md", "C_level2="),
        ("hierarchical/temporal_hierarchy.md", "B_level2="),
    ])
    def test_shape_mistake(self, gnn_files: Path, relpath: str, prefix: str) -> None:
        """The only error is GNN-E002, at the line where the literal's statement starts."""
        path = gnn_files / relpath
        found = errors(path)
        assert [(f.code, f.line) for f in found] == [("GNN-E002", statement_line(path, prefix))]
        assert prefix.rstrip("=") in found[0].message

    def test_extra_fixture_fails(self, corpus_dir: Path) -> None:
        """The extra/ fixture lacks GNNSection and GNNVersionAndFlags (GNN-E001 x2)."""
        path = corpus_dir / "extra" / "multi_agent_models" / "multi_agent_coordination.md"
        missing = [f for f in errors(path) if f.code == "GNN-E001"]
        assert len(missing) >= 2
        assert all(f.line is None for f in missing)
        assert any("GNNSection" in f.message for f in missing)
        assert any("GNNVersionAndFlags" in f.message for f in missing)
        assert not check_bytes(path.read_bytes()).ok


class TestDecisions:
    """The two files decided on their merits (see docs/validation.md)."""

    def test_time_varying_dynamics_is_valid(self, gnn_files: Path) -> None:
        """s_t+1 is a declared name and (s_t, u_t)>B_t expands to two edges: no error."""
        path = gnn_files / "discrete" / "time_varying_dynamics.md"
        gnn, found = _parsed(path)
        assert [f for f in found if f.severity == "error"] == []
        model = gnn.models[0]
        assert model.variable("s_t+1") is not None
        edges = {(c.source, c.target) for c in model.connections}
        assert {("s_t", "B_t"), ("u_t", "B_t"), ("B_t", "s_t+1")} <= edges

    def test_factorized_posterior_is_valid(self, gnn_files: Path) -> None:
        """B_f1 declared [2,2] and written as one 2x2 slice (1x2x2) is accepted."""
        path = gnn_files / "structured" / "factorized_posterior.md"
        gnn, found = _parsed(path)
        assert [f for f in found if f.severity == "error"] == []
        (b_f1,) = [p for p in gnn.models[0].parameters if p.name == "B_f1"]
        assert b_f1.shape == (1, 2, 2)

    def test_factorized_posterior_real_mismatch_would_fail(self, gnn_files: Path) -> None:
        """The same file with B_f1 declared [2,3] fails at the B_f1 statement."""
        path = gnn_files / "structured" / "factorized_posterior.md"
        text = path.read_text(encoding="utf-8").replace("B_f1[2,2,", "B_f1[2,3,")
        found = [f for f in validate(parse_text(text)) if f.code == "GNN-E002"]
        assert [f.line for f in found] == [statement_line(path, "B_f1=")]


class TestScalingStudy:
    """The generated scaling files: big literals are checked, and they share a signature."""

    def test_big_literals_are_checked(self, gnn_files: Path) -> None:
        """Changing N64's declarations makes its 2.6 MB B and its A literal fail GNN-E002."""
        path = gnn_files / "pymdp_scaling_study" / "pymdp_scaling_N64_T100.md"
        assert errors(path) == []
        text = path.read_text(encoding="utf-8")
        text = text.replace("B[64,64,64,", "B[64,64,63,").replace("A[64,64,", "A[64,63,")
        found = [f.line for f in validate(parse_text(text)) if f.code == "GNN-E002"]
        assert found == [statement_line(path, "A="), statement_line(path, "B=")]

    def test_one_signature_for_the_family(self, gnn_files: Path) -> None:
        """N4..N64 share one signature; actinf_pomdp_agent has another."""
        paths = sorted((gnn_files / "pymdp_scaling_study").glob("pymdp_scaling_N*_T100.md"))
        assert len(paths) == 5
        signatures = {signature(_parsed(p)[0].models[0]) for p in paths}
        assert len(signatures) == 1
        agent = _parsed(gnn_files / "discrete" / "actinf_pomdp_agent.md")[0].models[0]
        assert signature(agent) not in signatures

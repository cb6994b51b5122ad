"""The analysis of our own examples and of generated (and damaged) files is exactly as pinned.

``tests/data/analysis_snapshot.json`` holds, per input, the SHA-256 of the input and of its
complete analysis dump (``bench/dump_analysis.py``: the parsed file and :func:`analyse` in
every mode, findings, metadata, structure and signature included), written before the
analysis was optimised. Any change of output fails here, naming the inputs; regenerate the
file (``python bench/dump_analysis.py --snapshot tests/data/analysis_snapshot.json``) only
when a change of findings or metadata is intended.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import dump_analysis  # noqa: E402 - a script beside the project, not a package

SNAPSHOT = Path(__file__).resolve().parent / "data" / "analysis_snapshot.json"


@pytest.fixture(name="pinned", scope="module")
def _pinned() -> dict[str, list[str]]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_generated_inputs_are_the_pinned_ones(pinned):
    """The generated and damaged inputs are still the bytes the snapshot was made from."""
    current = {label: dump_analysis.digest(data)
               for label, data in dump_analysis.snapshot_inputs()}
    generated = [label for label in pinned if not label.startswith("examples/")]
    assert len(generated) == dump_analysis.SNAPSHOT_GENERATED + dump_analysis.SNAPSHOT_MUTANTS
    assert [label for label in generated if current.get(label) != pinned[label][0]] == []


def test_analysis_output_is_unchanged(pinned):
    """Every input whose bytes are unchanged gives the pinned analysis, byte for byte."""
    changed: list[str] = []
    compared = 0
    for label, data in dump_analysis.snapshot_inputs():
        entry = pinned.get(label)
        if entry is None or entry[0] != dump_analysis.digest(data):
            continue  # an example edited since the snapshot: nothing pinned to compare
        compared += 1
        if dump_analysis.digest(dump_analysis.dump_one(data).encode("utf-8")) != entry[1]:
            changed.append(label)
    assert compared >= dump_analysis.SNAPSHOT_GENERATED + dump_analysis.SNAPSHOT_MUTANTS
    assert changed == [], f"analysis output changed for {len(changed)} inputs: {changed[:10]}"


def test_dump_covers_findings_and_metadata():
    """The dump the snapshot hashes shows findings, metadata, structure and signature."""
    text = dump_analysis.dump_one(b"## ModelName\nx\n\n## StateSpaceBlock\nA[2,type=float]\n")
    for needle in ("code='GNN-", "'signature':", "'structure':", "models=(ModelAnalysis("):
        assert needle in text

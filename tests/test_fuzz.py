"""Fuzzing the parser, validator and metadata extraction: only the project's own errors.

Profiles: ``GNNR_FUZZ_EXAMPLES`` sets the examples per property (300 in the normal suite,
100 for the slower mutated-text property, or ``GNNR_FUZZ_MUTATED_EXAMPLES``);
``bench/reliability_long.py`` runs the long profile. Any exception other than
:class:`registry.errors.RegistryError` (and its subclasses) fails the property.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.errors import RegistryError
from registry.gnn import check_bytes, extract, signature, structure
from tests.strategies import gnn_texts

EXAMPLES = int(os.environ.get("GNNR_FUZZ_EXAMPLES", "300"))
"""Examples per property on raw bytes and token soups."""

MUTATED_EXAMPLES = int(os.environ.get("GNNR_FUZZ_MUTATED_EXAMPLES", str(max(EXAMPLES // 3, 1))))
"""Examples of mutated GNN texts (each costs ~40 ms to generate, so fewer by default)."""


def _profile(examples: int) -> settings:
    # The normal suite is derandomized (reproducible); long runs explore with random seeds.
    return settings(max_examples=examples, deadline=None, derandomize=examples <= 1000,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


FUZZ = _profile(EXAMPLES)
FUZZ_MUTATED = _profile(MUTATED_EXAMPLES)

HOSTILE_PIECES = [
    "(", ")", "{", "}", "[", "]", ",", "=", "-", ">", "<", "|", ":", "#", "##", "###",
    "\n", "\r\n", "\r", "\x00", "\ufeff", "\u202e", "\u0301", "\U0001f600", "\\", "'", '"',
    "## StateSpaceBlock\n", "## Connections\n", "## InitialParameterization\n",
    "## ModelName\n", "## Time\n", "---\n", "s_f0[", "]", "type=", "1e999", "-0", "nan",
    "π", "γ", "__import__('os').system('true')", "((((((((((", "))))))))))", ",,,,,,,,",
    "->->->", "s>o>s", "A={(1,2),(3,4)}", "x" * 300,
]


def check(data: bytes) -> None:
    """Parse, validate and describe ``data``; only RegistryError may escape."""
    try:
        result = check_bytes(data)
    except RegistryError:
        return
    sha = hashlib.sha256(data).hexdigest()
    for finding in result.findings:
        assert finding.code
        assert finding.message
        assert finding.line is None or finding.line >= 0
    for model in result.gnn.models:
        meta = extract(result.gnn, model, sha256=sha)
        json.dumps(meta)  # the registry stores it as JSON
        json.dumps(structure(model))
        assert isinstance(signature(model), str)


@st.composite
def mutated_gnn(draw: st.DrawFn) -> bytes:
    """A generated GNN text with a few random edits (inserts, deletions, line shuffles)."""
    text = draw(gnn_texts())
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["insert", "delete", "dup_line", "swap", "truncate"]))
        pos = draw(st.integers(0, len(text)))
        if kind == "insert":
            piece = draw(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=20)))
            text = text[:pos] + piece * draw(st.integers(1, 50)) + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)):]
        elif kind == "truncate":
            text = text[:pos]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "dup_line":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


class TestFuzz:
    @FUZZ
    @given(st.binary(max_size=4096))
    def test_arbitrary_bytes(self, data: bytes) -> None:
        """Arbitrary bytes never raise anything but the project's own errors."""
        check(data)

    @FUZZ_MUTATED
    @given(mutated_gnn())
    def test_mutated_gnn_texts(self, data: bytes) -> None:
        """GNN-like texts with random damage never raise anything but the project's errors."""
        check(data)

    @FUZZ
    @given(st.lists(st.sampled_from(HOSTILE_PIECES), max_size=200))
    def test_hostile_token_soup(self, pieces: list[str]) -> None:
        """A soup of GNN syntax fragments never raises anything but the project's errors."""
        check("".join(pieces).encode("utf-8", "surrogatepass"))


FOUND_BY_FUZZING = {
    "stray_front_matter_rule": b"---\n---\n(\n---\n## StateSpaceBlock\n",
    "empty_front_matter_then_block": (
        b'---\n---\nauthor: ""\n---\n# GNN Example: A\n## GNNSection\nA\n## ModelName\nA\n'
        b"## StateSpaceBlock\ns[2]\n## Connections\ns>s\n"),
}
"""Inputs the long fuzz run found (kept as fixed examples so the normal suite checks them)."""


class TestFuzzFindings:
    @pytest.mark.parametrize("name", sorted(FOUND_BY_FUZZING))
    def test_found_input_parses(self, name: str) -> None:
        """An input found by the long fuzz run raises nothing but the project's errors."""
        check(FOUND_BY_FUZZING[name])

"""Tests for registry.gnn.render: canonical text and the parse/render round trip."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.gnn.model import GnnFile
from registry.gnn.parser import parse_bytes, parse_text
from registry.gnn.render import render, render_front_matter
from tests import strategies

LINE_FIELDS = frozenset({"line", "end_line", "first_line", "last_line", "line_count"})


def without_lines(value: Any) -> Any:
    """``value`` with every line-number field set to 0, recursively (dataclasses, tuples)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: 0 if f.name in LINE_FIELDS else without_lines(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(without_lines(item) for item in value)
    return value


def round_trip(gnn: GnnFile) -> GnnFile:
    """Parse the rendering of ``gnn``."""
    return parse_text(render(gnn))


def _values(gnn: GnnFile) -> list[tuple[Any, ...]]:
    """The parsed values of every model, without lines, sections and findings."""
    return [
        without_lines((m.variables, m.connections, m.parameters, m.time, m.annotations,
                       m.model_parameters, m.name))
        for m in gnn.models
    ]


class TestRender:
    """What the canonical text looks like."""

    def test_structured_sections(self, data_dir: Path) -> None:
        """Structured sections are rebuilt one value per line, free text kept as written."""
        gnn = parse_bytes((data_dir / "parser_greek_grouped.md").read_bytes())
        text = render(gnn)
        assert "s>B\nu>B\n" in text
        assert "γ>π:precision\n" in text
        assert "D[3,type=float,default=uniform]\n" in text
        assert "A[3,3,type=float]  # likelihood\n" in text
        assert "π=PolicyVector\n" in text
        assert "num_actions: 2\n" in text
        assert "---\nA horizontal rule inside prose" in text
        assert "# a comment inside the literal" not in text
        assert text.endswith("## Signature\nnone\n")

    def test_front_matter_and_models(self, data_dir: Path) -> None:
        """Front matter is rendered first and models are separated by '---'."""
        gnn = parse_bytes((data_dir / "parser_front_matter_multi.md").read_bytes())
        text = render(gnn)
        assert text.startswith("---\nauthor: Ada Lovelace\nversion: 2.3.0\ntags:\n  - pomdp\n")
        again = parse_text(text)
        assert again.front_matter == gnn.front_matter
        assert _values(again) == _values(gnn)

    def test_multi_model_without_front_matter(self) -> None:
        """A multi-model file gets an empty front matter so its separators always split."""
        model = "## GNNSection\nX\n## StateSpaceBlock\na[2]\n"
        gnn = parse_text(model + "---\n" + model)
        assert len(gnn.models) == 2
        text = render(gnn)
        assert text.startswith("---\n---\n")
        assert len(parse_text(text).models) == 2

    @pytest.mark.parametrize(
        ("values", "expected"),
        [
            ({"a": ""}, ["a:"]),
            ({"a": []}, ["a: []"]),
            ({"a": " padded"}, ['a: " padded"']),
            ({"a": 'say "hi" #1'}, ["a: 'say \"hi\" #1'"]),
            ({"a": "[not a list]"}, ['a: "[not a list]"']),
        ],
    )
    def test_front_matter_quoting(self, values: dict[str, Any], expected: list[str]) -> None:
        """Scalars are quoted exactly when reading them back plain would change them."""
        lines = render_front_matter(values)
        assert lines[1:-1] == expected
        assert parse_text("\n".join(lines) + "\n## A\n").front_matter == values

    def test_empty_file(self) -> None:
        """A file with no models and no front matter renders to the empty string."""
        assert render(parse_text("")) == ""


@pytest.mark.corpus
class TestCorpusRoundTrip:
    """Rendering corpus files keeps every parsed value."""

    def test_values_survive(self, corpus_dir: Path) -> None:
        """parse(render(parse(f))) has the same values as parse(f) for every corpus file."""
        for path in sorted((corpus_dir / "gnn_files").rglob("*.md")):
            if "N64" in path.name or "N32" in path.name:
                continue  # large; covered by the smaller scaling files
            gnn = parse_bytes(path.read_bytes())
            again = round_trip(gnn)
            assert _values(again) == _values(gnn), path.name
            assert again.findings == (), path.name
            assert again.models[0].findings == (), path.name


class TestRoundTripProperty:
    """parse(render(parse(render(m)))) equals parse(render(m)) apart from line numbers."""

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(strategies.gnn_texts())
    def test_generated_files(self, text: str) -> None:
        """For generated files the round trip is stable, and so is the rendered text."""
        first = round_trip(parse_text(text))
        second = round_trip(first)
        assert without_lines(second) == without_lines(first)
        assert render(second) == render(first)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.sampled_from([
        "## StateSpaceBlock", "## Connections", "## InitialParameterization", "## Time",
        "## ModelParameters", "## ActInfOntologyAnnotation", "## GNNSection", "## Footer",
        "---", "", "A[3", "B[2,π,type=float] # c", "a->b:x", "(a,b)>c", "A={(1,", ")}",
        "x: y", "k=v", "# c", "γ[π]", "s_t+1-o", "{", "A = (1)", "prose -- text", "Dynamic",
        "author: me", "  - item",
    ]), max_size=25).map("\n".join))
    def test_gnn_like_text(self, text: str) -> None:
        """For text made of GNN fragments the round trip is stable too."""
        first = round_trip(parse_text(text))
        second = round_trip(first)
        assert without_lines(second) == without_lines(first)
